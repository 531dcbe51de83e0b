using System.Globalization;
using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Scheduling;

namespace Lvs.Director.Configuration;

/// <summary>
/// Parses ipvsadm rules: the <c>ipvsadm-save -n</c> format and the ipvsadm command-line syntax, one command per line
/// (what <c>ipvsadm -R</c> reads), with ipvsadm's option table, defaults, checks and messages (ipvsadm.c
/// <c>parse_options</c>, <c>process_options</c>, <c>generic_opt_check</c>, <c>tunnel_opt_check</c>). Every error of
/// a file is collected and reported at once as <c>file:line: message</c>.
/// </summary>
/// <remarks>
/// <para>
/// A line may begin with the word <c>ipvsadm</c> (shell scripts); <c>#</c> begins a comment; a line ending in a
/// backslash continues on the next (errors then name the first line). Host names and service (port) names are not
/// resolved: addresses and ports must be numeric, as <c>ipvsadm-save -n</c> writes them.
/// </para>
/// <para>
/// Not supported, each refused with its own message: <c>--pe</c> (persistence engines), the
/// listing, saving, zeroing and daemon commands (they are not rules).
/// </para>
/// </remarks>
public static class IpvsadmRulesParser
{
    /// <summary>ipvsadm's largest timeout (<c>MAX_TIMEOUT</c>, 31 days) for <c>-p</c> and <c>--set</c>.</summary>
    public const int MaxTimeout = 86400 * 31;

    private static readonly string[] OptionNames =
    [
        "numeric", "connection", "service-address", "scheduler", "persistent", "netmask", "real-server",
        "forwarding-method", "weight", "u-threshold", "l-threshold", "mcast-interface", "timeout", "daemon", "stats",
        "rate", "thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops", "pe", "sched-flags",
        "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen", "tun-info", "tun-type", "tun-port", "tun-nocsum",
        "tun-csum", "tun-remcsum", "local-address",
    ];

    private static readonly OptionSpec[] Specs =
    [
        new("add-service", 'A', ArgKind.None, Tag.AddService),
        new("edit-service", 'E', ArgKind.None, Tag.EditService),
        new("delete-service", 'D', ArgKind.None, Tag.DeleteService),
        new("clear", 'C', ArgKind.None, Tag.Clear),
        new("list", 'L', ArgKind.None, Tag.List),
        new("list", 'l', ArgKind.None, Tag.List),
        new("zero", 'Z', ArgKind.None, Tag.Zero),
        new("add-server", 'a', ArgKind.None, Tag.AddServer),
        new("edit-server", 'e', ArgKind.None, Tag.EditServer),
        new("delete-server", 'd', ArgKind.None, Tag.DeleteServer),
        new("set", '\0', ArgKind.None, Tag.Set),
        new("help", 'h', ArgKind.None, Tag.Help),
        new("version", 'v', ArgKind.None, Tag.Version),
        new("restore", 'R', ArgKind.None, Tag.Restore),
        new("save", 'S', ArgKind.None, Tag.Save),
        new("start-daemon", '\0', ArgKind.Required, Tag.StartDaemon),
        new("stop-daemon", '\0', ArgKind.Required, Tag.StopDaemon),
        new("add-laddr", 'P', ArgKind.None, Tag.AddLocalAddress),
        new("del-laddr", 'Q', ArgKind.None, Tag.DeleteLocalAddress),
        new("get-laddr", 'G', ArgKind.None, Tag.GetLocalAddress),
        new("tcp-service", 't', ArgKind.Required, Tag.Tcp),
        new("udp-service", 'u', ArgKind.Required, Tag.Udp),
        new("sctp-service", '\0', ArgKind.Required, Tag.Sctp),
        new("fwmark-service", 'f', ArgKind.Required, Tag.FirewallMark),
        new("scheduler", 's', ArgKind.Required, Tag.Scheduler),
        new("persistent", 'p', ArgKind.Optional, Tag.Persistent),
        new("netmask", 'M', ArgKind.Required, Tag.Netmask),
        new("real-server", 'r', ArgKind.Required, Tag.Server),
        new("masquerading", 'm', ArgKind.None, Tag.Masquerading),
        new("ipip", 'i', ArgKind.None, Tag.Tunnel),
        new("gatewaying", 'g', ArgKind.None, Tag.Gatewaying),
        new("fullnat", '\0', ArgKind.None, Tag.FullNat),
        new("weight", 'w', ArgKind.Required, Tag.Weight),
        new("u-threshold", 'x', ArgKind.Required, Tag.UpperThreshold),
        new("l-threshold", 'y', ArgKind.Required, Tag.LowerThreshold),
        new("numeric", 'n', ArgKind.None, Tag.Numeric),
        new("connection", 'c', ArgKind.None, Tag.Connection),
        new("mcast-interface", '\0', ArgKind.Required, Tag.McastInterface),
        new("syncid", '\0', ArgKind.Required, Tag.SyncId),
        new("timeout", '\0', ArgKind.None, Tag.Timeout),
        new("daemon", '\0', ArgKind.None, Tag.Daemon),
        new("stats", '\0', ArgKind.None, Tag.Stats),
        new("rate", '\0', ArgKind.None, Tag.Rate),
        new("thresholds", '\0', ArgKind.None, Tag.Thresholds),
        new("persistent-conn", '\0', ArgKind.None, Tag.PersistentConn),
        new("nosort", '\0', ArgKind.None, Tag.NoSort),
        new("sort", '\0', ArgKind.None, Tag.Sort),
        new("exact", 'X', ArgKind.None, Tag.Exact),
        new("ipv6", '6', ArgKind.None, Tag.IPv6),
        new("ops", 'o', ArgKind.None, Tag.Ops),
        new("pe", '\0', ArgKind.Required, Tag.PersistenceEngine),
        new("sched-flags", 'b', ArgKind.Required, Tag.SchedulerFlags),
        new("mcast-group", '\0', ArgKind.Required, Tag.McastGroup),
        new("mcast-port", '\0', ArgKind.Required, Tag.McastPort),
        new("mcast-ttl", '\0', ArgKind.Required, Tag.McastTtl),
        new("sync-maxlen", '\0', ArgKind.Required, Tag.SyncMaxlen),
        new("tun-info", '\0', ArgKind.None, Tag.TunInfo),
        new("tun-type", '\0', ArgKind.Required, Tag.TunType),
        new("tun-port", '\0', ArgKind.Required, Tag.TunPort),
        new("tun-nocsum", '\0', ArgKind.None, Tag.TunNocsum),
        new("tun-csum", '\0', ArgKind.None, Tag.TunCsum),
        new("tun-remcsum", '\0', ArgKind.None, Tag.TunRemcsum),
        new("laddr", 'z', ArgKind.Required, Tag.LocalAddress),
    ];

    private enum ArgKind
    {
        None,
        Required,
        Optional,
    }

    private enum Tag
    {
        AddService, EditService, DeleteService, Clear, AddServer, EditServer, DeleteServer, Set, AddLocalAddress, DeleteLocalAddress,
        List, Zero, Help, Version, Restore, Save, StartDaemon, StopDaemon, GetLocalAddress,
        Tcp, Udp, Sctp, FirewallMark, Scheduler, Persistent, Netmask, Server, Masquerading, Tunnel, Gatewaying, FullNat,
        Weight, UpperThreshold, LowerThreshold, Numeric, Connection, McastInterface, SyncId, Timeout, Daemon, Stats, Rate,
        Thresholds, PersistentConn, NoSort, Sort, Exact, IPv6, Ops, PersistenceEngine, SchedulerFlags, McastGroup,
        McastPort, McastTtl, SyncMaxlen, TunInfo, TunType, TunPort, TunNocsum, TunCsum, TunRemcsum, LocalAddress,
    }

    // ipvsadm's option bits (OPT_*), in optnames order; local-address is the FULLNAT forks'.
    private enum Opt
    {
        Numeric, Connection, Service, Scheduler, Persistent, Netmask, Server, Forward, Weight, UThreshold, LThreshold,
        McastInterface, Timeout, Daemon, Stats, Rate, Thresholds, PersistentConn, NoSort, SyncId, Exact, Ops, Pe,
        SchedFlags, McastGroup, McastPort, McastTtl, SyncMaxlen, TunInfo, TunType, TunPort, TunNocsum, TunCsum,
        TunRemcsum, LocalAddress,
    }

    /// <summary>Parses a rules file's text.</summary>
    /// <param name="text">The rules.</param>
    /// <param name="fileName">The name errors give.</param>
    /// <returns>The commands, in file order.</returns>
    /// <exception cref="ConfigurationException">The file has errors: all of them.</exception>
    public static IpvsadmRuleSet Parse(string text, string fileName = "<rules>")
    {
        return TryParse(text, fileName, out var rules, out var errors) ? rules : throw new ConfigurationException(errors);
    }

    /// <summary>Reads and parses a rules file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The commands, in file order.</returns>
    /// <exception cref="ConfigurationException">The file has errors: all of them.</exception>
    public static IpvsadmRuleSet Load(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>Parses a rules file's text and returns every error instead of throwing.</summary>
    /// <param name="text">The rules.</param>
    /// <param name="fileName">The name errors give.</param>
    /// <param name="rules">The commands of the valid lines, in file order.</param>
    /// <param name="errors">Every error, in file order (empty when the file is valid).</param>
    /// <returns>True when the file has no error.</returns>
    public static bool TryParse(string text, string fileName, out IpvsadmRuleSet rules, out IReadOnlyList<ConfigurationError> errors)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(fileName);
        var commands = new List<IpvsadmCommand>();
        var found = new List<ConfigurationError>();
        foreach (var (line, tokens) in Lines(text))
        {
            try
            {
                if (ParseLine(tokens, fileName, line) is { } command)
                {
                    commands.Add(command);
                }
            }
            catch (RuleException e)
            {
                found.Add(new ConfigurationError(fileName, line, e.Message));
            }
        }

        errors = found;
        rules = new IpvsadmRuleSet(commands);
        return found.Count == 0;
    }

    /// <summary>Splits the text into logical lines of tokens: comments removed, continuations joined, a leading "ipvsadm" dropped.</summary>
    private static IEnumerable<(int Line, List<string> Tokens)> Lines(string text)
    {
        string[] physical = text.Split('\n');
        var tokens = new List<string>();
        int start = 0;
        for (int i = 0; i < physical.Length; i++)
        {
            string content = physical[i].TrimEnd('\r');
            if (tokens.Count == 0)
            {
                start = i + 1;
            }

            bool continues = false;
            int hash = IndexOfComment(content);
            if (hash >= 0)
            {
                content = content[..hash];
            }
            else if (content.TrimEnd(' ', '\t').EndsWith('\\'))
            {
                content = content.TrimEnd(' ', '\t')[..^1];
                continues = true;
            }

            tokens.AddRange(content.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
            if (continues && i + 1 < physical.Length)
            {
                continue;
            }

            if (tokens.Count > 0 && tokens[0] == "ipvsadm")
            {
                tokens.RemoveAt(0);
            }

            if (tokens.Count > 0)
            {
                yield return (start, tokens);
            }

            tokens = [];
        }
    }

    // A '#' at the start of a token begins a comment.
    private static int IndexOfComment(string content)
    {
        for (int i = 0; i < content.Length; i++)
        {
            if (content[i] == '#' && (i == 0 || content[i - 1] is ' ' or '\t'))
            {
                return i;
            }
        }

        return -1;
    }

    private static IpvsadmCommand? ParseLine(List<string> tokens, string file, int line)
    {
        var state = new LineState();
        var positional = new List<string>();
        bool first = true;
        for (int i = 0; i < tokens.Count; i++)
        {
            string token = tokens[i];
            if (token.Length > 2 && token.StartsWith("--", StringComparison.Ordinal))
            {
                int eq = token.IndexOf('=', StringComparison.Ordinal);
                string name = eq >= 0 ? token[2..eq] : token[2..];
                var spec = FindLong(name) ?? throw new RuleException($"invalid option `{token}'");
                string? value = null;
                if (spec.Arg == ArgKind.None && eq >= 0)
                {
                    throw new RuleException($"option `--{name}' takes no value");
                }

                if (spec.Arg != ArgKind.None)
                {
                    if (eq >= 0)
                    {
                        value = token[(eq + 1)..];
                    }
                    else if (i + 1 < tokens.Count && (spec.Arg == ArgKind.Required || !tokens[i + 1].StartsWith('-')))
                    {
                        value = tokens[++i];
                    }
                    else if (spec.Arg == ArgKind.Required)
                    {
                        throw new RuleException($"option `--{name}' requires a value");
                    }
                }

                Apply(state, spec, value, ref first);
            }
            else if (token.Length > 1 && token[0] == '-' && token[1] != '-')
            {
                for (int c = 1; c < token.Length; c++)
                {
                    var spec = FindShort(token[c]) ?? throw new RuleException($"invalid option `-{token[c]}'");
                    string? value = null;
                    if (spec.Arg != ArgKind.None)
                    {
                        if (c + 1 < token.Length)
                        {
                            value = token[(c + 1)..];
                        }
                        else if (i + 1 < tokens.Count && (spec.Arg == ArgKind.Required || !tokens[i + 1].StartsWith('-')))
                        {
                            value = tokens[++i];
                        }
                        else if (spec.Arg == ArgKind.Required)
                        {
                            throw new RuleException($"option `-{token[c]}' requires a value");
                        }

                        Apply(state, spec, value, ref first);
                        break;
                    }

                    Apply(state, spec, value, ref first);
                }
            }
            else
            {
                if (first)
                {
                    throw new RuleException($"a rule begins with its command (-A -E -D -C -a -e -d --set), not `{token}'");
                }

                positional.Add(token);
            }
        }

        return Finish(state, positional, file, line);
    }

    private static OptionSpec? FindLong(string name)
    {
        foreach (var spec in Specs)
        {
            if (spec.Long == name)
            {
                return spec;
            }
        }

        return null;
    }

    private static OptionSpec? FindShort(char name)
    {
        foreach (var spec in Specs)
        {
            if (spec.Short == name && name != '\0')
            {
                return spec;
            }
        }

        return null;
    }

    private static void Apply(LineState s, OptionSpec spec, string? value, ref bool first)
    {
        bool isCommand = spec.Tag <= Tag.GetLocalAddress;
        if (first && !isCommand)
        {
            throw new RuleException($"a rule begins with its command (-A -E -D -C -a -e -d --set), not `{Spelling(spec)}'");
        }

        first = false;
        if (isCommand)
        {
            if (s.Command is not null)
            {
                throw new RuleException("multiple commands specified");
            }

            s.Command = spec.Tag switch
            {
                Tag.AddService => IpvsadmCommandKind.AddService,
                Tag.EditService => IpvsadmCommandKind.EditService,
                Tag.DeleteService => IpvsadmCommandKind.DeleteService,
                Tag.Clear => IpvsadmCommandKind.Clear,
                Tag.AddServer => IpvsadmCommandKind.AddServer,
                Tag.EditServer => IpvsadmCommandKind.EditServer,
                Tag.DeleteServer => IpvsadmCommandKind.DeleteServer,
                Tag.Set => IpvsadmCommandKind.SetTimeouts,
                Tag.AddLocalAddress => IpvsadmCommandKind.AddLocalAddress,
                Tag.DeleteLocalAddress => IpvsadmCommandKind.DeleteLocalAddress,
                _ => throw new RuleException($"`{Spelling(spec)}' is not a rule: a rules file holds only -A -E -D -C -a -e -d --set (and the FULLNAT forks' -P -Q)"),
            };
            return;
        }

        switch (spec.Tag)
        {
            case Tag.Tcp:
            case Tag.Udp:
            case Tag.Sctp:
                Set(s, Opt.Service);
                s.Protocol = spec.Tag switch
                {
                    Tag.Tcp => L4Protocol.Tcp,
                    Tag.Udp => L4Protocol.Udp,
                    _ => L4Protocol.Sctp,
                };
                s.ServiceText = value!;
                break;
            case Tag.FirewallMark:
                Set(s, Opt.Service);
                s.Mark = ParseFirewallMark(value!);
                break;
            case Tag.Scheduler:
                Set(s, Opt.Scheduler);
                s.Scheduler = value!;
                break;
            case Tag.Persistent:
                Set(s, Opt.Persistent);
                s.Persistence = value is null ? VirtualServiceOptions.DefaultPersistenceTimeout : ParseTimeout(value, 1);
                break;
            case Tag.Netmask:
                Set(s, Opt.Netmask);
                s.NetmaskText = value!;
                break;
            case Tag.Server:
                Set(s, Opt.Server);
                s.ServerText = value!;
                break;
            case Tag.Masquerading:
            case Tag.Tunnel:
            case Tag.Gatewaying:
            case Tag.FullNat:
                Set(s, Opt.Forward);
                s.Method = spec.Tag switch
                {
                    Tag.Masquerading => ForwardingMethod.Nat,
                    Tag.Tunnel => ForwardingMethod.Tunnel,
                    Tag.FullNat => ForwardingMethod.FullNat,
                    _ => ForwardingMethod.DirectRouting,
                };
                break;
            case Tag.Weight:
                Set(s, Opt.Weight);
                s.Weight = ParseNumber(value!, 0, RealServer.MaxWeight) ?? throw new RuleException("illegal weight specified");
                break;
            case Tag.UpperThreshold:
                Set(s, Opt.UThreshold);
                s.Upper = ParseNumber(value!, 0, int.MaxValue) ?? throw new RuleException("illegal u_threshold specified");
                break;
            case Tag.LowerThreshold:
                Set(s, Opt.LThreshold);
                s.Lower = ParseNumber(value!, 0, int.MaxValue) ?? throw new RuleException("illegal l_threshold specified");
                break;
            case Tag.IPv6:
                if (s.Mark == 0)
                {
                    throw new RuleException("-6 used before -f");
                }

                s.MarkIPv6 = true;
                break;
            case Tag.Ops:
                Set(s, Opt.Ops);
                s.OnePacket = true;
                break;
            case Tag.PersistenceEngine:
                throw new RuleException($"--pe {value}: persistence engines are not supported by this director");
            case Tag.SchedulerFlags:
                Set(s, Opt.SchedFlags);
                s.SchedulerFlagsText = value!;
                break;
            case Tag.TunType:
                Set(s, Opt.TunType);
                s.TunnelType = value switch
                {
                    "ipip" => TunnelType.IpIp,
                    "gue" => TunnelType.Gue,
                    "gre" => TunnelType.Gre,
                    _ => throw new RuleException("illegal tunnel type specified"),
                };
                break;
            case Tag.TunPort:
                Set(s, Opt.TunPort);
                s.TunnelPort = (ushort)(ParseNumber(value!, 1, 65535) ?? throw new RuleException("illegal tunnel port specified"));
                break;
            case Tag.TunNocsum:
                Set(s, Opt.TunNocsum);
                break;
            case Tag.TunCsum:
                Set(s, Opt.TunCsum);
                s.TunnelFlags |= TunnelFlags.Checksum;
                break;
            case Tag.TunRemcsum:
                Set(s, Opt.TunRemcsum);
                s.TunnelFlags |= TunnelFlags.RemoteChecksum;
                break;
            case Tag.LocalAddress:
                Set(s, Opt.LocalAddress);
                s.LocalAddressText = value!;
                break;
            case Tag.Sort:
                break;
            default:
                // Listing and daemon options: not allowed with any rule command (generic_opt_check says which).
                Set(s, spec.Tag switch
                {
                    Tag.Numeric => Opt.Numeric,
                    Tag.Connection => Opt.Connection,
                    Tag.McastInterface => Opt.McastInterface,
                    Tag.SyncId => Opt.SyncId,
                    Tag.Timeout => Opt.Timeout,
                    Tag.Daemon => Opt.Daemon,
                    Tag.Stats => Opt.Stats,
                    Tag.Rate => Opt.Rate,
                    Tag.Thresholds => Opt.Thresholds,
                    Tag.PersistentConn => Opt.PersistentConn,
                    Tag.NoSort => Opt.NoSort,
                    Tag.Exact => Opt.Exact,
                    Tag.McastGroup => Opt.McastGroup,
                    Tag.McastPort => Opt.McastPort,
                    Tag.McastTtl => Opt.McastTtl,
                    Tag.SyncMaxlen => Opt.SyncMaxlen,
                    _ => Opt.TunInfo,
                });
                break;
        }
    }

    private static string Spelling(OptionSpec spec) => spec.Short != '\0' ? $"-{spec.Short}" : $"--{spec.Long}";

    private static void Set(LineState s, Opt option)
    {
        long bit = 1L << (int)option;
        if ((s.Options & bit) != 0)
        {
            throw new RuleException($"multiple '{OptionNames[(int)option]}' options specified");
        }

        s.Options |= bit;
    }

    private static IpvsadmCommand? Finish(LineState s, List<string> positional, string file, int line)
    {
        var kind = s.Command ?? throw new RuleException("no command: a rule begins with -A -E -D -C -a -e -d or --set");
        int tcp = 0, fin = 0, udp = 0;
        if (kind == IpvsadmCommandKind.SetTimeouts)
        {
            if (positional.Count < 3)
            {
                throw new RuleException("--set option requires 3 timeout values");
            }

            tcp = ParseTimeout(positional[0], 0);
            fin = ParseTimeout(positional[1], 0);
            udp = ParseTimeout(positional[2], 0);
            foreach (int value in (ReadOnlySpan<int>)[tcp, fin, udp])
            {
                if (value > ConnectionTimeouts.MaxSeconds)
                {
                    throw new RuleException($"timeout {value} is above the largest this director keeps ({ConnectionTimeouts.MaxSeconds} s)");
                }
            }

            positional.RemoveRange(0, 3);
        }

        if (positional.Count > 0)
        {
            throw new RuleException($"unexpected argument {positional[0]}");
        }

        CheckOptions(kind, s.Options);

        // The service (after every option, so that -M and a port-less -r know it).
        VirtualServiceKey key = default;
        if ((s.Options & Bit(Opt.Service)) != 0)
        {
            key = s.Mark != 0
                ? VirtualServiceKey.ForFirewallMark(s.Mark, s.MarkIPv6)
                : VirtualServiceKey.ForAddress(s.Protocol, ParseAddressPort(s.ServiceText!, "illegal virtual server address[:port] specified", out _));
        }

        var command = new IpvsadmCommand(kind, file, line) { Service = key, TcpTimeout = tcp, TcpFinTimeout = fin, UdpTimeout = udp };
        switch (kind)
        {
            case IpvsadmCommandKind.AddService:
            case IpvsadmCommandKind.EditService:
                return command with { ServiceOptions = ServiceOptions(s, key) };
            case IpvsadmCommandKind.AddServer:
            case IpvsadmCommandKind.EditServer:
            case IpvsadmCommandKind.DeleteServer:
                return command with { Server = ServerOptions(s, key, kind) };
            case IpvsadmCommandKind.AddLocalAddress:
            case IpvsadmCommandKind.DeleteLocalAddress:
                return command with { LocalAddress = ParseAddressPort(s.LocalAddressText!, "illegal local address", out _).Address };
            default:
                return command;
        }
    }

    private static VirtualServiceOptions ServiceOptions(LineState s, VirtualServiceKey key)
    {
        bool persistent = s.Persistence > 0;
        if (!key.IsFirewallMark && key.Endpoint.Port == 0 && !persistent)
        {
            throw new RuleException("Zero port specified for non-persistent service");
        }

        if (s.OnePacket && !key.IsFirewallMark && key.Protocol != L4Protocol.Udp)
        {
            throw new RuleException("One-Packet Scheduling is only for UDP virtual services");
        }

        string scheduler = s.Scheduler ?? SchedulerNames.WeightedLeastConnection;
        var options = new VirtualServiceOptions(key)
        {
            Scheduler = scheduler,
            SchedulerFlags = s.SchedulerFlagsText is null ? SchedulerFlags.None : ParseSchedulerFlags(scheduler, s.SchedulerFlagsText),
            PersistenceTimeout = s.Persistence,
            PersistencePrefixLength = s.NetmaskText is null ? null : ParseNetmask(s.NetmaskText, key.IsIPv6),
            OnePacket = s.OnePacket,
        };
        Validate(options.Validate);
        return options;
    }

    private static RealServerOptions ServerOptions(LineState s, VirtualServiceKey key, IpvsadmCommandKind kind)
    {
        var endpoint = ParseAddressPort(s.ServerText!, "illegal real server address[:port] specified", out bool hasPort);
        if (!hasPort)
        {
            // ipvsadm: "copy vport to dport if not specified".
            endpoint = endpoint with { Port = key.Endpoint.Port };
        }

        if (kind == IpvsadmCommandKind.DeleteServer)
        {
            return new RealServerOptions(endpoint);
        }

        if (!key.IsFirewallMark && s.Method is ForwardingMethod.DirectRouting or ForwardingMethod.Tunnel)
        {
            // ipvsadm: the destination port of -g and -i servers is the service's (packets are not rewritten).
            endpoint = endpoint with { Port = key.Endpoint.Port };
        }

        if (endpoint.Address.IsIPv6 != key.IsIPv6 && s.Method != ForwardingMethod.Tunnel)
        {
            throw new RuleException("Different address family is allowed only for tunneling servers");
        }

        const long tunnelOptions = (1L << (int)Opt.TunType) | (1L << (int)Opt.TunPort) | (1L << (int)Opt.TunNocsum)
            | (1L << (int)Opt.TunCsum) | (1L << (int)Opt.TunRemcsum);
        if ((s.Options & tunnelOptions) != 0 && s.Method != ForwardingMethod.Tunnel)
        {
            throw new RuleException("Tunnel options conflict with forward method");
        }

        CheckTunnelOptions(s.TunnelType, s.Options);
        if (s.Lower > s.Upper)
        {
            // ip_vs_ctl.c ip_vs_add_dest/ip_vs_edit_dest refuse it (-ERANGE), also when the upper threshold is 0.
            throw new RuleException("lower threshold is higher than upper threshold");
        }

        var options = new RealServerOptions(endpoint)
        {
            Weight = s.Weight,
            Method = s.Method,
            TunnelType = s.Method == ForwardingMethod.Tunnel ? s.TunnelType : TunnelType.IpIp,
            TunnelPort = s.Method == ForwardingMethod.Tunnel ? s.TunnelPort : (ushort)0,
            TunnelFlags = s.Method == ForwardingMethod.Tunnel ? s.TunnelFlags : TunnelFlags.None,
            UpperThreshold = s.Upper,
            LowerThreshold = s.Lower,
        };
        Validate(() => options.Validate(key));
        return options;
    }

    private static void Validate(Action validate)
    {
        try
        {
            validate();
        }
        catch (ArgumentException e)
        {
            throw new RuleException(e.Message);
        }
    }

    // generic_opt_check over the commands a rules file may hold.
    private static void CheckOptions(IpvsadmCommandKind kind, long options)
    {
        (Opt[] required, Opt[] allowed) = kind switch
        {
            IpvsadmCommandKind.AddService or IpvsadmCommandKind.EditService =>
                ([Opt.Service], [Opt.Scheduler, Opt.Persistent, Opt.Netmask, Opt.Ops, Opt.Pe, Opt.SchedFlags]),
            IpvsadmCommandKind.DeleteService => ([Opt.Service], []),
            IpvsadmCommandKind.AddServer or IpvsadmCommandKind.EditServer =>
                ([Opt.Service, Opt.Server], [Opt.Forward, Opt.Weight, Opt.UThreshold, Opt.LThreshold, Opt.TunType, Opt.TunPort, Opt.TunNocsum, Opt.TunCsum, Opt.TunRemcsum]),
            IpvsadmCommandKind.DeleteServer => ([Opt.Service, Opt.Server], []),
            IpvsadmCommandKind.AddLocalAddress or IpvsadmCommandKind.DeleteLocalAddress => ([Opt.Service, Opt.LocalAddress], []),
            _ => ((Opt[])[], (Opt[])[]),
        };
        for (int j = 0; j < OptionNames.Length; j++)
        {
            var option = (Opt)j;
            bool given = (options & (1L << j)) != 0;
            if (!given && Array.IndexOf(required, option) >= 0)
            {
                throw new RuleException($"You need to supply the '{OptionNames[j]}' option for the '{CommandName(kind)}' command");
            }

            if (given && Array.IndexOf(required, option) < 0 && Array.IndexOf(allowed, option) < 0)
            {
                throw new RuleException($"Illegal '{OptionNames[j]}' option with the '{CommandName(kind)}' command");
            }
        }
    }

    // tunnel_opt_check: ipip takes none of the tunnel options, gue needs --tun-port and one checksum option at most,
    // gre takes one checksum option at most but no port and no remote checksum.
    private static void CheckTunnelOptions(TunnelType type, long options)
    {
        string typeName = TunnelName(type);
        Opt[] tunnelOptions = [Opt.TunPort, Opt.TunNocsum, Opt.TunCsum, Opt.TunRemcsum];
        string[] rules = type switch
        {
            TunnelType.Gue => ["+", "1", "1", "1"],
            TunnelType.Gre => ["x", "1", "1", "x"],
            _ => ["x", "x", "x", "x"],
        };
        Opt? last = null;
        for (int j = 0; j < tunnelOptions.Length; j++)
        {
            var option = tunnelOptions[j];
            bool given = (options & Bit(option)) != 0;
            if (!given)
            {
                if (rules[j] == "+")
                {
                    throw new RuleException($"You need to supply the '{OptionNames[(int)option]}' option for the '{typeName}' tunnel type");
                }

                continue;
            }

            if (rules[j] == "x")
            {
                throw new RuleException($"Illegal '{OptionNames[(int)option]}' option with the '{typeName}' tunnel type");
            }

            if (rules[j] == "1")
            {
                if (last is { } previous)
                {
                    throw new RuleException($"The option '{OptionNames[(int)option]}' conflicts with the '{OptionNames[(int)previous]}' option in the '{typeName}' tunnel type");
                }

                last = option;
            }
        }
    }

    internal static string TunnelName(TunnelType type) => type switch
    {
        TunnelType.Gue => "gue",
        TunnelType.Gre => "gre",
        _ => "ipip",
    };

    private static long Bit(Opt option) => 1L << (int)option;

    private static string CommandName(IpvsadmCommandKind kind) => kind switch
    {
        IpvsadmCommandKind.AddService => "add-service",
        IpvsadmCommandKind.EditService => "edit-service",
        IpvsadmCommandKind.DeleteService => "delete-service",
        IpvsadmCommandKind.Clear => "flush",
        IpvsadmCommandKind.AddServer => "add-server",
        IpvsadmCommandKind.EditServer => "edit-server",
        IpvsadmCommandKind.DeleteServer => "delete-server",
        IpvsadmCommandKind.SetTimeouts => "set",
        IpvsadmCommandKind.AddLocalAddress => "add-laddr",
        _ => "del-laddr",
    };

    // string_to_number: base 10, an optional sign, the whole text, within min..max.
    private static int? ParseNumber(string text, int min, int max) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value) && value >= min && value <= max
            ? (int)value
            : null;

    private static int ParseTimeout(string text, int min)
    {
        int value = ParseNumber(text, min, MaxTimeout) ?? throw new RuleException($"invalid timeout value `{text}' specified");
        return value;
    }

    private static uint ParseFirewallMark(string text) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value) && value > 0 && value <= uint.MaxValue
            ? (uint)value
            : throw new RuleException($"invalid fwmark value `{text}' specified");

    private static int? ParseNetmask(string text, bool ipv6)
    {
        int prefix;
        if (ipv6)
        {
            prefix = ParseNumber(text, 1, 128) ?? throw new RuleException("illegal ipv6 netmask specified");
            return prefix == 128 ? null : prefix;
        }

        if (!InetAddress.TryParse(text, out var mask) || !mask.IsIPv4)
        {
            throw new RuleException(LooksLikeName(text)
                ? $"illegal virtual server persistent mask specified: host name '{text}' is not resolved (give a dotted netmask)"
                : "illegal virtual server persistent mask specified");
        }

        uint bits = mask.IPv4Value;
        prefix = System.Numerics.BitOperations.LeadingZeroCount(~bits);
        if (prefix < 32 && bits << prefix != 0)
        {
            throw new RuleException($"netmask {text} is not contiguous: this director keeps the persistence granularity as a prefix length");
        }

        return prefix == 32 ? null : prefix;
    }

    // parse_service: "[v6]:port", bare v6 (no port), "v4[:port]"; names are refused.
    internal static InetEndpoint ParseAddressPort(string text, string error, out bool hasPort)
    {
        hasPort = false;
        if (text.Length == 0 || text.All(char.IsAsciiDigit))
        {
            throw new RuleException(error);
        }

        string address;
        string? port = null;
        if (text[0] == '[')
        {
            int close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                throw new RuleException(error);
            }

            address = text[1..close];
            port = text[(close + 2)..];
            if (!address.Contains(':', StringComparison.Ordinal))
            {
                throw new RuleException(error);
            }
        }
        else if (text.Count(c => c == ':') > 1)
        {
            address = text;
        }
        else
        {
            int colon = text.LastIndexOf(':');
            address = colon >= 0 ? text[..colon] : text;
            port = colon >= 0 ? text[(colon + 1)..] : null;
        }

        if (!InetAddress.TryParse(address, out var parsed))
        {
            throw new RuleException(LooksLikeName(address)
                ? $"{error}: host name '{address}' is not resolved (give a numeric address)"
                : error);
        }

        if (parsed.IsIPv4 && address.Contains(':', StringComparison.Ordinal))
        {
            // ipvsadm would make an IPv6 service of it; the table keeps IPv4-mapped addresses as IPv4.
            throw new RuleException($"{error}: IPv4-mapped IPv6 address '{address}' is not supported (give the IPv4 address)");
        }

        ushort portNumber = 0;
        if (port is not null)
        {
            hasPort = true;
            if (ParseNumber(port, 0, 65535) is not { } number)
            {
                throw new RuleException(port.Length > 0 && port.Any(char.IsAsciiLetter)
                    ? $"{error}: service name '{port}' is not resolved (give a numeric port)"
                    : error);
            }

            portNumber = (ushort)number;
        }

        return new InetEndpoint(parsed, portNumber);
    }

    private static bool LooksLikeName(string text) => text.Length > 0 && text.Any(char.IsAsciiLetter) && !text.Contains(':', StringComparison.Ordinal);

    // parse_sched_flags: comma-separated; sh-*/mh-* need their scheduler.
    private static SchedulerFlags ParseSchedulerFlags(string scheduler, string text)
    {
        var flags = SchedulerFlags.None;
        foreach (string flag in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            (SchedulerFlags bit, string? needs) = flag switch
            {
                "flag-1" => (SchedulerFlags.Fallback, (string?)null),
                "flag-2" => (SchedulerFlags.Port, null),
                "flag-3" => (SchedulerFlags.Flag3, null),
                "sh-fallback" => (SchedulerFlags.Fallback, SchedulerNames.SourceHashing),
                "sh-port" => (SchedulerFlags.Port, SchedulerNames.SourceHashing),
                "mh-fallback" => (SchedulerFlags.Fallback, SchedulerNames.MaglevHashing),
                "mh-port" => (SchedulerFlags.Port, SchedulerNames.MaglevHashing),
                _ => throw new RuleException($"invalid scheduler flag `{flag}'"),
            };
            if (needs is not null && needs != scheduler)
            {
                throw new RuleException($"incompatible scheduler flag `{flag}'");
            }

            flags |= bit;
        }

        return flags;
    }

    private readonly record struct OptionSpec(string Long, char Short, ArgKind Arg, Tag Tag);

    private sealed class LineState
    {
        public IpvsadmCommandKind? Command { get; set; }

        public long Options { get; set; }

        public L4Protocol Protocol { get; set; }

        public string? ServiceText { get; set; }

        public uint Mark { get; set; }

        public bool MarkIPv6 { get; set; }

        public string? Scheduler { get; set; }

        public string? SchedulerFlagsText { get; set; }

        public int Persistence { get; set; }

        public string? NetmaskText { get; set; }

        public bool OnePacket { get; set; }

        public string? ServerText { get; set; }

        public ForwardingMethod Method { get; set; } = ForwardingMethod.DirectRouting;

        public int Weight { get; set; } = 1;

        public int Upper { get; set; }

        public int Lower { get; set; }

        public TunnelType TunnelType { get; set; } = TunnelType.IpIp;

        public ushort TunnelPort { get; set; }

        public TunnelFlags TunnelFlags { get; set; }

        public string? LocalAddressText { get; set; }
    }

    private sealed class RuleException(string message) : Exception(message);
}
