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
public static partial class KeepalivedConfigParser
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
        "static_rules", "linkbeat_interfaces", "interface_up_down_delays", "static_track_group",
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
        return Finish(reader, errors, options?.Reload ?? false, out var configuration) ? configuration : throw new ConfigurationException(errors);
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
        bool ok = Finish(reader, found, options?.Reload ?? false, out configuration);
        errors = found;
        return ok;
    }

    private static bool Finish(KeepalivedConfigReader reader, List<ConfigurationError> errors, bool reload, out KeepalivedConfiguration configuration)
    {
        reader.Finish();
        var context = new Context(errors, reload);
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

    /// <summary>The state of one parse: errors, notices, groups, track files, and the virtual servers read.</summary>
    private sealed partial class Context(List<ConfigurationError> errors, bool reload)
    {
        private readonly Dictionary<string, List<VirtualServiceKeyTemplate>> _groups = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<InetAddress>> _localGroups = new(StringComparer.Ordinal);
        private readonly HashSet<VirtualServiceKey> _seen = [];
        private readonly SchedulerRegistry _schedulers = new();

        public List<KeepalivedVirtualServer> Servers { get; } = [];

        public List<ConfigurationNotice> Notices { get; } = [];

        /// <summary>The errors collected so far (the parts in other files count them).</summary>
        private List<ConfigurationError> Errors => errors;

        public void Run(List<KeepalivedStatement> root)
        {
            // Groups and track files may be defined after the virtual servers that use them (keepalived links them
            // after reading).
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
                else if (statement.Keyword == "track_file")
                {
                    TrackFileBlock(statement);
                }
            }

            foreach (var statement in root)
            {
                switch (statement.Keyword)
                {
                    case "virtual_server_group":
                    case "local_address_group":
                    case "track_file":
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

            CheckTrackFiles();
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

        public string HeloName { get; set; } = SmtpCheckOptions.DefaultHeloName;

        /// <summary>FILE_CHECK's tracked file, weight and reverse, resolved from its track_file.</summary>
        public FileCheckOptions? FileOptions { get; set; }

        /// <summary>SMTP_CHECK's <c>host { }</c> blocks: their connection options only.</summary>
        public List<CheckBuilder> Hosts { get; } = [];

        /// <summary>The checker's keyword (a host block's checker keeps SMTP_CHECK's).</summary>
        public string Keyword { get; private init; } = statement.Keyword;

        /// <summary>The checker of an SMTP_CHECK <c>host { }</c> block: this block's values, the host's connection options over them, located at the host block.</summary>
        public CheckBuilder ForHost(CheckBuilder host)
        {
            var merged = new CheckBuilder(host.Statement, Kind)
            {
                Keyword = Keyword,
                ConnectIp = host.ConnectIp ?? ConnectIp,
                ConnectPort = host.ConnectPort ?? ConnectPort,
                BindTo = host.BindTo ?? BindTo,
                BindPort = host.BindPort != 0 ? host.BindPort : BindPort,
                Alpha = Alpha,
                HeloName = HeloName,
            };
            merged.Words.AddRange(Words);
            merged.Words.Add("host {");
            merged.Words.AddRange(host.Words);
            merged.Words.Add("}");
            merged.Timing.DelayLoop = Timing.DelayLoop;
            merged.Timing.DelayBeforeRetry = Timing.DelayBeforeRetry;
            merged.Timing.Warmup = Timing.Warmup;
            merged.Timing.ConnectTimeout = host.Timing.ConnectTimeout ?? Timing.ConnectTimeout;
            merged.Timing.Retry = Timing.Retry;
            return merged;
        }

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
                KeepalivedCheckKind.Smtp => check with { Smtp = new SmtpCheckOptions { HeloName = HeloName } },
                // check_file.c: no retry, delay or warmup, and alpha cleared (the file's state is known at once); the
                // delay_loop inherited is how often the file is read again besides its inotify events.
                KeepalivedCheckKind.File => check with { FileCheck = FileOptions, Alpha = false, Retry = null, DelayBeforeRetry = null, Warmup = null },
                _ => check,
            };
            if (Kind == KeepalivedCheckKind.File)
            {
                return check with { Definition = string.Create(CultureInfo.InvariantCulture, $"FILE_CHECK {{ {Words[0]}; }} delay_loop {check.DelayLoop.TotalSeconds}") };
            }

            var definition = new StringBuilder(Keyword).Append(" {");
            foreach (string word in Words)
            {
                definition.Append(' ').Append(word).Append(';');
            }

            definition.Append(CultureInfo.InvariantCulture, $" }} delay_loop {check.DelayLoop.TotalSeconds}; connect_timeout {check.ConnectTimeout.TotalSeconds}; retry {check.Retry?.ToString(CultureInfo.InvariantCulture) ?? "default"}; delay_before_retry {check.DelayBeforeRetry?.TotalSeconds.ToString(CultureInfo.InvariantCulture) ?? "default"}; warmup {check.Warmup?.TotalSeconds.ToString(CultureInfo.InvariantCulture) ?? "default"}; alpha {check.Alpha}; virtualhost {host}");
            return check with { Definition = definition.ToString() };
        }
    }
}
