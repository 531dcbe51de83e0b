using System.Globalization;
using System.Text;
using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Director.Statistics;
using Lvs.Scheduling;

namespace Lvs.Director.Configuration;

/// <summary>What <see cref="IpvsadmListing.List(ServiceTableSnapshot, IpvsadmListFormat?, IIpvsadmStatistics?)"/> prints: ipvsadm's <c>-L -n</c> options.</summary>
public sealed record IpvsadmListFormat
{
    /// <summary><c>--stats</c>: Conns, InPkts, OutPkts, InBytes, OutBytes.</summary>
    public bool Stats { get; init; }

    /// <summary><c>--rate</c>: CPS, InPPS, OutPPS, InBPS, OutBPS.</summary>
    public bool Rate { get; init; }

    /// <summary><c>--exact</c>: counters in full, without K/M/G/T.</summary>
    public bool Exact { get; init; }

    /// <summary><c>--thresholds</c>: upper and lower connection thresholds.</summary>
    public bool Thresholds { get; init; }

    /// <summary><c>--persistent-conn</c>: persistent connections (templates) per server.</summary>
    public bool PersistentConnections { get; init; }

    /// <summary><c>--tun-info</c>: the tunnel type, port and checksum option of tunnel servers.</summary>
    public bool TunnelInfo { get; init; }

    /// <summary><c>--nosort</c>: services in the order they were added and servers in the kernel's list order, instead of sorted.</summary>
    public bool NoSort { get; init; }

    /// <summary>The connection table size the first line shows (<c>size=</c>; the kernel's default is 4096).</summary>
    public int ConnectionTableSize { get; init; } = 4096;
}

/// <summary>Counters and rates for the <c>--stats</c> and <c>--rate</c> listings (the engine gives them; tests may give their own).</summary>
public interface IIpvsadmStatistics
{
    /// <summary>A service's counters.</summary>
    /// <param name="service">The service.</param>
    /// <returns>The counters.</returns>
    IpvsCounters GetCounters(VirtualService service);

    /// <summary>A real server's counters.</summary>
    /// <param name="server">The server.</param>
    /// <returns>The counters.</returns>
    IpvsCounters GetCounters(RealServer server);

    /// <summary>A service's rates.</summary>
    /// <param name="service">The service.</param>
    /// <returns>The rates.</returns>
    IpvsRates GetRates(VirtualService service);

    /// <summary>A real server's rates.</summary>
    /// <param name="server">The server.</param>
    /// <returns>The rates.</returns>
    IpvsRates GetRates(RealServer server);
}

/// <summary>
/// Prints the director's table as ipvsadm prints the kernel's, column for column and byte for byte (ipvsadm.c
/// <c>list_all</c>, <c>print_title</c>, <c>print_service_entry</c>, <c>print_largenum</c>, <c>list_timeout</c>), in
/// numeric form (<c>-n</c>): <c>ipvsadm -L -n</c> with its options, <c>ipvsadm-save -n</c>, <c>--timeout</c> and
/// <c>-L -n -c</c>.
/// </summary>
/// <remarks>
/// Deviations, each because ipvsadm's own output cannot be read back: FULLNAT servers are saved as <c>--fullnat</c>
/// (the FULLNAT forks print nothing usable there); an sh or mh service whose only flag is flag-3 is saved without
/// <c>-b</c> (ipvsadm prints a bare <c>-b</c>). With <c>--nosort</c> services come in the order they were added: the
/// kernel's order is its hash table's, which depends on a kernel pointer.
/// </remarks>
public static class IpvsadmListing
{
    /// <summary>The IPVS version the first line shows (the kernel's <c>IP_VS_VERSION_CODE</c>).</summary>
    public const string IpvsVersion = "1.2.1";

    /// <summary>Prints <c>ipvsadm -L -n</c> (with the format's options) for an engine: its table and its counters.</summary>
    /// <param name="engine">The engine.</param>
    /// <param name="format">The options; null: plain <c>-L -n</c>.</param>
    /// <returns>The text, each line ending in a line feed.</returns>
    public static string List(DirectorEngine engine, IpvsadmListFormat? format)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return List(engine.Table.Snapshot, format, new EngineStatistics(engine));
    }

    /// <summary>Prints <c>ipvsadm -L -n</c> (with the format's options) for a table snapshot.</summary>
    /// <param name="snapshot">The table.</param>
    /// <param name="format">The options; null: plain <c>-L -n</c>.</param>
    /// <param name="statistics">Counters and rates for <c>--stats</c>/<c>--rate</c>; null: zeros.</param>
    /// <returns>The text, each line ending in a line feed.</returns>
    public static string List(ServiceTableSnapshot snapshot, IpvsadmListFormat? format = null, IIpvsadmStatistics? statistics = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        format ??= new IpvsadmListFormat();
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"IP Virtual Server version {IpvsVersion} (size={format.ConnectionTableSize})\n");
        AppendTitle(text, format);
        foreach (var service in Services(snapshot, format.NoSort))
        {
            AppendService(text, service, format, statistics);
        }

        return text.ToString();
    }

    /// <summary>Prints <c>ipvsadm-save -n</c> (<c>ipvsadm -S -n</c>): one <c>-A</c> line per service followed by one <c>-a</c> line per real server.</summary>
    /// <param name="snapshot">The table.</param>
    /// <param name="noSort">True for <c>--nosort</c> order.</param>
    /// <param name="includeThresholds">
    /// Also write <c>-x</c>/<c>-y</c> of servers that have connection thresholds. ipvsadm-save does not (its saved
    /// rules lose them); off by default.
    /// </param>
    /// <returns>The rules, each line ending in a line feed.</returns>
    public static string Save(ServiceTableSnapshot snapshot, bool noSort = false, bool includeThresholds = false)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var text = new StringBuilder();
        foreach (var service in Services(snapshot, noSort))
        {
            text.Append("-A ").Append(ServiceRule(service.Options)).Append('\n');
            foreach (var server in Servers(service, noSort))
            {
                text.Append("-a ").Append(ServerRule(service.Key, server.Endpoint, server.ForwardingMethod, server.Weight, server.TunnelType, server.TunnelPort, server.TunnelFlags));
                if (includeThresholds && server.UpperThreshold > 0)
                {
                    text.Append(CultureInfo.InvariantCulture, $" -x {server.UpperThreshold}");
                }

                if (includeThresholds && server.LowerThreshold > 0)
                {
                    text.Append(CultureInfo.InvariantCulture, $" -y {server.LowerThreshold}");
                }

                text.Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>The service part of an ipvsadm-save <c>-A</c> line (after <c>-A </c>): name, scheduler, persistence, flags.</summary>
    internal static string ServiceRule(VirtualServiceOptions options)
    {
        var text = new StringBuilder();
        text.Append(ServiceName(options.Key)).Append(" -s ").Append(options.Scheduler);
        if (options.IsPersistent)
        {
            text.Append(CultureInfo.InvariantCulture, $" -p {options.PersistenceTimeout}");
            if (Netmask(options) is { } mask)
            {
                text.Append(" -M ").Append(mask);
            }
        }

        if (options.OnePacket)
        {
            text.Append(" -o");
        }

        if (options.SchedulerFlags != SchedulerFlags.None && SchedulerFlagNames(options) is { Length: > 0 } flagNames)
        {
            // ipvsadm prints " -b " with nothing after it when sh or mh has only flag-3 (which it cannot read back).
            text.Append(" -b ").Append(flagNames);
        }

        return text.ToString();
    }

    /// <summary>The service as ipvsadm-save names it: <c>-t addr:port</c>, <c>-u addr:port</c>, <c>-f mark [-6]</c>.</summary>
    internal static string ServiceName(VirtualServiceKey key) =>
        key.IsFirewallMark
            ? (key.IsIPv6 ? $"-f {key.FirewallMark} -6" : $"-f {key.FirewallMark}")
            : $"{key.Protocol switch { L4Protocol.Tcp => "-t", L4Protocol.Udp => "-u", _ => "--sctp-service" }} {Numeric(key.Endpoint)}";

    /// <summary>The part of an ipvsadm-save <c>-a</c> line after <c>-a </c>, without thresholds.</summary>
    internal static string ServerRule(VirtualServiceKey key, InetEndpoint endpoint, ForwardingMethod method, int weight, TunnelType tunnelType, ushort tunnelPort, TunnelFlags tunnelFlags)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{ServiceName(key)} -r {Numeric(endpoint)} {Switch(method)} -w {weight}");
        if (method == ForwardingMethod.Tunnel)
        {
            text.Append(" --tun-type ").Append(IpvsadmRulesParser.TunnelName(tunnelType));
            if (tunnelType == TunnelType.Gue)
            {
                text.Append(CultureInfo.InvariantCulture, $" --tun-port {tunnelPort}");
            }

            if (tunnelType != TunnelType.IpIp)
            {
                text.Append(' ').Append(TunnelFlagOption(tunnelFlags));
            }
        }

        return text.ToString();
    }

    /// <summary>Prints <c>ipvsadm -L --timeout</c>: <c>Timeout (tcp tcpfin udp): 900 120 300</c>.</summary>
    /// <param name="timeouts">The timeouts.</param>
    /// <returns>The line, with its line feed.</returns>
    public static string Timeout(ConnectionTimeouts timeouts)
    {
        ArgumentNullException.ThrowIfNull(timeouts);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"Timeout (tcp tcpfin udp): {timeouts.GetTcp(TcpConnectionState.Established)} {timeouts.GetTcp(TcpConnectionState.FinWait)} {timeouts.Udp}\n");
    }

    /// <summary>Prints <c>ipvsadm -L -n -c</c> (the connection table), as <see cref="ConnectionListing"/> does.</summary>
    /// <param name="connections">The connection table (<see cref="DirectorEngine.Connections"/>).</param>
    /// <returns>The text, each line ending in a line feed.</returns>
    public static string Connections(ConnectionTable connections) => Connections(connections, persistentConnections: false);

    /// <summary>
    /// Prints <c>ipvsadm -L -n -c</c>, or with <paramref name="persistentConnections"/> <c>ipvsadm -L -n -c --persistent-conn</c>
    /// (the header gains the <c>pe name</c> and <c>pe_data</c> columns; lines have none, as ipvsadm prints connections
    /// without persistence-engine data).
    /// </summary>
    /// <param name="connections">The connection table (<see cref="DirectorEngine.Connections"/>).</param>
    /// <param name="persistentConnections">ipvsadm's <c>--persistent-conn</c>.</param>
    /// <returns>The text, each line ending in a line feed.</returns>
    public static string Connections(ConnectionTable connections, bool persistentConnections)
    {
        ArgumentNullException.ThrowIfNull(connections);
        using var writer = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        ConnectionListing.Write(writer, connections.Enumerate(), persistentConnections);
        return writer.ToString();
    }

    /// <summary>print_largenum: 9 wide, or K/M/G/T beyond 10^8 (ipvsadm's thresholds); <c>--exact</c> widens instead.</summary>
    internal static string LargeNumber(ulong value, bool exact)
    {
        var c = CultureInfo.InvariantCulture;
        if (exact)
        {
            string digits = value.ToString(c);
            return digits.PadLeft(digits.Length <= 8 ? 9 : digits.Length + 1);
        }

        return value switch
        {
            < 100_000_000UL => value.ToString(c).PadLeft(9),
            < 1_000_000_000UL => (value / 1000).ToString(c).PadLeft(8) + "K",
            < 100_000_000_000UL => (value / 1_000_000).ToString(c).PadLeft(8) + "M",
            < 100_000_000_000_000UL => (value / 1_000_000_000).ToString(c).PadLeft(8) + "G",
            _ => (value / 1_000_000_000_000).ToString(c).PadLeft(8) + "T",
        };
    }

    private static void AppendTitle(StringBuilder text, IpvsadmListFormat format)
    {
        const string Local = "Prot LocalAddress:Port";
        if (format.Stats)
        {
            text.Append(CultureInfo.InvariantCulture, $"{Local,-33} {"Conns",8} {"InPkts",8} {"OutPkts",8} {"InBytes",8} {"OutBytes",8}\n  -> RemoteAddress:Port\n");
        }
        else if (format.Rate)
        {
            text.Append(CultureInfo.InvariantCulture, $"{Local,-33} {"CPS",8} {"InPPS",8} {"OutPPS",8} {"InBPS",8} {"OutBPS",8}\n  -> RemoteAddress:Port\n");
        }
        else if (format.Thresholds)
        {
            text.Append(CultureInfo.InvariantCulture, $"{Local,-33} {"Uthreshold",-10} {"Lthreshold",-10} {"ActiveConn",-10} {"InActConn",-10}\n  -> RemoteAddress:Port\n");
        }
        else if (format.PersistentConnections)
        {
            text.Append(CultureInfo.InvariantCulture, $"{Local,-33} {"Weight",-9} {"PersistConn",-11} {"ActiveConn",-10} {"InActConn",-10}\n  -> RemoteAddress:Port\n");
        }
        else if (format.TunnelInfo)
        {
            text.Append("Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n");
        }
        else
        {
            text.Append("Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
        }
    }

    private static void AppendService(StringBuilder text, VirtualService service, IpvsadmListFormat format, IIpvsadmStatistics? statistics)
    {
        var c = CultureInfo.InvariantCulture;
        var key = service.Key;
        var options = service.Options;
        string name;
        if (key.IsFirewallMark)
        {
            name = key.IsIPv6 ? $"FWM  {key.FirewallMark} IPv6" : $"FWM  {key.FirewallMark}";
        }
        else
        {
            name = $"{key.Protocol switch { L4Protocol.Tcp => "TCP", L4Protocol.Udp => "UDP", _ => "SCTP" }}  {Numeric(key.Endpoint)}";
            if (!key.IsIPv6 && name.Length > 33)
            {
                name = name[..33];
            }
        }

        if (format.Stats)
        {
            var counters = statistics?.GetCounters(service) ?? default;
            text.Append(c, $"{name,-33}");
            AppendCounters(text, counters, format.Exact);
        }
        else if (format.Rate)
        {
            var rates = statistics?.GetRates(service) ?? default;
            text.Append(c, $"{name,-33}");
            AppendRates(text, rates, format.Exact);
        }
        else
        {
            text.Append(name).Append(' ').Append(options.Scheduler);
            if (options.SchedulerFlags != SchedulerFlags.None)
            {
                text.Append(" (").Append(SchedulerFlagNames(options)).Append(')');
            }

            if (options.IsPersistent)
            {
                text.Append(c, $" persistent {options.PersistenceTimeout}");
                if (Netmask(service.Options) is { } mask)
                {
                    text.Append(" mask ").Append(mask);
                }
            }

            if (options.OnePacket)
            {
                text.Append(" ops");
            }
        }

        text.Append('\n');
        foreach (var server in Servers(service, format.NoSort))
        {
            string dname = Numeric(server.Endpoint);
            if (!server.Address.IsIPv6 && dname.Length > 28)
            {
                dname = dname[..28];
            }

            if (format.Stats)
            {
                text.Append(c, $"  -> {dname,-28}");
                AppendCounters(text, statistics?.GetCounters(server) ?? default, format.Exact);
                text.Append('\n');
            }
            else if (format.Rate)
            {
                var rates = statistics?.GetRates(server) ?? default;
                text.Append(c, $"  -> {dname,-28} {rates.ConnectionsPerSecond,8} {rates.InPacketsPerSecond,8} {rates.OutPacketsPerSecond,8}");
                text.Append(LargeNumber((ulong)rates.InBytesPerSecond, format.Exact)).Append(LargeNumber((ulong)rates.OutBytesPerSecond, format.Exact));
                text.Append('\n');
            }
            else if (format.Thresholds)
            {
                text.Append(c, $"  -> {dname,-28} {server.UpperThreshold,-10} {server.LowerThreshold,-10} {server.ActiveConnections,-10} {server.InactiveConnections,-10}\n");
            }
            else if (format.PersistentConnections)
            {
                text.Append(c, $"  -> {dname,-28} {server.Weight,-9} {server.PersistentConnections,-11} {server.ActiveConnections,-10} {server.InactiveConnections,-10}\n");
            }
            else if (format.TunnelInfo)
            {
                text.Append(c, $"  -> {dname,-28} {ForwardName(server.ForwardingMethod),-7} {TunnelInfo(server),-13} {server.Weight,-6} {server.ActiveConnections,-10} {server.InactiveConnections,-10}\n");
            }
            else
            {
                text.Append(c, $"  -> {dname,-28} {ForwardName(server.ForwardingMethod),-7} {server.Weight,-6} {server.ActiveConnections,-10} {server.InactiveConnections,-10}\n");
            }
        }
    }

    private static void AppendCounters(StringBuilder text, IpvsCounters counters, bool exact) =>
        text.Append(LargeNumber((ulong)counters.Connections, exact))
            .Append(LargeNumber((ulong)counters.InPackets, exact))
            .Append(LargeNumber((ulong)counters.OutPackets, exact))
            .Append(LargeNumber((ulong)counters.InBytes, exact))
            .Append(LargeNumber((ulong)counters.OutBytes, exact));

    private static void AppendRates(StringBuilder text, IpvsRates rates, bool exact) =>
        text.Append(LargeNumber((ulong)rates.ConnectionsPerSecond, exact))
            .Append(LargeNumber((ulong)rates.InPacketsPerSecond, exact))
            .Append(LargeNumber((ulong)rates.OutPacketsPerSecond, exact))
            .Append(LargeNumber((ulong)rates.InBytesPerSecond, exact))
            .Append(LargeNumber((ulong)rates.OutBytesPerSecond, exact));

    private static IEnumerable<VirtualService> Services(ServiceTableSnapshot snapshot, bool noSort) =>
        noSort ? snapshot.Services : IpvsadmOrder.Sort(snapshot.Services, static (a, b) => IpvsadmOrder.CompareServices(a.Key, b.Key));

    private static IEnumerable<RealServer> Servers(VirtualService service, bool noSort) =>
        noSort ? service.RealServers : IpvsadmOrder.Sort(service.RealServers, static (a, b) => IpvsadmOrder.CompareDestinations(a.Endpoint, b.Endpoint));

    // addrport_to_anyname with FMT_NUMERIC: "a.b.c.d:port" or "[v6]:port".
    private static string Numeric(InetEndpoint endpoint) =>
        endpoint.Address.IsIPv4
            ? string.Create(CultureInfo.InvariantCulture, $"{endpoint.Address}:{endpoint.Port}")
            : string.Create(CultureInfo.InvariantCulture, $"[{endpoint.Address}]:{endpoint.Port}");

    // The -M / mask text: a dotted netmask for IPv4, a prefix length for IPv6; null for a single address.
    private static string? Netmask(VirtualServiceOptions options)
    {
        if (options.PersistencePrefixLength is not { } prefix)
        {
            return null;
        }

        if (options.Key.IsIPv6)
        {
            return prefix == 128 ? null : prefix.ToString(CultureInfo.InvariantCulture);
        }

        if (prefix == 32)
        {
            return null;
        }

        uint mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
        return InetAddress.FromIPv4(mask).ToString();
    }

    // print_sched_flags: sh and mh name their two flags (and print nothing for flag-3), other schedulers print flag-N.
    private static string SchedulerFlagNames(VirtualServiceOptions options)
    {
        var flags = options.SchedulerFlags;
        var names = new List<string>(3);
        string? prefix = options.Scheduler is SchedulerNames.SourceHashing or SchedulerNames.MaglevHashing ? options.Scheduler : null;
        if (flags.HasFlag(SchedulerFlags.Fallback))
        {
            names.Add(prefix is null ? "flag-1" : $"{prefix}-fallback");
        }

        if (flags.HasFlag(SchedulerFlags.Port))
        {
            names.Add(prefix is null ? "flag-2" : $"{prefix}-port");
        }

        if (flags.HasFlag(SchedulerFlags.Flag3) && prefix is null)
        {
            names.Add("flag-3");
        }

        return string.Join(',', names);
    }

    private static string ForwardName(ForwardingMethod method) => method switch
    {
        ForwardingMethod.Nat => "Masq",
        ForwardingMethod.Tunnel => "Tunnel",
        ForwardingMethod.FullNat => "FullNat",
        _ => "Route",
    };

    private static string Switch(ForwardingMethod method) => method switch
    {
        ForwardingMethod.Nat => "-m",
        ForwardingMethod.Tunnel => "-i",
        ForwardingMethod.FullNat => "--fullnat",
        _ => "-g",
    };

    private static string TunnelFlagOption(TunnelFlags flags) =>
        flags.HasFlag(TunnelFlags.RemoteChecksum) ? "--tun-remcsum" : flags.HasFlag(TunnelFlags.Checksum) ? "--tun-csum" : "--tun-nocsum";

    // fwd_tun_info: "ipip", "gue:PORT:FLAGS", "gre:FLAGS" with flags -c, +c, r+c; "n/a" for other methods.
    private static string TunnelInfo(RealServer server)
    {
        if (server.ForwardingMethod != ForwardingMethod.Tunnel)
        {
            return "n/a";
        }

        string flags = server.TunnelFlags.HasFlag(TunnelFlags.RemoteChecksum) ? "r+c" : server.TunnelFlags.HasFlag(TunnelFlags.Checksum) ? "+c" : "-c";
        return server.TunnelType switch
        {
            TunnelType.Gue => string.Create(CultureInfo.InvariantCulture, $"gue:{server.TunnelPort}:{flags}"),
            TunnelType.Gre => $"gre:{flags}",
            _ => "ipip",
        };
    }

    private sealed class EngineStatistics(DirectorEngine engine) : IIpvsadmStatistics
    {
        public IpvsCounters GetCounters(VirtualService service) => engine.GetCounters(service);

        public IpvsCounters GetCounters(RealServer server) => engine.GetCounters(server);

        public IpvsRates GetRates(VirtualService service) => engine.GetRates(service);

        public IpvsRates GetRates(RealServer server) => engine.GetRates(server);
    }
}
