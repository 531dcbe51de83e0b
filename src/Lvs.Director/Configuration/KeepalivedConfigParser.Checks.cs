using System.Globalization;
using System.Text;
using Lvs.HealthChecks;

namespace Lvs.Director.Configuration;

/// <content>
/// The part of <see cref="KeepalivedConfigParser"/> that reads the health checkers of a real server (TCP_CHECK, HTTP_GET, SSL_GET, DNS_CHECK, UDP_CHECK, PING_CHECK, MISC_CHECK, SMTP_CHECK) and their keywords.
/// </content>
public static partial class KeepalivedConfigParser
{
    /// <content>The parse state's handlers for this part.</content>
    private sealed partial class Context
    {
        private void Check(RealServerBuilder rs, KeepalivedStatement st)
        {
            var kind = st.Keyword switch
            {
                "HTTP_GET" => KeepalivedCheckKind.HttpGet,
                "SSL_GET" => KeepalivedCheckKind.SslGet,
                "DNS_CHECK" => KeepalivedCheckKind.Dns,
                "UDP_CHECK" => KeepalivedCheckKind.Udp,
                "PING_CHECK" => KeepalivedCheckKind.Ping,
                "MISC_CHECK" => KeepalivedCheckKind.Misc,
                "SMTP_CHECK" => KeepalivedCheckKind.Smtp,
                _ => KeepalivedCheckKind.Tcp,
            };
            var check = new CheckBuilder(st, kind);
            int before = Errors.Count;
            foreach (var child in st.Block!)
            {
                CheckKeyword(check, child);
            }

            if (kind is KeepalivedCheckKind.HttpGet or KeepalivedCheckKind.SslGet && check.Urls.Count == 0)
            {
                Error(st, $"{st.Keyword} has no url");
            }

            if (kind == KeepalivedCheckKind.Misc && check.MiscPath is null)
            {
                Error(st, "MISC_CHECK has no misc_path");
            }

            if (kind == KeepalivedCheckKind.Udp && check.MinReply > check.MaxReply)
            {
                Error(st, $"UDP_CHECK min_reply_length {check.MinReply} is above max_reply_length {check.MaxReply}");
            }

            if (kind == KeepalivedCheckKind.Ping && check.BindTo is { } bindTo && bindTo.IsIPv4 != (check.ConnectIp ?? rs.Endpoint.Address).IsIPv4)
            {
                Error(st, $"PING_CHECK bindto {bindTo} and the address pinged {check.ConnectIp ?? rs.Endpoint.Address} are not of the same address family");
            }

            if (kind == KeepalivedCheckKind.Smtp && check.Hosts.Count > 0)
            {
                SmtpHosts(rs, check, before);
                return;
            }

            if (Errors.Count == before)
            {
                rs.Checks.Add(check);
            }
        }

        /// <summary>
        /// The checkers of an SMTP_CHECK with <c>host { }</c> blocks, as check_smtp.c <c>smtp_check_end_handler</c>: each
        /// host is a checker of its own, with the block's values (helo_name, timing, connection) and the host's
        /// connection options over them; the block's own target is checked as well only when the block names one
        /// (connect_ip, connect_port, bindto or bind_port), else the hosts replace it.
        /// </summary>
        private void SmtpHosts(RealServerBuilder rs, CheckBuilder check, int before)
        {
            var checks = new List<CheckBuilder>();
            if (check.ConnectIp is not null || check.ConnectPort is not null || check.BindTo is not null || check.BindPort != 0)
            {
                checks.Add(check);
            }

            checks.AddRange(check.Hosts.Select(check.ForHost));
            if (Errors.Count == before)
            {
                rs.Checks.AddRange(checks);
            }
        }

        /// <summary>An SMTP_CHECK <c>host { }</c> block: its connection options only, merged when the checker's block ends.</summary>
        private void SmtpHost(CheckBuilder check, KeepalivedStatement st)
        {
            Notice(st, "The SMTP_CHECK host block is deprecated (keepalived): each host is checked by a checker of its own; better write one SMTP_CHECK per host");
            var host = new CheckBuilder(st, KeepalivedCheckKind.Smtp);
            foreach (var child in st.Block!)
            {
                if (child.Keyword is "connect_ip" or "connect_port" or "bindto" or "bind_port" or "connect_timeout" or "bind_if" or "fwmark")
                {
                    CheckKeyword(host, child);
                }
                else
                {
                    Error(child, $"'{child.Keyword}' is not accepted in an SMTP_CHECK host block (only connect_ip, connect_port, bindto, bind_port and connect_timeout; set the others in SMTP_CHECK itself, or write one SMTP_CHECK per host)");
                }
            }

            check.Hosts.Add(host);
        }

        private void CheckKeyword(CheckBuilder check, KeepalivedStatement st)
        {
            if (st.Keyword == "host" && check.Kind == KeepalivedCheckKind.Smtp)
            {
                if (Block(st))
                {
                    SmtpHost(check, st);
                }

                return;
            }

            if (st.Keyword == "url" && check.Kind is KeepalivedCheckKind.HttpGet or KeepalivedCheckKind.SslGet)
            {
                if (Block(st))
                {
                    Url(check, st);
                }

                return;
            }

            if (!NoBlock(st))
            {
                return;
            }

            bool network = check.Kind != KeepalivedCheckKind.Misc;
            check.Words.Add(string.Join(' ', st.Words));
            switch (st.Keyword)
            {
                case "connect_ip" when network:
                    if (Values(st, 1, 1) && Address(st, 1, out var ip))
                    {
                        check.ConnectIp = ip;
                    }

                    return;
                case "connect_port" or "bind_port" when check.Kind == KeepalivedCheckKind.Ping:
                    // keepalived takes them (install_checker_common_keywords) and check_ping.c never uses them: an ICMP echo has no ports.
                    Error(st, $"{st.Keyword} does not apply to PING_CHECK (an ICMP echo has no ports)");
                    return;
                case "connect_port" when network:
                    if (Values(st, 1, 1) && Port(st, 1, out ushort port))
                    {
                        check.ConnectPort = port;
                    }

                    return;
                case "bindto" when network:
                    if (Values(st, 1, 1) && Address(st, 1, out var bind))
                    {
                        check.BindTo = bind;
                        if (check.Kind == KeepalivedCheckKind.Ping)
                        {
                            // check_ping.c never binds its socket: keepalived sends from the address the route chooses.
                            Notice(st, $"PING_CHECK bindto: the echo request is sent from {bind} (keepalived ignores bindto for PING_CHECK)");
                        }
                    }

                    return;
                case "bind_port" when network:
                    if (Values(st, 1, 1) && Port(st, 1, out ushort bindPort))
                    {
                        check.BindPort = bindPort;
                    }

                    return;
                case "connect_timeout" when network:
                    if (Timer(st, true, out var connect))
                    {
                        // check_api.c: "do not allow 0 timeout" (it becomes one second).
                        check.Timing.ConnectTimeout = connect == TimeSpan.Zero ? TimeSpan.FromSeconds(1) : connect;
                    }

                    return;
                case "bind_if" or "fwmark" when network:
                    Error(st, $"{st.Keyword} (checks bound to an interface or marked) is not supported by this director");
                    return;
                case "retry":
                    if (Values(st, 1, 1) && UInt(st, 1, 0, int.MaxValue, "retry", out long retry))
                    {
                        check.Timing.Retry = (int)retry;
                    }

                    return;
                case "nb_get_retry" when check.Kind is KeepalivedCheckKind.HttpGet or KeepalivedCheckKind.SslGet:
                    if (Values(st, 1, 1) && UInt(st, 1, 0, int.MaxValue, "nb_get_retry", out long getRetry))
                    {
                        Notice(st, "nb_get_retry is deprecated - please use 'retry'");
                        check.Timing.Retry = (int)getRetry;
                    }

                    return;
                case "delay_before_retry":
                    if (Timer(st, true, out var dbr))
                    {
                        check.Timing.DelayBeforeRetry = dbr;
                    }

                    return;
                case "warmup":
                    if (Timer(st, true, out var warmup))
                    {
                        check.Timing.Warmup = warmup;
                    }

                    return;
                case "delay_loop":
                    if (Timer(st, false, out var delay))
                    {
                        check.Timing.DelayLoop = delay;
                    }

                    return;
                case "alpha":
                    if (Bool(st, out bool alpha))
                    {
                        check.Alpha = alpha;
                    }

                    return;
                case "log_all_failures":
                    if (Bool(st, out _))
                    {
                        Notice(st, "log_all_failures: every failed check is logged by the health monitor at debug level already: skipped");
                    }

                    return;
            }

            switch (check.Kind)
            {
                case KeepalivedCheckKind.HttpGet or KeepalivedCheckKind.SslGet:
                    HttpKeyword(check, st);
                    break;
                case KeepalivedCheckKind.Dns:
                    DnsKeyword(check, st);
                    break;
                case KeepalivedCheckKind.Udp:
                    UdpKeyword(check, st);
                    break;
                case KeepalivedCheckKind.Misc:
                    MiscKeyword(check, st);
                    break;
                case KeepalivedCheckKind.Smtp:
                    SmtpKeyword(check, st);
                    break;
                default:
                    Error(st, $"unknown keyword '{st.Keyword}' in {check.Statement.Keyword}");
                    break;
            }
        }

        private void HttpKeyword(CheckBuilder check, KeepalivedStatement st)
        {
            switch (st.Keyword)
            {
                case "virtualhost":
                    if (Values(st, 1))
                    {
                        check.VirtualHost = st.JoinedValues;
                    }

                    break;
                case "http_protocol":
                    if (Values(st, 1, 1))
                    {
                        switch (st[1])
                        {
                            case "1.0":
                                check.HttpVersion = System.Net.HttpVersion.Version10;
                                break;
                            case "1.1":
                                check.HttpVersion = System.Net.HttpVersion.Version11;
                                break;
                            case "1.0C" or "1.0c":
                                // HTTP/1.0 with "Connection: close": the checker's HTTP/1.0 request closes anyway.
                                check.HttpVersion = System.Net.HttpVersion.Version10;
                                Notice(st, "http_protocol 1.0C is sent as HTTP/1.0 (the connection is closed after the answer either way)");
                                break;
                            default:
                                Error(st, $"Invalid http_protocol version {st[1]}");
                                break;
                        }
                    }

                    break;
                case "enable_sni":
                    if (Bool(st, out bool sni))
                    {
                        check.EnableSni = sni;
                    }

                    break;
                case "fast_recovery":
                    if (Bool(st, out _))
                    {
                        Notice(st, "fast_recovery: the URLs of a check are always fetched one after the other without delay here: skipped");
                    }

                    break;
                case "tls_compliant" or "sni_name":
                    Error(st, $"{st.Keyword} is not supported by this director");
                    break;
                default:
                    Error(st, $"unknown keyword '{st.Keyword}' in {check.Statement.Keyword}");
                    break;
            }
        }

        private void Url(CheckBuilder check, KeepalivedStatement st)
        {
            string? path = null;
            string? digest = null;
            string? regex = null;
            string? virtualHost = null;
            bool noMatch = false;
            var codes = new List<HttpStatusCodeRange>();
            var words = new StringBuilder("url {");
            foreach (var child in st.Block!)
            {
                if (!NoBlock(child))
                {
                    continue;
                }

                words.Append(' ').Append(string.Join(' ', child.Words)).Append(';');
                switch (child.Keyword)
                {
                    case "path":
                        if (Values(child, 1))
                        {
                            path = child.JoinedValues;
                        }

                        break;
                    case "digest":
                        if (Values(child, 1, 1))
                        {
                            if (digest is not null)
                            {
                                Error(child, $"Digest '{child[1]}' is a duplicate");
                            }
                            else if (child[1].Length != 32 || !child[1].All(char.IsAsciiHexDigit))
                            {
                                Error(child, $"digest '{child[1]}' is not 32 hexadecimal digits");
                            }
                            else
                            {
                                digest = child[1].ToLowerInvariant();
                            }
                        }

                        break;
                    case "status_code":
                        if (Values(child, 1))
                        {
                            for (int i = 1; i <= child.ValueCount; i++)
                            {
                                try
                                {
                                    codes.Add(HttpStatusCodeRange.Parse(child[i]));
                                }
                                catch (FormatException)
                                {
                                    Error(child, $"Invalid HTTP_GET status code '{child[i]}'");
                                }
                            }
                        }

                        break;
                    case "virtualhost":
                        if (Values(child, 1))
                        {
                            virtualHost = child.JoinedValues;
                        }

                        break;
                    case "regex":
                        if (Values(child, 1, 1))
                        {
                            regex = child[1];
                        }

                        break;
                    case "regex_no_match":
                        if (Values(child, 0, 0))
                        {
                            noMatch = true;
                        }

                        break;
                    case "regex_options" or "regex_min_offset" or "regex_max_offset" or "regex_stack":
                        Error(child, $"{child.Keyword} (PCRE2 options) is not supported by this director (regex uses .NET regular expressions)");
                        break;
                    default:
                        Error(child, $"unknown keyword '{child.Keyword}' in url");
                        break;
                }
            }

            if (path is null)
            {
                Error(st, "HTTP/SSL_GET checker url has no path");
                return;
            }

            if (noMatch && regex is null)
            {
                Error(st, "regex_no_match without regex");
                return;
            }

            check.Words.Add(words.Append(" }").ToString());
            check.Urls.Add(new HttpUrlCheck(path)
            {
                Digest = digest,
                StatusCodes = codes.Count > 0 ? codes : [HttpStatusCodeRange.Success],
                Regex = regex,
                RegexNoMatch = noMatch,
                VirtualHost = virtualHost,
            });
        }

        private void DnsKeyword(CheckBuilder check, KeepalivedStatement st)
        {
            switch (st.Keyword)
            {
                case "type":
                    if (Values(st, 1, 1))
                    {
                        string type = st[1].ToUpperInvariant();
                        if (DnsTypes.Contains(type))
                        {
                            check.DnsType = type;
                        }
                        else
                        {
                            Error(st, $"DNS_CHECK type '{st[1]}' is not one of A, NS, CNAME, SOA, MX, TXT, AAAA");
                        }
                    }

                    break;
                case "name":
                    if (Values(st, 1, 1))
                    {
                        check.DnsName = st[1];
                    }

                    break;
                default:
                    Error(st, $"unknown keyword '{st.Keyword}' in DNS_CHECK");
                    break;
            }
        }

        private void UdpKeyword(CheckBuilder check, KeepalivedStatement st)
        {
            switch (st.Keyword)
            {
                case "payload":
                    if (Values(st, 1) && Hex(st, false, out var payload))
                    {
                        check.Payload = payload;
                    }

                    break;
                case "require_reply":
                    check.RequireReply = true;
                    if (st.ValueCount > 0 && Hex(st, true, out var reply))
                    {
                        check.ExpectedReply = reply;
                    }

                    break;
                case "min_reply_length":
                    if (Values(st, 1, 1) && UInt(st, 1, 0, 65535, "min_reply_length", out long min))
                    {
                        check.MinReply = (int)min;
                    }

                    break;
                case "max_reply_length":
                    if (Values(st, 1, 1) && UInt(st, 1, 0, 65535, "max_reply_length", out long max))
                    {
                        check.MaxReply = (int)max;
                    }

                    break;
                default:
                    Error(st, $"unknown keyword '{st.Keyword}' in UDP_CHECK");
                    break;
            }
        }

        /// <summary>
        /// keepalived's HEX_STR: each word read two digits at a time from its left, a last lone digit one byte
        /// ("Ab12f 3" is AB 12 0F 03).
        /// </summary>
        private bool Hex(KeepalivedStatement st, bool reply, out byte[] bytes)
        {
            var result = new List<byte>();
            bytes = [];
            for (int i = 1; i <= st.ValueCount; i++)
            {
                string word = st[i];
                if (reply && word.AsSpan().IndexOfAny('x', 'X') >= 0)
                {
                    Error(st, "require_reply with X (don't care) digits is not supported by this director");
                    return false;
                }

                if (!word.All(char.IsAsciiHexDigit))
                {
                    Error(st, $"{st.Keyword} '{word}' is not hexadecimal");
                    return false;
                }

                for (int j = 0; j < word.Length; j += 2)
                {
                    int length = Math.Min(2, word.Length - j);
                    result.Add(byte.Parse(word.AsSpan(j, length), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
                }
            }

            bytes = [.. result];
            return true;
        }

        private void SmtpKeyword(CheckBuilder check, KeepalivedStatement st)
        {
            if (st.Keyword != "helo_name")
            {
                Error(st, $"unknown keyword '{st.Keyword}' in SMTP_CHECK");
                return;
            }

            if (!Values(st, 1))
            {
                return;
            }

            // keepalived sends the (quoted) value as it is; a line break or a non-ASCII byte would break the command.
            string name = st.JoinedValues;
            try
            {
                check.HeloName = new SmtpCheckOptions { HeloName = name }.HeloName;
            }
            catch (ArgumentException)
            {
                Error(st, $"SMTP_CHECK helo_name '{name}' is not 1 to {SmtpCheckOptions.MaxHeloNameLength} printable ASCII characters");
            }
        }

        private void MiscKeyword(CheckBuilder check, KeepalivedStatement st)
        {
            switch (st.Keyword)
            {
                case "misc_path":
                    if (Values(st, 1))
                    {
                        if (st.ValueCount > 1)
                        {
                            Notice(st, $"misc_path: the user and group '{string.Join(' ', st.Words.Skip(2))}' are not applied (scripts run as the director's user)");
                        }

                        check.MiscPath = st[1];
                    }

                    break;
                case "misc_timeout":
                    if (Values(st, 1, 1) && UInt(st, 1, 0, 49 * 86400, "misc_timeout", out long timeout))
                    {
                        check.MiscTimeout = TimeSpan.FromSeconds(timeout);
                    }

                    break;
                case "misc_dynamic":
                    if (Values(st, 0, 0))
                    {
                        check.MiscDynamic = true;
                    }

                    break;
                case "user":
                    Notice(st, "user: scripts run as the director's user: skipped");
                    break;
                default:
                    Error(st, $"unknown keyword '{st.Keyword}' in MISC_CHECK");
                    break;
            }
        }
    }
}
