using System.Globalization;
using System.Text;
using Lvs.Core;
using Lvs.HealthChecks;
using Lvs.Scheduling;

namespace Lvs.Director.Configuration;

/// <summary>
/// Reads a keepalived.conf into the director's services, real servers and checkers as keepalived's checker process
/// reads it (lib/parser.c; keepalived/check/check_parser.c, check_data.c <c>validate_check_config</c>, check_api.c,
/// check_tcp.c, check_http.c, check_dns.c, check_udp.c, check_misc.c). Every error of every file is collected and
/// reported at once as <c>file:line: message</c>; sections the director does not do are skipped with one notice each.
/// </summary>
/// <remarks>
/// Where keepalived refuses a value with a message and goes on without it, the file is refused here (an error): the
/// table would otherwise differ from what the file says. Where keepalived corrects a value with a warning (no
/// protocol: UDP; a direct-routing port that is not the service's: the service's; a quorum above the total weight:
/// the total weight), the correction is made as keepalived makes it and reported as a notice, so that the table is
/// the one keepalived builds.
/// </remarks>
public static class KeepalivedConfigParser
{
    /// <summary>keepalived's persistence timeout when <c>persistence_timeout</c> has no value (IPVS_SVC_PERSISTENT_TIMEOUT, 6 minutes).</summary>
    public const int DefaultPersistenceTimeout = 360;

    /// <summary>keepalived's scheduler when a virtual server names none (IPVS_DEF_SCHED).</summary>
    public const string DefaultScheduler = SchedulerNames.WeightedLeastConnection;

    private const int MaxGroupAddresses = 65536;

    // Top-level sections of keepalived.conf this director does not do: skipped, one notice each.
    private static readonly HashSet<string> SkippedSections = new(StringComparer.Ordinal)
    {
        "global_defs", "vrrp_instance", "vrrp_script", "vrrp_sync_group", "static_ipaddress", "static_routes",
        "static_rules", "linkbeat_interfaces", "interface_up_down_delays", "static_track_group", "track_file",
        "vrrp_track_file", "track_process", "vrrp_track_process", "bfd_instance", "garp_group", "SSL", "net_namespace",
        "net_namespace_ipvs", "namespace_with_ipsets", "instance", "use_pid_dir", "linkbeat_use_polling", "child_wait_time",
    };

    private static readonly HashSet<string> DnsTypes = new(StringComparer.Ordinal) { "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA" };

    /// <summary>Reads and parses a keepalived.conf and the files it includes.</summary>
    /// <param name="path">The file.</param>
    /// <param name="options">The config id and environment; null: the defaults.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="ConfigurationException">The files have errors: all of them.</exception>
    public static KeepalivedConfiguration Load(string path, KeepalivedParserOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var errors = new List<ConfigurationError>();
        var reader = new KeepalivedConfigReader(options ?? new KeepalivedParserOptions(), errors);
        reader.ReadFile(path);
        return Finish(reader, errors, out var configuration) ? configuration : throw new ConfigurationException(errors);
    }

    /// <summary>Parses keepalived.conf text; includes are relative to <paramref name="fileName"/>'s directory.</summary>
    /// <param name="text">The text.</param>
    /// <param name="fileName">The name errors give (and the base of relative includes).</param>
    /// <param name="options">The config id and environment; null: the defaults.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="ConfigurationException">The text has errors: all of them.</exception>
    public static KeepalivedConfiguration Parse(string text, string fileName = "keepalived.conf", KeepalivedParserOptions? options = null) =>
        TryParse(text, fileName, options, out var configuration, out var errors) ? configuration : throw new ConfigurationException(errors);

    /// <summary>Parses keepalived.conf text and returns every error instead of throwing.</summary>
    /// <param name="text">The text.</param>
    /// <param name="fileName">The name errors give (and the base of relative includes).</param>
    /// <param name="options">The config id and environment; null: the defaults.</param>
    /// <param name="configuration">What could be read.</param>
    /// <param name="errors">Every error, in file order (empty when the text is valid).</param>
    /// <returns>True when there is no error.</returns>
    public static bool TryParse(string text, string fileName, KeepalivedParserOptions? options, out KeepalivedConfiguration configuration, out IReadOnlyList<ConfigurationError> errors)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(fileName);
        var found = new List<ConfigurationError>();
        var reader = new KeepalivedConfigReader(options ?? new KeepalivedParserOptions(), found);
        string directory = Path.GetDirectoryName(Path.GetFullPath(fileName)) ?? Directory.GetCurrentDirectory();
        reader.ReadText(text, fileName, directory);
        bool ok = Finish(reader, found, out configuration);
        errors = found;
        return ok;
    }

    private static bool Finish(KeepalivedConfigReader reader, List<ConfigurationError> errors, out KeepalivedConfiguration configuration)
    {
        reader.Finish();
        var context = new Context(errors);
        context.Run(reader.Root);
        configuration = new KeepalivedConfiguration(context.Servers, context.Notices);

        // All the errors at once, in file order: by file (as first met), then line.
        var files = new List<string>();
        foreach (var error in errors)
        {
            if (!files.Contains(error.File))
            {
                files.Add(error.File);
            }
        }

        var sorted = errors.OrderBy(e => files.IndexOf(e.File)).ThenBy(e => e.Line).ToList();
        errors.Clear();
        errors.AddRange(sorted);
        return errors.Count == 0;
    }

    /// <summary>The state of one parse: errors, notices, groups, and the virtual servers read.</summary>
    private sealed class Context(List<ConfigurationError> errors)
    {
        private readonly Dictionary<string, List<VirtualServiceKeyTemplate>> _groups = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<InetAddress>> _localGroups = new(StringComparer.Ordinal);
        private readonly HashSet<VirtualServiceKey> _seen = [];
        private readonly SchedulerRegistry _schedulers = new();

        public List<KeepalivedVirtualServer> Servers { get; } = [];

        public List<ConfigurationNotice> Notices { get; } = [];

        public void Run(List<KeepalivedStatement> root)
        {
            // Groups may be defined after the virtual servers that use them (keepalived links them after reading).
            foreach (var statement in root)
            {
                if (statement.Keyword == "virtual_server_group")
                {
                    Group(statement);
                }
                else if (statement.Keyword == "local_address_group")
                {
                    LocalGroup(statement);
                }
            }

            foreach (var statement in root)
            {
                switch (statement.Keyword)
                {
                    case "virtual_server_group":
                    case "local_address_group":
                        break;
                    case "virtual_server":
                        VirtualServer(statement);
                        break;
                    case "real_server":
                        Error(statement, "real_server outside a virtual_server");
                        break;
                    default:
                        if (SkippedSections.Contains(statement.Keyword))
                        {
                            Notice(statement, $"'{statement.Keyword}' is not done by this director: skipped");
                        }
                        else
                        {
                            Error(statement, $"unknown keyword '{statement.Keyword}'");
                        }

                        break;
                }
            }
        }

        private void Error(KeepalivedStatement at, string message) => errors.Add(new ConfigurationError(at.File, at.Line, message));

        private void Notice(KeepalivedStatement at, string message) => Notices.Add(new ConfigurationNotice(at.File, at.Line, message));

        private bool Values(KeepalivedStatement st, int min, int max = -1)
        {
            int count = st.ValueCount;
            if (count < min || (max >= 0 && count > max))
            {
                string wanted = max < 0 ? $"at least {min}" : min == max ? $"{min}" : $"{min} to {max}";
                Error(st, $"'{st.Keyword}' takes {wanted} value{(max == 1 || (max < 0 && min == 1) ? string.Empty : "s")}, not {count}");
                return false;
            }

            return true;
        }

        private bool NoBlock(KeepalivedStatement st)
        {
            if (st.Block is not null)
            {
                Error(st, $"'{st.Keyword}' takes no block");
                return false;
            }

            return true;
        }

        private bool Block(KeepalivedStatement st)
        {
            if (st.Block is null)
            {
                Error(st, $"'{st.Keyword}' needs a {{ }} block");
                return false;
            }

            return true;
        }

        private bool UInt(KeepalivedStatement st, int index, long min, long max, string what, out long value)
        {
            if (long.TryParse(st[index], NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max)
            {
                return true;
            }

            Error(st, $"{what} '{st[index]}' is not a number from {min} to {max}");
            return false;
        }

        /// <summary>keepalived's &lt;TIMER&gt;: seconds, with a fraction (microsecond resolution).</summary>
        private bool Timer(KeepalivedStatement st, bool allowZero, out TimeSpan value)
        {
            value = default;
            if (!Values(st, 1, 1))
            {
                return false;
            }

            if (decimal.TryParse(st[1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal seconds)
                && seconds <= 49 * 86400 && (allowZero || seconds > 0))
            {
                value = TimeSpan.FromTicks((long)decimal.Round(seconds * TimeSpan.TicksPerSecond));
                return true;
            }

            Error(st, $"{st.Keyword} '{st[1]}' is not a time in seconds{(allowZero ? string.Empty : " above 0")}");
            return false;
        }

        /// <summary>keepalived's &lt;BOOL&gt; (on|off|true|false|yes|no), true when absent.</summary>
        private bool Bool(KeepalivedStatement st, out bool value)
        {
            value = true;
            if (!Values(st, 0, 1))
            {
                return false;
            }

            if (st.ValueCount == 0)
            {
                return true;
            }

            switch (st[1].ToLowerInvariant())
            {
                case "on" or "true" or "yes":
                    return true;
                case "off" or "false" or "no":
                    value = false;
                    return true;
                default:
                    Error(st, $"{st.Keyword} '{st[1]}' is not one of on, off, true, false, yes, no");
                    return false;
            }
        }

        private bool Address(KeepalivedStatement st, int index, out InetAddress address)
        {
            if (InetAddress.TryParse(st[index], out address))
            {
                if (address.IsIPv4 && st[index].Contains(':', StringComparison.Ordinal))
                {
                    Error(st, $"IPv4-mapped IPv6 address '{st[index]}' is not supported (the table keeps it as IPv4)");
                    return false;
                }

                return true;
            }

            Error(st, $"'{st[index]}' is not a numeric IP address (host names are not resolved)");
            return false;
        }

        private bool Port(KeepalivedStatement st, int index, out ushort port)
        {
            port = 0;
            if (!UInt(st, index, 0, 65535, "port", out long value))
            {
                return false;
            }

            port = (ushort)value;
            return true;
        }

        private void Group(KeepalivedStatement st)
        {
            if (!Values(st, 1, 1) || !Block(st))
            {
                return;
            }

            if (_groups.ContainsKey(st[1]))
            {
                Error(st, $"virtual_server_group '{st[1]}' is defined twice");
                return;
            }

            var entries = new List<VirtualServiceKeyTemplate>();
            foreach (var entry in st.Block!)
            {
                if (!NoBlock(entry))
                {
                    continue;
                }

                if (entry.Keyword == "fwmark")
                {
                    if (!Values(entry, 1, 2) || !UInt(entry, 1, 1, uint.MaxValue, "fwmark", out long mark))
                    {
                        continue;
                    }

                    bool? v6 = null;
                    if (entry.ValueCount == 2)
                    {
                        if (entry[2] is not ("inet" or "inet6"))
                        {
                            Error(entry, $"address family '{entry[2]}' is not inet or inet6");
                            continue;
                        }

                        v6 = entry[2] == "inet6";
                    }

                    entries.Add(new VirtualServiceKeyTemplate(entry, [], 0, (uint)mark, v6));
                    continue;
                }

                if (entry.ValueCount > 1)
                {
                    Error(entry, "a virtual_server_group entry is 'ADDRESS[-LAST] [PORT]', 'ADDRESS/PREFIX [PORT]' or 'fwmark N [inet|inet6]'");
                    continue;
                }

                if (!AddressRange(entry, out var addresses))
                {
                    continue;
                }

                ushort port = 0;
                if (entry.ValueCount == 1 && !Port(entry, 1, out port))
                {
                    continue;
                }

                entries.Add(new VirtualServiceKeyTemplate(entry, addresses, port, 0, null));
            }

            if (entries.Count == 0)
            {
                // check_parser.c vsg_handler: "virtual server group %s has no entries - removing".
                Notice(st, $"virtual server group {st[1]} has no entries - removing");
                return;
            }

            _groups[st[1]] = entries;
        }

        /// <summary>A group entry's addresses: <c>A</c>, <c>A-LAST</c> (last byte, or last 16 bits in hex for IPv6), <c>A-B</c>, <c>A/N</c>.</summary>
        private bool AddressRange(KeepalivedStatement st, out List<InetAddress> addresses)
        {
            addresses = [];
            string text = st.Keyword;
            int slash = text.IndexOf('/', StringComparison.Ordinal);
            int dash = text.IndexOf('-', StringComparison.Ordinal);
            if (slash > 0)
            {
                if (!InetPrefix.TryParse(text, out var prefix))
                {
                    Error(st, $"'{text}' is not an address prefix");
                    return false;
                }

                int bits = (prefix.Address.IsIPv4 ? 32 : 128) - prefix.PrefixLength;
                if (bits > 16)
                {
                    Error(st, $"'{text}' holds more than {MaxGroupAddresses} addresses");
                    return false;
                }

                var first = Network(prefix.Address, prefix.PrefixLength);
                for (int i = 0; i < 1 << bits; i++)
                {
                    addresses.Add(Add(first, (uint)i));
                }

                return true;
            }

            string start = dash > 0 ? text[..dash] : text;
            if (!InetAddress.TryParse(start, out var low))
            {
                Error(st, $"'{start}' is not a numeric IP address (host names are not resolved)");
                return false;
            }

            if (dash < 0)
            {
                addresses.Add(low);
                return true;
            }

            string end = text[(dash + 1)..];
            InetAddress high;
            if (InetAddress.TryParse(end, out var full) && (end.Contains('.', StringComparison.Ordinal) || end.Contains(':', StringComparison.Ordinal)))
            {
                high = full;
            }
            else if (low.IsIPv4 && byte.TryParse(end, NumberStyles.None, CultureInfo.InvariantCulture, out byte last))
            {
                high = InetAddress.FromIPv4((low.IPv4Value & 0xffffff00u) | last);
            }
            else if (low.IsIPv6 && ushort.TryParse(end, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort group))
            {
                high = ReplaceLow16(low, group);
            }
            else
            {
                Error(st, $"'{text}' is not an address range");
                return false;
            }

            if (high.IsIPv4 != low.IsIPv4 || high < low)
            {
                Error(st, $"'{text}' is not an address range (the end is below the start)");
                return false;
            }

            for (var a = low; ; a = Add(a, 1))
            {
                addresses.Add(a);
                if (a == high)
                {
                    break;
                }

                if (addresses.Count >= MaxGroupAddresses)
                {
                    Error(st, $"'{text}' holds more than {MaxGroupAddresses} addresses");
                    return false;
                }
            }

            return true;
        }

        private static InetAddress Add(InetAddress address, uint delta)
        {
            Span<byte> bytes = stackalloc byte[16];
            var ip = address.ToIPAddress();
            ip.TryWriteBytes(bytes, out int written);
            uint carry = delta;
            for (int i = written - 1; i >= 0 && carry != 0; i--)
            {
                uint sum = bytes[i] + (carry & 0xff);
                bytes[i] = (byte)sum;
                carry = (carry >> 8) + (sum >> 8);
            }

            return InetAddress.FromIPAddress(new System.Net.IPAddress(bytes[..written]));
        }

        private static InetAddress Network(InetAddress address, int prefixLength)
        {
            Span<byte> bytes = stackalloc byte[16];
            address.ToIPAddress().TryWriteBytes(bytes, out int written);
            for (int bit = prefixLength; bit < written * 8; bit++)
            {
                bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
            }

            return InetAddress.FromIPAddress(new System.Net.IPAddress(bytes[..written]));
        }

        private static InetAddress ReplaceLow16(InetAddress address, ushort low)
        {
            Span<byte> bytes = stackalloc byte[16];
            address.ToIPAddress().TryWriteBytes(bytes, out _);
            bytes[14] = (byte)(low >> 8);
            bytes[15] = (byte)low;
            return InetAddress.FromIPAddress(new System.Net.IPAddress(bytes));
        }

        private void LocalGroup(KeepalivedStatement st)
        {
            if (!Values(st, 1, 1) || !Block(st))
            {
                return;
            }

            var addresses = new List<InetAddress>();
            foreach (var entry in st.Block!)
            {
                // The forks write "ADDRESS[-LAST] [DEVICE]"; the device is the kernel's business, not the table's.
                if (NoBlock(entry) && AddressRange(entry, out var range))
                {
                    addresses.AddRange(range);
                }
            }

            _localGroups[st[1]] = addresses;
        }

        private void VirtualServer(KeepalivedStatement st)
        {
            if (!Values(st, 1, 2) || !Block(st))
            {
                return;
            }

            var vs = new VirtualServerBuilder(st);
            switch (st[1])
            {
                case "group":
                    if (st.ValueCount != 2)
                    {
                        Error(st, "'virtual_server group' takes the group's name");
                        return;
                    }

                    vs.GroupName = st[2];
                    break;
                case "fwmark":
                    if (st.ValueCount != 2 || !UInt(st, 2, 1, uint.MaxValue, "virtual server fwmark", out long mark))
                    {
                        if (st.ValueCount != 2)
                        {
                            Error(st, "'virtual_server fwmark' takes the mark");
                        }

                        return;
                    }

                    vs.Mark = (uint)mark;
                    break;
                default:
                    if (!Address(st, 1, out var address))
                    {
                        return;
                    }

                    ushort port = 0;
                    if (st.ValueCount == 2 && !Port(st, 2, out port))
                    {
                        return;
                    }

                    vs.Endpoint = new InetEndpoint(address, port);
                    break;
            }

            foreach (var child in st.Block!)
            {
                VirtualServerKeyword(vs, child);
            }

            Build(vs);
        }

        private void VirtualServerKeyword(VirtualServerBuilder vs, KeepalivedStatement st)
        {
            if (st.Keyword is "real_server")
            {
                RealServer(vs, st);
                return;
            }

            if (!NoBlock(st))
            {
                return;
            }

            switch (st.Keyword)
            {
                case "lvs_sched" or "lb_algo":
                    if (Values(st, 1, 1))
                    {
                        if (_schedulers.Names.Contains(st[1], StringComparer.Ordinal))
                        {
                            vs.Scheduler = st[1];
                        }
                        else
                        {
                            Error(st, $"Invalid lvs_scheduler '{st[1]}'");
                        }
                    }

                    break;
                case "lvs_method" or "lb_kind":
                    Forwarding(st, vs.Defaults, "virtual");
                    break;
                case "protocol":
                    if (Values(st, 1, 1))
                    {
                        switch (st[1].ToUpperInvariant())
                        {
                            case "TCP":
                                vs.Protocol = L4Protocol.Tcp;
                                break;
                            case "UDP":
                                vs.Protocol = L4Protocol.Udp;
                                break;
                            case "SCTP":
                                vs.Protocol = L4Protocol.Sctp;
                                break;
                            default:
                                Error(st, $"Unknown protocol {st[1]}");
                                break;
                        }
                    }

                    break;
                case "persistence_timeout":
                    if (st.ValueCount == 0)
                    {
                        vs.Persistence = DefaultPersistenceTimeout;
                    }
                    else if (Values(st, 0, 1) && UInt(st, 1, 1, ConnectionTracking.ConnectionTimeouts.MaxSeconds, "persistence_timeout", out long timeout))
                    {
                        vs.Persistence = (int)timeout;
                    }

                    break;
                case "persistence_granularity":
                    Granularity(vs, st);
                    break;
                case "persistence_engine":
                    Error(st, "persistence engines are not supported by this director");
                    break;
                case "ops" or "hashed" or "flag-1" or "flag-2" or "flag-3" or "sh-port" or "sh-fallback" or "mh-port" or "mh-fallback":
                    if (Values(st, 0, 0))
                    {
                        Flag(vs, st);
                    }

                    break;
                case "delay_loop":
                    if (Timer(st, false, out var delay))
                    {
                        vs.Timing.DelayLoop = delay;
                    }

                    break;
                case "delay_before_retry":
                    if (Timer(st, true, out var dbr))
                    {
                        vs.Timing.DelayBeforeRetry = dbr;
                    }

                    break;
                case "warmup":
                    if (Timer(st, true, out var warmup))
                    {
                        vs.Timing.Warmup = warmup;
                    }

                    break;
                case "connect_timeout":
                    if (Timer(st, false, out var connect))
                    {
                        vs.Timing.ConnectTimeout = connect;
                    }

                    break;
                case "retry":
                    if (Values(st, 1, 1) && UInt(st, 1, 1, int.MaxValue, "retry", out long retry))
                    {
                        vs.Timing.Retry = (int)retry;
                    }

                    break;
                case "inhibit_on_failure":
                    if (Values(st, 0, 0))
                    {
                        vs.Inhibit = true;
                    }

                    break;
                case "alpha":
                    if (Values(st, 0, 0))
                    {
                        vs.Alpha = true;
                    }

                    break;
                case "omega":
                    if (Values(st, 0, 0))
                    {
                        Notice(st, "omega (run the down scripts at shutdown) is not done by this director: skipped");
                    }

                    break;
                case "quorum":
                    if (Values(st, 1, 1) && UInt(st, 1, 1, uint.MaxValue, "quorum", out long quorum))
                    {
                        vs.Quorum = quorum;
                    }

                    break;
                case "hysteresis":
                    if (Values(st, 1, 1) && UInt(st, 1, 0, uint.MaxValue, "hysteresis", out long hysteresis))
                    {
                        vs.Hysteresis = hysteresis;
                    }

                    break;
                case "quorum_up":
                    if (Values(st, 1) && Script(st, vs.QuorumUp, out string? up))
                    {
                        vs.QuorumUp = up;
                    }

                    break;
                case "quorum_down":
                    if (Values(st, 1) && Script(st, vs.QuorumDown, out string? down))
                    {
                        vs.QuorumDown = down;
                    }

                    break;
                case "weight":
                    if (Values(st, 1, 1) && UInt(st, 1, 1, Lvs.Core.RealServer.MaxWeight, "Virtual server weight", out long weight))
                    {
                        vs.Weight = (int)weight;
                    }

                    break;
                case "virtualhost":
                    if (Values(st, 1))
                    {
                        vs.VirtualHost = st.JoinedValues;
                    }

                    break;
                case "sorry_server":
                    if (Values(st, 1, 2) && Address(st, 1, out var sorryAddress))
                    {
                        ushort sorryPort = 0;
                        if (st.ValueCount == 1 || Port(st, 2, out sorryPort))
                        {
                            vs.Sorry = new RealServerBuilder(st, new InetEndpoint(sorryAddress, sorryPort));
                        }
                    }

                    break;
                case "sorry_server_inhibit":
                    if (Values(st, 0, 0))
                    {
                        if (vs.Sorry is null)
                        {
                            Error(st, "sorry_server_inhibit used before or without sorry_server");
                        }
                        else
                        {
                            vs.Sorry.Inhibit = true;
                        }
                    }

                    break;
                case "sorry_server_lvs_method":
                    if (vs.Sorry is null)
                    {
                        Error(st, "sorry_server_lvs_method used before or without sorry_server");
                    }
                    else
                    {
                        vs.Sorry.Forwarding ??= new ForwardingBuilder();
                        Forwarding(st, vs.Sorry.Forwarding, "sorry");
                    }

                    break;
                case "ip_family":
                    if (Values(st, 1, 1))
                    {
                        if (st[1] is "inet" or "inet6")
                        {
                            vs.Family = st[1] == "inet6";
                        }
                        else
                        {
                            Error(st, $"unknown address family {st[1]}");
                        }
                    }

                    break;
                case "laddr_group_name":
                    if (Values(st, 1, 1))
                    {
                        if (_localGroups.TryGetValue(st[1], out var local))
                        {
                            vs.LocalAddresses = local;
                        }
                        else
                        {
                            Error(st, $"local_address_group '{st[1]}' is not defined");
                        }
                    }

                    break;
                case "ha_suspend" or "smtp_alert" or "snmp_name":
                    Notice(st, $"'{st.Keyword}' is not done by this director: skipped");
                    break;
                default:
                    Error(st, $"unknown keyword '{st.Keyword}' in virtual_server");
                    break;
            }
        }

        private bool Script(KeepalivedStatement st, string? existing, out string? script)
        {
            script = null;
            if (existing is not null)
            {
                Error(st, $"{st.Keyword} script already specified");
                return false;
            }

            // keepalived runs the first word (quoted: the whole string) with the rest as a user and group.
            if (st.ValueCount > 1)
            {
                Notice(st, $"{st.Keyword}: the user and group '{string.Join(' ', st.Words.Skip(2))}' are not applied (scripts run as the director's user)");
            }

            script = st[1];
            return true;
        }

        private void Granularity(VirtualServerBuilder vs, KeepalivedStatement st)
        {
            if (!Values(st, 1, 1))
            {
                return;
            }

            bool v6 = vs.Family ?? vs.Endpoint?.Address.IsIPv6 ?? !st[1].Contains('.', StringComparison.Ordinal);
            if (v6)
            {
                if (!UInt(st, 1, 1, 128, "IPv6 persistence_granularity", out long length))
                {
                    return;
                }

                vs.Granularity = (int)length;
            }
            else
            {
                if (!InetAddress.TryParse(st[1], out var mask) || !mask.IsIPv4)
                {
                    Error(st, $"Invalid IPv4 persistence_granularity specified - {st[1]}");
                    return;
                }

                uint bits = mask.IPv4Value;
                int length = System.Numerics.BitOperations.PopCount(bits);
                if (bits != (length == 0 ? 0u : uint.MaxValue << (32 - length)))
                {
                    // The table keeps the granularity as a prefix length (see the ipvsadm part's deviations).
                    Error(st, $"persistence_granularity {st[1]} is not a contiguous netmask (only prefix masks are supported)");
                    return;
                }

                vs.Granularity = length;
            }

            vs.Family ??= v6;
            if (vs.Persistence == 0)
            {
                vs.Persistence = DefaultPersistenceTimeout;
            }
        }

        private void Flag(VirtualServerBuilder vs, KeepalivedStatement st)
        {
            // check_parser.c lbflags_handler: sh-* only with sh, mh-* only with mh, as the scheduler stands when read.
            switch (st.Keyword)
            {
                case "ops":
                    vs.OnePacket = true;
                    break;
                case "hashed":
                    Notice(st, "'hashed' (IP_VS_SVC_F_HASHED, set by the kernel itself) has no effect: skipped");
                    break;
                case "flag-1":
                    vs.Flags |= SchedulerFlags.Fallback;
                    break;
                case "flag-2":
                    vs.Flags |= SchedulerFlags.Port;
                    break;
                case "flag-3":
                    vs.Flags |= SchedulerFlags.Flag3;
                    break;
                default:
                    string scheduler = st.Keyword[..2];
                    if (vs.Scheduler != scheduler)
                    {
                        Error(st, $"{st.Keyword} only applies to the {scheduler} scheduler (set lvs_sched {scheduler} before it)");
                        break;
                    }

                    vs.Flags |= st.Keyword.EndsWith("-port", StringComparison.Ordinal) ? SchedulerFlags.Port : SchedulerFlags.Fallback;
                    break;
            }
        }

        /// <summary>check_parser.c svr_forwarding_handler: NAT, DR, TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum], and the forks' FNAT.</summary>
        private void Forwarding(KeepalivedStatement st, ForwardingBuilder into, string kind)
        {
            if (!Values(st, 1))
            {
                return;
            }

            ForwardingMethod method;
            switch (st[1])
            {
                case "NAT":
                    method = ForwardingMethod.Nat;
                    break;
                case "DR":
                    method = ForwardingMethod.DirectRouting;
                    break;
                case "TUN":
                    method = ForwardingMethod.Tunnel;
                    break;
                case "FNAT":
                    method = ForwardingMethod.FullNat;
                    break;
                default:
                    Error(st, $"unknown [{st[1]}] routing method for {kind} server");
                    return;
            }

            var type = TunnelType.IpIp;
            ushort port = 0;
            var flags = TunnelFlags.None;
            for (int i = 2; i <= st.ValueCount; i++)
            {
                string word = st[i];
                if (method != ForwardingMethod.Tunnel)
                {
                    Error(st, $"Invalid tunnel option {word} for {kind} server (only TUN takes options)");
                    return;
                }

                switch (word)
                {
                    case "type":
                        if (i == st.ValueCount)
                        {
                            Error(st, $"Missing tunnel type for {kind} server.");
                            return;
                        }

                        switch (st[++i])
                        {
                            case "ipip":
                                type = TunnelType.IpIp;
                                break;
                            case "gue":
                                type = TunnelType.Gue;
                                break;
                            case "gre":
                                type = TunnelType.Gre;
                                break;
                            default:
                                Error(st, $"Unknown tunnel type {st[i]} for {kind} server.");
                                return;
                        }

                        break;
                    case "port":
                        if (i == st.ValueCount)
                        {
                            Error(st, $"Missing port for {kind} server gue tunnel.");
                            return;
                        }

                        if (!ushort.TryParse(st[++i], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port == 0)
                        {
                            Error(st, $"Invalid gue tunnel port {st[i]} for {kind} server.");
                            return;
                        }

                        break;
                    case "nocsum":
                        flags = TunnelFlags.None;
                        break;
                    case "csum":
                        flags = TunnelFlags.Checksum;
                        break;
                    case "remcsum":
                        flags = TunnelFlags.RemoteChecksum;
                        break;
                    default:
                        Error(st, $"Invalid tunnel option {word} for {kind} server.");
                        return;
                }
            }

            if ((type == TunnelType.Gue) != (port != 0))
            {
                Error(st, "gue tunnels require port, otherwise cannot have port.");
                return;
            }

            if (type == TunnelType.IpIp && flags != TunnelFlags.None)
            {
                Error(st, "ipip tunnels do not support checksum option.");
                return;
            }

            if (type == TunnelType.Gre && flags == TunnelFlags.RemoteChecksum)
            {
                Error(st, "gre tunnels do not support remote checksum option.");
                return;
            }

            into.Method = method;
            into.TunnelType = type;
            into.TunnelPort = port;
            into.TunnelFlags = flags;
        }

        private void RealServer(VirtualServerBuilder vs, KeepalivedStatement st)
        {
            if (!Values(st, 1, 2) || !Address(st, 1, out var address))
            {
                return;
            }

            ushort port = 0;
            if (st.ValueCount == 2 && !Port(st, 2, out port))
            {
                return;
            }

            var rs = new RealServerBuilder(st, new InetEndpoint(address, port));
            foreach (var child in st.Block ?? [])
            {
                RealServerKeyword(rs, child);
            }

            vs.RealServers.Add(rs);
        }

        private void RealServerKeyword(RealServerBuilder rs, KeepalivedStatement st)
        {
            switch (st.Keyword)
            {
                case "TCP_CHECK" or "HTTP_GET" or "SSL_GET" or "DNS_CHECK" or "UDP_CHECK" or "MISC_CHECK":
                    if (Block(st))
                    {
                        Check(rs, st);
                    }

                    return;
                case "SMTP_CHECK" or "PING_CHECK" or "FILE_CHECK" or "BFD_CHECK":
                    Error(st, $"{st.Keyword} is not supported by this director (supported: TCP_CHECK, HTTP_GET, SSL_GET, DNS_CHECK, UDP_CHECK, MISC_CHECK)");
                    return;
            }

            if (!NoBlock(st))
            {
                return;
            }

            switch (st.Keyword)
            {
                case "weight":
                    if (Values(st, 1, 1) && UInt(st, 1, 0, Lvs.Core.RealServer.MaxWeight, "Real server weight", out long weight))
                    {
                        rs.Weight = (int)weight;
                    }

                    break;
                case "lvs_method" or "lb_kind":
                    rs.Forwarding ??= new ForwardingBuilder();
                    Forwarding(st, rs.Forwarding, "real");
                    break;
                case "uthreshold":
                    if (Values(st, 1, 1) && UInt(st, 1, 0, int.MaxValue, "uthreshold", out long upper))
                    {
                        rs.Upper = (int)upper;
                    }

                    break;
                case "lthreshold":
                    if (Values(st, 1, 1) && UInt(st, 1, 0, int.MaxValue, "lthreshold", out long lower))
                    {
                        rs.Lower = (int)lower;
                    }

                    break;
                case "inhibit_on_failure":
                    if (Bool(st, out bool inhibit))
                    {
                        rs.Inhibit = inhibit;
                    }

                    break;
                case "alpha":
                    if (Bool(st, out bool alpha))
                    {
                        rs.Alpha = alpha;
                    }

                    break;
                case "notify_up":
                    if (Values(st, 1) && Script(st, rs.NotifyUp, out string? up))
                    {
                        rs.NotifyUp = up;
                    }

                    break;
                case "notify_down":
                    if (Values(st, 1) && Script(st, rs.NotifyDown, out string? down))
                    {
                        rs.NotifyDown = down;
                    }

                    break;
                case "delay_loop":
                    if (Timer(st, false, out var delay))
                    {
                        rs.Timing.DelayLoop = delay;
                    }

                    break;
                case "delay_before_retry":
                    if (Timer(st, true, out var dbr))
                    {
                        rs.Timing.DelayBeforeRetry = dbr;
                    }

                    break;
                case "warmup":
                    if (Timer(st, true, out var warmup))
                    {
                        rs.Timing.Warmup = warmup;
                    }

                    break;
                case "connect_timeout":
                    if (Timer(st, false, out var connect))
                    {
                        rs.Timing.ConnectTimeout = connect;
                    }

                    break;
                case "retry":
                    if (Values(st, 1, 1) && UInt(st, 1, 1, int.MaxValue, "retry", out long retry))
                    {
                        rs.Timing.Retry = (int)retry;
                    }

                    break;
                case "virtualhost":
                    if (Values(st, 1))
                    {
                        rs.VirtualHost = st.JoinedValues;
                    }

                    break;
                case "smtp_alert" or "snmp_name":
                    Notice(st, $"'{st.Keyword}' is not done by this director: skipped");
                    break;
                default:
                    Error(st, $"unknown keyword '{st.Keyword}' in real_server");
                    break;
            }
        }

        private void Check(RealServerBuilder rs, KeepalivedStatement st)
        {
            var kind = st.Keyword switch
            {
                "HTTP_GET" => KeepalivedCheckKind.HttpGet,
                "SSL_GET" => KeepalivedCheckKind.SslGet,
                "DNS_CHECK" => KeepalivedCheckKind.Dns,
                "UDP_CHECK" => KeepalivedCheckKind.Udp,
                "MISC_CHECK" => KeepalivedCheckKind.Misc,
                _ => KeepalivedCheckKind.Tcp,
            };
            var check = new CheckBuilder(st, kind);
            int before = errors.Count;
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

            if (errors.Count == before)
            {
                rs.Checks.Add(check);
            }
        }

        private void CheckKeyword(CheckBuilder check, KeepalivedStatement st)
        {
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

        /// <summary>check_data.c validate_check_config, for one virtual server: defaults, corrections, services.</summary>
        private void Build(VirtualServerBuilder vs)
        {
            var st = vs.Statement;
            var templates = new List<VirtualServiceKeyTemplate>();
            if (vs.GroupName is { } group)
            {
                if (!_groups.TryGetValue(group, out var entries))
                {
                    Error(st, $"virtual_server_group '{group}' is not defined");
                    return;
                }

                templates.AddRange(entries);
            }
            else if (vs.Mark is { } mark)
            {
                templates.Add(new VirtualServiceKeyTemplate(st, [], 0, mark, vs.Family));
            }
            else
            {
                templates.Add(new VirtualServiceKeyTemplate(st, [vs.Endpoint!.Value.Address], vs.Endpoint.Value.Port, 0, null));
            }

            if (vs.RealServers.Count == 0)
            {
                Notice(st, $"Virtual server {Name(st)} has no real servers - ignoring");
                return;
            }

            bool hasAddresses = templates.Any(t => t.Mark == 0);
            bool hasMarks = templates.Any(t => t.Mark != 0);
            var protocol = vs.Protocol;
            if (hasAddresses && protocol is null)
            {
                // "If the protocol is 0, the kernel defaults to UDP, so set it explicitly".
                Notice(st, $"Virtual server {Name(st)}: no protocol set - defaulting to UDP");
                protocol = L4Protocol.Udp;
            }
            else if (!hasAddresses && protocol is not null)
            {
                Notice(st, $"Virtual server {Name(st)}: protocol specified for fwmark - protocol will be ignored");
            }

            bool onePacket = vs.OnePacket;
            if (onePacket && hasAddresses && protocol != L4Protocol.Udp)
            {
                Notice(st, $"Virtual server {Name(st)}: one packet scheduling requires UDP - resetting");
                onePacket = false;
            }

            int persistence = vs.Persistence;
            if (persistence == 0 && templates.Any(t => t.Mark == 0 && t.Port == 0))
            {
                Notice(st, $"Virtual server {Name(st)}: zero port only valid for persistent services - setting");
                persistence = DefaultPersistenceTimeout;
            }

            string scheduler = vs.Scheduler ?? DefaultScheduler;
            if (vs.Scheduler is null)
            {
                Notice(st, $"Virtual server {Name(st)}: no scheduler set, setting default '{DefaultScheduler}'");
            }

            // Real servers: duplicates refused, method and weight from the virtual server, checkers' values inherited.
            var defaults = vs.Defaults;
            bool methodNoticed = false;
            ForwardingBuilder Method(ForwardingBuilder? own, KeepalivedStatement at)
            {
                if (own?.Method is not null)
                {
                    return own;
                }

                if (defaults.Method is null && !methodNoticed)
                {
                    Notice(st, $"Virtual server {Name(st)}: no forwarding method set, setting default NAT");
                    methodNoticed = true;
                }

                return defaults.Method is null ? new ForwardingBuilder { Method = ForwardingMethod.Nat } : defaults;
            }

            var realServers = new List<KeepalivedRealServer>();
            var endpoints = new HashSet<InetEndpoint>();
            long weightSum = 0;
            foreach (var rs in vs.RealServers)
            {
                if (!endpoints.Add(rs.Endpoint))
                {
                    Error(rs.Statement, $"real server {rs.Endpoint.Address}{(rs.Endpoint.Port == 0 ? string.Empty : $" {rs.Endpoint.Port}")} is duplicated in virtual_server {Name(st)}");
                    continue;
                }

                var forwarding = Method(rs.Forwarding, rs.Statement);
                int weight = rs.Weight ?? vs.Weight;
                weightSum += weight;
                bool alpha = rs.Alpha ?? vs.Alpha;
                var checks = new List<KeepalivedCheck>();
                foreach (var check in rs.Checks)
                {
                    var built = check.Build(rs, vs, alpha);
                    if (built.Misc is { } misc)
                    {
                        try
                        {
                            // keepalived checks the script when it reads the file (check_misc.c check_misc_script_security).
                            _ = new MiscChecker(misc);
                        }
                        catch (ArgumentException e)
                        {
                            Error(check.Statement, e.Message.Split(" (Parameter", 2)[0]);
                            continue;
                        }
                    }

                    checks.Add(built);
                }

                var server = new KeepalivedRealServer(rs.Statement.File, rs.Statement.Line, rs.Endpoint)
                {
                    Weight = weight,
                    Method = forwarding.Method!.Value,
                    TunnelType = forwarding.TunnelType,
                    TunnelPort = forwarding.TunnelPort,
                    TunnelFlags = forwarding.TunnelFlags,
                    UpperThreshold = rs.Upper,
                    LowerThreshold = rs.Lower,
                    InhibitOnFailure = rs.Inhibit ?? vs.Inhibit,
                    NotifyUp = rs.NotifyUp,
                    NotifyDown = rs.NotifyDown,
                    Checks = checks,
                };
                if (server.UpperThreshold > 0 && server.LowerThreshold > server.UpperThreshold)
                {
                    Error(rs.Statement, $"lthreshold {server.LowerThreshold} is above uthreshold {server.UpperThreshold}");
                    continue;
                }

                if (!PortsMatch(st, rs.Statement, server, templates))
                {
                    continue;
                }

                realServers.Add(server);
            }

            KeepalivedRealServer? sorry = null;
            if (vs.Sorry is { } s)
            {
                var forwarding = Method(s.Forwarding, s.Statement);
                sorry = new KeepalivedRealServer(s.Statement.File, s.Statement.Line, s.Endpoint)
                {
                    Method = forwarding.Method!.Value,
                    TunnelType = forwarding.TunnelType,
                    TunnelPort = forwarding.TunnelPort,
                    TunnelFlags = forwarding.TunnelFlags,
                    InhibitOnFailure = s.Inhibit ?? false,
                };
                _ = PortsMatch(st, s.Statement, sorry, templates);
            }

            long quorum = vs.Quorum;
            if (quorum > weightSum)
            {
                Notice(st, $"Warning - quorum {quorum} for {Name(st)} exceeds total weight of real servers {weightSum}, reducing quorum to {weightSum}");
                quorum = weightSum;
            }

            long hysteresis = vs.Hysteresis;
            if (hysteresis >= quorum && hysteresis > 0)
            {
                long reduced = Math.Max(0, quorum - 1);
                Notice(st, $"Virtual server {Name(st)}: hysteresis {hysteresis} >= quorum {quorum}; setting hysteresis to {reduced}");
                hysteresis = reduced;
            }

            // The family of a firewall-mark service: ip_family, else the servers' (check_parser.c vs_end_handler), else IPv4.
            bool markIPv6 = vs.Family ?? FamilyOf(realServers, sorry);
            var services = new List<VirtualServiceOptions>();
            foreach (var template in templates)
            {
                foreach (var key in template.Keys(protocol ?? L4Protocol.Tcp, markIPv6))
                {
                    if (!_seen.Add(key))
                    {
                        Error(template.Statement, $"virtual server {key} is defined twice");
                        continue;
                    }

                    var options = new VirtualServiceOptions(key)
                    {
                        Scheduler = scheduler,
                        SchedulerFlags = vs.Flags,
                        PersistenceTimeout = persistence,
                        PersistencePrefixLength = vs.Granularity is { } g && g == (key.IsIPv6 ? 128 : 32) ? null : vs.Granularity,
                        OnePacket = onePacket && (key.IsFirewallMark || key.Protocol == L4Protocol.Udp),
                    };
                    if (Validate(template.Statement, options, realServers, sorry))
                    {
                        services.Add(options);
                    }
                }
            }

            Servers.Add(new KeepalivedVirtualServer(st.File, st.Line, Name(st))
            {
                Services = services,
                RealServers = realServers,
                Quorum = quorum,
                Hysteresis = hysteresis,
                SorryServer = sorry,
                QuorumUp = vs.QuorumUp,
                QuorumDown = vs.QuorumDown,
                LocalAddresses = vs.LocalAddresses,
            });
        }

        private static bool FamilyOf(List<KeepalivedRealServer> servers, KeepalivedRealServer? sorry)
        {
            var all = servers.Concat(sorry is null ? [] : [sorry]).ToList();
            var direct = all.Where(s => s.Method != ForwardingMethod.Tunnel).ToList();
            var decide = direct.Count > 0 ? direct : all;
            return decide.Count > 0 && decide.All(s => s.Endpoint.Address.IsIPv6);
        }

        /// <summary>What the table (and so ipvsadm and the kernel) refuses, said at the line that causes it.</summary>
        private bool Validate(KeepalivedStatement at, VirtualServiceOptions options, List<KeepalivedRealServer> servers, KeepalivedRealServer? sorry)
        {
            try
            {
                options.Validate();
            }
            catch (ArgumentException e)
            {
                Error(at, $"virtual server {options.Key}: {e.Message}");
                return false;
            }

            bool ok = true;
            foreach (var server in servers.Concat(sorry is null ? [] : [sorry]))
            {
                try
                {
                    server.OptionsFor(options.Key).Validate(options.Key);
                }
                catch (ArgumentException e)
                {
                    errors.Add(new ConfigurationError(server.File, server.Line, $"real server {server.Endpoint.Address} in {options.Key}: {e.Message}"));
                    ok = false;
                }
            }

            return ok;
        }

        /// <summary>check_data.c: a DR or TUN server's port that is not the service's is reset to it, with a warning.</summary>
        private bool PortsMatch(KeepalivedStatement vs, KeepalivedStatement at, KeepalivedRealServer server, List<VirtualServiceKeyTemplate> templates)
        {
            if (server.Method is ForwardingMethod.Nat or ForwardingMethod.FullNat || server.Endpoint.Port == 0)
            {
                return true;
            }

            foreach (var template in templates)
            {
                if (template.Mark != 0)
                {
                    Notice(at, $"WARNING - fwmark virtual server {Name(vs)}, real server {server.Endpoint.Address} has port specified - port will be ignored");
                    return true;
                }

                if (template.Port != server.Endpoint.Port)
                {
                    Notice(at, $"WARNING - virtual server {Name(vs)} and real server {server.Endpoint} ports don't match - resetting");
                    return true;
                }
            }

            return true;
        }

        private static string Name(KeepalivedStatement st) => string.Join(' ', st.Words.Skip(1));
    }

    /// <summary>One address (or range) and port, or one firewall mark, of a virtual server or group entry.</summary>
    private sealed record VirtualServiceKeyTemplate(KeepalivedStatement Statement, List<InetAddress> Addresses, ushort Port, uint Mark, bool? MarkIPv6)
    {
        public IEnumerable<VirtualServiceKey> Keys(L4Protocol protocol, bool markIPv6)
        {
            if (Mark != 0)
            {
                yield return VirtualServiceKey.ForFirewallMark(Mark, MarkIPv6 ?? markIPv6);
                yield break;
            }

            foreach (var address in Addresses)
            {
                yield return VirtualServiceKey.ForAddress(protocol, new InetEndpoint(address, Port));
            }
        }
    }

    private sealed class ForwardingBuilder
    {
        public ForwardingMethod? Method { get; set; }

        public TunnelType TunnelType { get; set; }

        public ushort TunnelPort { get; set; }

        public TunnelFlags TunnelFlags { get; set; }
    }

    /// <summary>The timing keywords a virtual server, real server or checker may give (null: not given).</summary>
    private sealed class TimingBuilder
    {
        public TimeSpan? DelayLoop { get; set; }

        public TimeSpan? DelayBeforeRetry { get; set; }

        public TimeSpan? Warmup { get; set; }

        public TimeSpan? ConnectTimeout { get; set; }

        public int? Retry { get; set; }
    }

    private sealed class VirtualServerBuilder(KeepalivedStatement statement)
    {
        public KeepalivedStatement Statement { get; } = statement;

        public string? GroupName { get; set; }

        public uint? Mark { get; set; }

        public InetEndpoint? Endpoint { get; set; }

        public string? Scheduler { get; set; }

        public SchedulerFlags Flags { get; set; }

        public bool OnePacket { get; set; }

        public L4Protocol? Protocol { get; set; }

        public int Persistence { get; set; }

        public int? Granularity { get; set; }

        public bool? Family { get; set; }

        public ForwardingBuilder Defaults { get; } = new();

        public TimingBuilder Timing { get; } = new();

        public bool Inhibit { get; set; }

        public bool Alpha { get; set; }

        public long Quorum { get; set; } = 1;

        public long Hysteresis { get; set; }

        public string? QuorumUp { get; set; }

        public string? QuorumDown { get; set; }

        public int Weight { get; set; } = 1;

        public string? VirtualHost { get; set; }

        public RealServerBuilder? Sorry { get; set; }

        public List<InetAddress> LocalAddresses { get; set; } = [];

        public List<RealServerBuilder> RealServers { get; } = [];
    }

    private sealed class RealServerBuilder(KeepalivedStatement statement, InetEndpoint endpoint)
    {
        public KeepalivedStatement Statement { get; } = statement;

        public InetEndpoint Endpoint { get; } = endpoint;

        public int? Weight { get; set; }

        public ForwardingBuilder? Forwarding { get; set; }

        public int Upper { get; set; }

        public int Lower { get; set; }

        public bool? Inhibit { get; set; }

        public bool? Alpha { get; set; }

        public string? NotifyUp { get; set; }

        public string? NotifyDown { get; set; }

        public string? VirtualHost { get; set; }

        public TimingBuilder Timing { get; } = new();

        public List<CheckBuilder> Checks { get; } = [];
    }

    private sealed class CheckBuilder(KeepalivedStatement statement, KeepalivedCheckKind kind)
    {
        public KeepalivedStatement Statement { get; } = statement;

        public KeepalivedCheckKind Kind { get; } = kind;

        public List<string> Words { get; } = [];

        public InetAddress? ConnectIp { get; set; }

        public ushort? ConnectPort { get; set; }

        public InetAddress? BindTo { get; set; }

        public ushort BindPort { get; set; }

        public TimingBuilder Timing { get; } = new();

        public bool? Alpha { get; set; }

        public string? VirtualHost { get; set; }

        public Version HttpVersion { get; set; } = System.Net.HttpVersion.Version10;

        public bool EnableSni { get; set; }

        public List<HttpUrlCheck> Urls { get; } = [];

        public string DnsType { get; set; } = "SOA";

        public string DnsName { get; set; } = ".";

        public byte[] Payload { get; set; } = [];

        public bool RequireReply { get; set; }

        public byte[] ExpectedReply { get; set; } = [];

        public int MinReply { get; set; }

        public int MaxReply { get; set; } = byte.MaxValue;

        public string? MiscPath { get; set; }

        public TimeSpan MiscTimeout { get; set; }

        public bool MiscDynamic { get; set; }

        /// <summary>check_data.c: the checker's own values, else the real server's, else the virtual server's, else the defaults.</summary>
        public KeepalivedCheck Build(RealServerBuilder rs, VirtualServerBuilder vs, bool rsAlpha)
        {
            var delayLoop = Timing.DelayLoop ?? rs.Timing.DelayLoop ?? vs.Timing.DelayLoop ?? CheckTiming.DefaultDelayLoop;
            var check = new KeepalivedCheck(Kind, Statement.File, Statement.Line)
            {
                ConnectIp = ConnectIp,
                ConnectPort = ConnectPort,
                BindTo = BindTo,
                BindPort = BindPort,
                ConnectTimeout = Timing.ConnectTimeout ?? rs.Timing.ConnectTimeout ?? vs.Timing.ConnectTimeout ?? CheckConnectionOptions.DefaultConnectTimeout,
                DelayLoop = delayLoop,
                Retry = Timing.Retry ?? rs.Timing.Retry ?? vs.Timing.Retry,
                DelayBeforeRetry = Timing.DelayBeforeRetry ?? rs.Timing.DelayBeforeRetry ?? vs.Timing.DelayBeforeRetry,
                Warmup = Timing.Warmup ?? rs.Timing.Warmup ?? vs.Timing.Warmup,
                Alpha = Alpha ?? rsAlpha,
            };
            string? host = VirtualHost ?? rs.VirtualHost ?? vs.VirtualHost;
            check = Kind switch
            {
                KeepalivedCheckKind.HttpGet or KeepalivedCheckKind.SslGet => check with
                {
                    Http = new HttpGetCheckOptions
                    {
                        Urls = [.. Urls],
                        VirtualHost = host,
                        UseTls = Kind == KeepalivedCheckKind.SslGet,
                        EnableSni = EnableSni,
                        HttpVersion = HttpVersion,
                    },
                },
                KeepalivedCheckKind.Dns => check with { Dns = new DnsCheckOptions { Type = DnsType, Name = DnsName } },
                KeepalivedCheckKind.Udp => check with
                {
                    Udp = new UdpCheckOptions
                    {
                        Payload = Payload,
                        RequireReply = RequireReply,
                        ExpectedReply = ExpectedReply,
                        MinReplyLength = MinReply,
                        MaxReplyLength = MaxReply,
                    },
                },
                KeepalivedCheckKind.Misc => check with { Misc = new MiscCheckOptions { Path = MiscPath!, Timeout = MiscTimeout, Dynamic = MiscDynamic } },
                _ => check,
            };
            var definition = new StringBuilder(Statement.Keyword).Append(" {");
            foreach (string word in Words)
            {
                definition.Append(' ').Append(word).Append(';');
            }

            definition.Append(CultureInfo.InvariantCulture, $" }} delay_loop {check.DelayLoop.TotalSeconds}; connect_timeout {check.ConnectTimeout.TotalSeconds}; retry {check.Retry?.ToString(CultureInfo.InvariantCulture) ?? "default"}; delay_before_retry {check.DelayBeforeRetry?.TotalSeconds.ToString(CultureInfo.InvariantCulture) ?? "default"}; warmup {check.Warmup?.TotalSeconds.ToString(CultureInfo.InvariantCulture) ?? "default"}; alpha {check.Alpha}; virtualhost {host}");
            return check with { Definition = definition.ToString() };
        }
    }
}
