using System.Globalization;
using Lvs.Core;

namespace Lvs.Hosting;

/// <summary>
/// The director's host options, bound from the configuration section <c>Lvs</c> (appsettings.json, environment,
/// command line) or set in code; <c>lvs-director run</c>'s options map one to one.
/// </summary>
/// <remarks>
/// <code>
/// "Lvs": {
///   "RulesFile": "/etc/lvs/rules",
///   "Interfaces": [ "eth0" ],
///   "Taps": [ "lvs0=10.1.0.1/24" ],
///   "LocalAddresses": [ "10.1.0.100" ],
///   "Gateway": "10.0.0.254",
///   "Workers": 2,
///   "Sysctls": [ "conn_reuse_mode=3" ],
///   "NoHostAnswers": [ "echo" ],
///   "FtpPorts": [ 21 ],
///   "StatsInterval": "00:00:10"
/// }
/// </code>
/// </remarks>
public sealed class LvsDirectorOptions
{
    /// <summary>The configuration section the options are bound from: <c>Lvs</c>.</summary>
    public const string SectionName = "Lvs";

    /// <summary>An ipvsadm rules file (the <c>ipvsadm-save -n</c> format): <c>--rules</c>.</summary>
    public string? RulesFile { get; set; }

    /// <summary>A keepalived.conf: <c>--keepalived</c>.</summary>
    public string? KeepalivedFile { get; set; }

    /// <summary>Existing interfaces to open as AF_PACKET links (their kernel addresses are the director's own): <c>--interface</c>.</summary>
    public IList<string> Interfaces { get; } = [];

    /// <summary>TAP devices the director creates and owns, each <c>NAME=ADDRESS/PREFIX</c>: <c>--tap</c>.</summary>
    public IList<string> Taps { get; } = [];

    /// <summary>FULLNAT local (source) addresses, owned by the director: <c>--local-address</c>.</summary>
    public IList<string> LocalAddresses { get; } = [];

    /// <summary>The IPv4 next hop for everything outside the connected subnets: <c>--gateway</c>.</summary>
    public string? Gateway { get; set; }

    /// <summary>The IPv6 next hop for everything outside the connected subnets.</summary>
    public string? GatewayV6 { get; set; }

    /// <summary>
    /// IPVS sysctls, each <c>NAME=VALUE</c> (<c>conn_reuse_mode=3</c>, <c>net.ipv4.vs.expire_nodest_conn=1</c>): the
    /// kernel's <c>/proc/sys/net/ipv4/vs</c> settings this director applies (<see cref="IpvsSysctls"/>): <c>--sysctl</c>.
    /// </summary>
    public IList<string> Sysctls { get; } = [];

    /// <summary>
    /// Answers the director gives as the host of its addresses that are to be turned off (<see cref="HostAnswers"/>:
    /// <c>tcp-reset</c>, <c>sctp-abort</c>, <c>udp-unreachable</c>, <c>protocol-unreachable</c>, <c>echo</c>; all on by
    /// default, as a kernel director's host gives them): <c>--no-host-answer</c>.
    /// </summary>
    public IList<string> NoHostAnswers { get; } = [];

    /// <summary>
    /// The FTP helper's control ports (<see cref="Director.DirectorOptions.FtpPorts"/>, the kernel's <c>ip_vs_ftp</c>
    /// with its <c>ports</c> parameter): NAT services on these ports carry FTP, whose data connections the director
    /// then expects: <c>--ftp-port</c>. None by default.
    /// </summary>
    public IList<ushort> FtpPorts { get; } = [];

    /// <summary>
    /// True to give mh services the kernel's own table and flow hash (<see cref="Scheduling.SchedulerOptions.MaglevKernelCompatible"/>),
    /// so that this director and kernel directors with the same rules pick the same real server for every client
    /// behind one ECMP route: <c>--mh-kernel</c>. False by default.
    /// </summary>
    public bool MaglevKernelCompatible { get; set; }

    /// <summary>
    /// True to let rr services hand out their positions in runs per packet thread (<see cref="Scheduling.SchedulerOptions.RoundRobinRunsPerThread"/>),
    /// so that several <see cref="Workers"/> creating connections at once write the shared position once per run instead
    /// of on every pick (consecutive connections then alternate within each worker's run): <c>--rr-per-thread</c>. False
    /// by default: one position, as the kernel's one mark.
    /// </summary>
    public bool RoundRobinRunsPerThread { get; set; }

    /// <summary>
    /// True to give wrr services a position per packet thread (<see cref="Scheduling.SchedulerOptions.WeightedRoundRobinPositionPerThread"/>),
    /// so that several <see cref="Workers"/> creating connections at once do not share one word on every pick (each
    /// worker then follows wrr's sequence on its own): <c>--wrr-per-thread</c>. False by default: one position, as the
    /// kernel's one mark.
    /// </summary>
    public bool WeightedRoundRobinPositionPerThread { get; set; }

    /// <summary>
    /// How many picks of one packet thread the other threads' connection counts serve, for the services whose scheduler
    /// reads every server's counts (lc, wlc, sed, nq, ovf, lblc, lblcr;
    /// <see cref="Scheduling.SchedulerOptions.OtherThreadCountsRefreshPicks"/>), so that several <see cref="Workers"/>
    /// creating connections at once stop reading the counter lines the others just wrote on every pick; weights and
    /// flags still count from the next pick: <c>--counts-refresh-picks</c>. 0 by default: every pick reads every
    /// thread's counts, as the kernel's.
    /// </summary>
    public int OtherThreadCountsRefreshPicks { get; set; }

    /// <summary>
    /// True to answer source-routed IPv4 packets for the director's addresses (echo requests, TCP segments it resets)
    /// along the reversed route, as a host with the kernel's <c>accept_source_route</c> on does
    /// (<see cref="Director.DirectorOptions.AcceptSourceRoute"/>): <c>--accept-source-route</c>. False by default, as
    /// the kernel's default: such packets are dropped.
    /// </summary>
    public bool AcceptSourceRoute { get; set; }

    /// <summary>Packet threads (each uses one queue of every link: PACKET_FANOUT members or TAP queues): <c>--workers</c>. 1 by default.</summary>
    public int Workers { get; set; } = 1;

    /// <summary>
    /// True to give the connection table an index partition per packet thread
    /// (<see cref="ConnectionTracking.ConnectionTableOptions.IndexPartitions"/>), with steered flows
    /// (<see cref="ConnectionTracking.ConnectionTableOptions.SteeredFlows"/>) when every link is an interface, whose
    /// AF_PACKET fan-out gives every client packet of a flow to one worker (a TAP's kernel moves a flow to the queue its
    /// reply was last written on, so with a TAP link lookups look in every partition): <c>--partition-connections</c>. Each worker then adds, looks up and expires its
    /// flows' connections apart from the others', so two workers create new connections at about 1.75 times one
    /// worker's rate instead of 0.8-0.9; but a reply that reaches another worker than the one that added its
    /// connection is looked for in the worker's partition first, in vain: measured, a NAT reply then costs 40-60 ns
    /// more (NAT and FULLNAT replies are steered by their own key, so about half of them do); and a flow whose steering
    /// changes under it (a NIC's indirection table rewritten) loses its connection on its new worker. A gain for
    /// direct routing and tunnelling, whose replies do not come back, and for many short connections; for NAT and
    /// FULLNAT with long flows, one table (false, the default, as the kernel's single connection table) is faster.
    /// docs/benchmarks.md, issue 18.
    /// </summary>
    public bool PartitionConnections { get; set; }

    /// <summary>How often to write the <c>ipvsadm -L -n --stats</c> table; null: never. <c>--stats-interval</c>.</summary>
    public TimeSpan? StatsInterval { get; set; }

    /// <summary>The frames one receive takes at most (the batch the engine processes at once). 64 by default.</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>
    /// How long a packet thread waits for frames when it has only one link (milliseconds); with several links it
    /// polls them and waits 1 ms on the last when all are idle. 10 by default.
    /// </summary>
    public int ReceiveTimeoutMilliseconds { get; set; } = 10;

    /// <summary>
    /// The frames each packet thread can hold for neighbours being resolved (preallocated; each neighbour holds at
    /// most <see cref="Devices.Neighbors.NeighborParameters.UnresolvedQueueLength"/>). 256 by default.
    /// </summary>
    public int HeldFramesPerWorker { get; set; } = 256;

    /// <summary>The largest frame a held-frame slot takes (frames longer are dropped with NeighborUnresolved). 4,032 by default.</summary>
    public int HeldFrameSize { get; set; } = 4096 - Devices.FrameBatch.DefaultHeadroom;

    /// <summary>The links to create, in order (the director's link indexes): interfaces first, then TAP devices.</summary>
    /// <returns>The specifications.</returns>
    /// <exception cref="FormatException">A TAP specification is not <c>NAME=ADDRESS/PREFIX</c>.</exception>
    public IReadOnlyList<LinkSpecification> GetLinkSpecifications()
    {
        var result = new List<LinkSpecification>();
        foreach (var name in Interfaces)
        {
            result.Add(new LinkSpecification(name, LinkKind.Interface, []));
        }

        foreach (var tap in Taps)
        {
            int equals = tap.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || !InetPrefix.TryParse(tap.AsSpan(equals + 1), out var prefix))
            {
                throw new FormatException($"--tap '{tap}': expected NAME=ADDRESS/PREFIX (lvs0=10.1.0.1/24).");
            }

            result.Add(new LinkSpecification(tap[..equals], LinkKind.Tap, [prefix]));
        }

        return result;
    }

    /// <summary>The FULLNAT local addresses, parsed.</summary>
    /// <returns>The addresses.</returns>
    /// <exception cref="FormatException">An address is not an IP address.</exception>
    public IReadOnlyList<InetAddress> GetLocalAddresses() => [.. LocalAddresses.Select(text => ParseAddress(text, "--local-address"))];

    /// <summary>The gateways, parsed.</summary>
    /// <returns>The IPv4 and IPv6 gateways.</returns>
    /// <exception cref="FormatException">A gateway is not an IP address of its family.</exception>
    public (InetAddress? IPv4, InetAddress? IPv6) GetGateways()
    {
        InetAddress? v4 = string.IsNullOrWhiteSpace(Gateway) ? null : ParseAddress(Gateway, "--gateway");
        InetAddress? v6 = string.IsNullOrWhiteSpace(GatewayV6) ? null : ParseAddress(GatewayV6, "GatewayV6");
        if (v4 is { IsIPv6: true } && v6 is null)
        {
            // --gateway takes either family: an IPv6 address there is the IPv6 gateway.
            (v4, v6) = (null, v4);
        }

        if (v4 is { IsIPv6: true } || v6 is { IsIPv4: true })
        {
            throw new FormatException($"The gateways {Gateway} and {GatewayV6} are not one IPv4 and one IPv6 address.");
        }

        return (v4, v6);
    }

    /// <summary>Checks every option and returns what is wrong.</summary>
    /// <returns>The problems (empty when valid).</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Workers < 1)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"Workers must be at least 1 (is {Workers})."));
        }

        if (OtherThreadCountsRefreshPicks < 0)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"OtherThreadCountsRefreshPicks must be at least 0 (is {OtherThreadCountsRefreshPicks})."));
        }

        if (BatchSize < 1 || ReceiveTimeoutMilliseconds < 0 || HeldFramesPerWorker < 0 || HeldFrameSize < 64)
        {
            errors.Add("BatchSize must be at least 1, ReceiveTimeoutMilliseconds and HeldFramesPerWorker at least 0, HeldFrameSize at least 64.");
        }

        if (StatsInterval is { } interval && interval <= TimeSpan.Zero)
        {
            errors.Add($"StatsInterval must be positive (is {interval}).");
        }

        Collect(errors, () => GetLinkSpecifications());
        Collect(errors, () => GetLocalAddresses());
        Collect(errors, () => GetGateways());
        Collect(errors, () => IpvsSysctls.Apply(new Director.DirectorOptions(), Sysctls));
        Collect(errors, () => HostAnswers.TurnOff(new Director.DirectorOptions(), NoHostAnswers));
        if (FtpPorts.Any(port => port < 2))
        {
            errors.Add("FtpPorts: a control port must be above 1 (its active data connections come from the port below it).");
        }
        if (Interfaces.Count + Taps.Count == 0)
        {
            errors.Add("No link: give at least one interface (--interface) or TAP device (--tap).");
        }

        return errors;
    }

    private static void Collect(List<string> errors, Action parse)
    {
        try
        {
            parse();
        }
        catch (FormatException e)
        {
            errors.Add(e.Message);
        }
    }

    private static InetAddress ParseAddress(string text, string option) =>
        InetAddress.TryParse(text.Trim(), out var address) ? address : throw new FormatException($"{option} '{text}': not an IP address.");
}
