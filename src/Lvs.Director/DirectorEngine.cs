using System.Collections.Concurrent;
using System.Collections.Frozen;
using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Director.Statistics;
using Lvs.Forwarding;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lvs.Director;

/// <summary>
/// The director: the kernel's <c>ip_vs_core.c</c> as a library. It owns the connection table and the rewriters, reads
/// the <see cref="ServiceTable"/>, and turns each frame a link received into a <see cref="FrameVerdict"/> through a
/// <see cref="PacketWorker"/> (one per packet thread).
/// </summary>
/// <remarks>
/// Threading: any number of workers process frames at once, each on its own thread; they share the connection table
/// (lock-free lookups and updates) and read the table's state through an immutable view rebuilt on each change. Table
/// edits, health events, statistics reads and housekeeping run on other threads and never block a worker.
/// </remarks>
public sealed class DirectorEngine : IDisposable
{
    private readonly ConcurrentBag<WorkerCounters> _workers = [];
    private int _workersCreated;
    private readonly Dictionary<(bool Service, int Index), RateEstimator> _estimators = [];
    private readonly Lock _estimatorGate = new();
    private readonly TimeProvider _time;

    /// <summary>The engine's clock (the wall clock of ICMP timestamp replies).</summary>
    internal TimeProvider Time => _time;
    private readonly ILogger _logger;
    private EngineView _view;
    private ITimer? _rateTimer;
    private PressureSeen _pressure;

    /// <summary>Creates a director over a service table and a set of links.</summary>
    /// <param name="table">The service table (the one model).</param>
    /// <param name="links">The links, indexed by <see cref="DirectorLink.Index"/> (0, 1, ...).</param>
    /// <param name="options">The options; null: the defaults.</param>
    /// <param name="neighbors">The neighbour table; null: a new empty one.</param>
    /// <param name="timeProvider">The clock (connection timeouts, rates, neighbour times); null: the system clock.</param>
    /// <param name="loggerFactory">Logging; null: none.</param>
    /// <exception cref="ArgumentException">The links are not numbered 0, 1, ... or an option is invalid.</exception>
    public DirectorEngine(
        ServiceTable table,
        IReadOnlyList<DirectorLink> links,
        DirectorOptions? options = null,
        NeighborTable? neighbors = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(links);
        Options = options ?? new DirectorOptions();
        Options.Validate();
        if (links.Count > short.MaxValue)
        {
            // A verdict carries its link in 16 bits (FrameVerdict).
            throw new ArgumentException($"{links.Count} links: a director has at most {short.MaxValue}.", nameof(links));
        }

        for (int i = 0; i < links.Count; i++)
        {
            if (links[i].Index != i)
            {
                throw new ArgumentException($"Link '{links[i].Name}' has index {links[i].Index}, expected {i}: links are numbered in order from 0.", nameof(links));
            }
        }

        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Lvs.Director");
        Table = table;
        LinkArray = [.. links];
        Neighbors = neighbors ?? new NeighborTable(_time);
        Routes = new ConnectedRoutes(LinkArray, Options.Gateway, Options.GatewayV6, Neighbors);
        // Every connection's end comes back here once (expiry, removal, flood defence): FULLNAT ports are released.
        var userObserver = Options.Connections.EndObserver;
        Connections = new ConnectionTable(Options.Connections with { EndObserver = new EndObserver(this, userObserver) }, table.Registry, _time);
        Dr = new DirectRoutingRewriter(Options.Forwarding);
        Nat = new NatRewriter(Options.Forwarding);
        FullNat = new FullNatRewriter(Options.Forwarding);

        // A NAT reply whose TTL runs out is answered from the director's address on the link it came in on, as the
        // kernel's ip_forward / icmp_send picks the source by routing back to the real server: one reply rewriter per
        // link (they share the options' ICMP rate limiter); RealServerLinkIPv4/IPv6 set in the options win. (A FULLNAT
        // reply is addressed to the local address, which answers it.)
        NatReplies = new NatRewriter[LinkArray.Length];
        for (int i = 0; i < LinkArray.Length; i++)
        {
            var forwarding = Options.Forwarding with
            {
                RealServerLinkIPv4 = Options.Forwarding.RealServerLinkIPv4 ?? (LinkArray[i].TryGetSourceAddress(ipv6: false, out var v4) ? v4 : null),
                RealServerLinkIPv6 = Options.Forwarding.RealServerLinkIPv6 ?? (LinkArray[i].TryGetSourceAddress(ipv6: true, out var v6) ? v6 : null),
            };
            NatReplies[i] = new NatRewriter(forwarding);
        }

        Tunnel = new TunnelEncapsulator(Options.Forwarding);
        Icmp = new IcmpErrorTranslator(Options.Forwarding);
        Ftp = Options.FtpPorts.Count != 0 ? new Ftp.FtpHelper(Options.FtpPorts) : null;
        LocalAddresses = Options.LocalAddresses.Count > 0
            ? new FullNatLocalAddressAllocator(Options.LocalAddresses, Options.LocalPortFirst, Options.LocalPortLast)
            : null;
        _view = BuildView(table.Snapshot);
        table.Changed += OnTableChanged;
    }

    /// <summary>The options.</summary>
    public DirectorOptions Options { get; }

    /// <summary>The service table the engine reads.</summary>
    public ServiceTable Table { get; }

    /// <summary>The links, by index.</summary>
    public IReadOnlyList<DirectorLink> Links => LinkArray;

    /// <summary>The links as an array: the packet path indexes it without an interface call.</summary>
    internal DirectorLink[] LinkArray { get; }

    /// <summary>The neighbour table.</summary>
    public NeighborTable Neighbors { get; }

    /// <summary>The connection table (<c>ipvsadm -L -c</c>).</summary>
    public ConnectionTable Connections { get; }

    /// <summary>The FULLNAT local address and port allocator; null when no local address is configured.</summary>
    public FullNatLocalAddressAllocator? LocalAddresses { get; }

    internal DirectRoutingRewriter Dr { get; }

    internal NatRewriter Nat { get; }

    internal FullNatRewriter FullNat { get; }

    /// <summary>The NAT rewriters of replies, by the link they arrive on (their time exceeded comes from its address).</summary>
    internal NatRewriter[] NatReplies { get; }

    internal TunnelEncapsulator Tunnel { get; }

    internal IcmpErrorTranslator Icmp { get; }

    /// <summary>The FTP helper (<see cref="DirectorOptions.FtpPorts"/>); null without control ports.</summary>
    internal Ftp.FtpHelper? Ftp { get; }

    internal EngineView View => Volatile.Read(ref _view);

    /// <summary>
    /// Creates a packet worker: one per packet thread (a worker is not thread-safe; workers run in parallel). Workers
    /// are numbered in order of creation, and worker n makes its thread packet thread n (<see cref="PacketThread"/>):
    /// with <see cref="ConnectionTableOptions.IndexPartitions"/> set to the number of workers, each adds and expires
    /// its connections in a part of the table of its own.
    /// </summary>
    /// <returns>The worker.</returns>
    public PacketWorker CreateWorker()
    {
        var counters = new WorkerCounters();
        _workers.Add(counters);
        return new PacketWorker(this, counters, Interlocked.Increment(ref _workersCreated) - 1);
    }

    /// <summary>A service's counters, summed over the workers (<c>ipvsadm -L --stats</c>).</summary>
    /// <param name="service">The service.</param>
    /// <returns>The counters.</returns>
    public IpvsCounters GetCounters(VirtualService service)
    {
        ArgumentNullException.ThrowIfNull(service);
        return Sum(isService: true, service.Index);
    }

    /// <summary>A real server's counters in its service, summed over the workers.</summary>
    /// <param name="server">The server.</param>
    /// <returns>The counters; zero for a server the table does not know.</returns>
    public IpvsCounters GetCounters(RealServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return Table.Registry.TryGetIndex(server, out int index) ? Sum(isService: false, index) : default;
    }

    /// <summary>A service's rates (<c>ipvsadm -L --rate</c>) as of the last 2-second sample.</summary>
    /// <param name="service">The service.</param>
    /// <returns>The rates.</returns>
    public IpvsRates GetRates(VirtualService service)
    {
        ArgumentNullException.ThrowIfNull(service);
        return ReadRates(isService: true, service.Index);
    }

    /// <summary>A real server's rates as of the last 2-second sample.</summary>
    /// <param name="server">The server.</param>
    /// <returns>The rates.</returns>
    public IpvsRates GetRates(RealServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return Table.Registry.TryGetIndex(server, out int index) ? ReadRates(isService: false, index) : default;
    }

    /// <summary>The frames dropped for a reason, summed over the workers.</summary>
    /// <param name="reason">The reason.</param>
    /// <returns>The count.</returns>
    public long GetDropCount(DropReason reason)
    {
        long sum = 0;
        foreach (var worker in _workers)
        {
            sum += Volatile.Read(ref worker.Drops[(int)reason]);
        }

        return sum;
    }

    /// <summary>Every drop reason with a count above zero.</summary>
    /// <returns>The counts by reason.</returns>
    public IReadOnlyDictionary<DropReason, long> GetDropCounts()
    {
        var result = new Dictionary<DropReason, long>();
        foreach (var reason in Enum.GetValues<DropReason>())
        {
            long count = GetDropCount(reason);
            if (count > 0)
            {
                result[reason] = count;
            }
        }

        return result;
    }

    /// <summary>
    /// Takes one 2-second sample of every service's and real server's counters into its rate estimator (what the
    /// kernel's estimation timer does). <see cref="Start"/> runs it every 2 seconds; tests call it on their own clock.
    /// The first sample of a service or server counts everything since it was added, as the kernel's estimator, started
    /// with the service from counters at 0. Nothing is sampled with <see cref="DirectorOptions.RunEstimation"/> off.
    /// </summary>
    public void SampleRates()
    {
        if (!Options.RunEstimation)
        {
            return;
        }

        var snapshot = View.Snapshot;
        lock (_estimatorGate)
        {
            foreach (var service in snapshot.Services)
            {
                Sample(isService: true, service.Index);
            }

            for (int i = 0; i < snapshot.Servers.Length; i++)
            {
                if (snapshot.Servers[i].Server is not null)
                {
                    Sample(isService: false, i);
                }
            }
        }
    }

    /// <summary>Starts the connection table's housekeeping (expiry every second) and the rate estimator (every 2 seconds).</summary>
    public void Start()
    {
        Connections.StartHousekeeping();
        _rateTimer ??= _time.CreateTimer(
            static state =>
            {
                var engine = (DirectorEngine)state!;
                engine.SampleRates();
                engine.ReportPressure();
            },
            this,
            RateEstimator.Interval,
            RateEstimator.Interval);
    }

    /// <summary>
    /// Logs, once per call (every 2 seconds from <see cref="Start"/>'s timer), what happened under pressure since the
    /// previous call: connections the full table shed (flood defence) or refused, the secure_tcp defence switching on
    /// or off, and new FULLNAT connections dropped because every local address and port was taken. Counts, never one
    /// line per packet.
    /// </summary>
    internal void ReportPressure()
    {
        lock (_estimatorGate)
        {
            var now = _time.GetUtcNow();
            double seconds = _pressure.At == default ? RateEstimator.Interval.TotalSeconds : Math.Max(0, (now - _pressure.At).TotalSeconds);
            long shed = Connections.Shed;
            long refused = Connections.Refused;
            long exhausted = GetDropCount(DropReason.LocalAddressesExhausted);
            bool secure = Connections.SecureTcpActive;
            if (shed != _pressure.Shed || refused != _pressure.Refused)
            {
                DirectorLog.TableFull(_logger, shed - _pressure.Shed, refused - _pressure.Refused, seconds, Options.Connections.Capacity);
            }

            if (secure != _pressure.SecureTcp)
            {
                DirectorLog.SecureTcp(_logger, secure ? "on" : "off");
            }

            if (exhausted != _pressure.Exhausted && LocalAddresses is not null)
            {
                DirectorLog.LocalAddressesExhausted(_logger, exhausted - _pressure.Exhausted, seconds, Options.LocalAddresses.Count, Options.LocalPortFirst, Options.LocalPortLast);
            }

            _pressure = new PressureSeen(now, shed, refused, exhausted, secure);
        }
    }

    /// <summary>
    /// The addresses the director owns on a link as of the current table: the link's own addresses, then the VIPs and
    /// FULLNAT local addresses homed there (the link whose subnet holds them, else the first). The host announces
    /// them (gratuitous ARP, unsolicited neighbour advertisements) and the engine answers ARP/NDP for them.
    /// </summary>
    /// <param name="link">The link's index.</param>
    /// <returns>The addresses; empty for an unknown link.</returns>
    public IReadOnlyList<InetAddress> GetOwnedAddresses(int link)
    {
        var owned = View.OwnedOnLink;
        return (uint)link < (uint)owned.Length ? owned[link] : [];
    }

    /// <summary>Stops the timers and detaches from the table.</summary>
    public void Dispose()
    {
        Table.Changed -= OnTableChanged;
        Interlocked.Exchange(ref _rateTimer, null)?.Dispose();
        Connections.Dispose();
    }

    /// <summary>Finds the link and next hop towards an address: a connected subnet of a link, else the family's gateway.</summary>
    internal bool TryRoute(InetAddress destination, out int link, out InetAddress nextHop) => Routes.TryRoute(destination, out link, out nextHop, out _);

    /// <summary>The connected subnets and gateways, flattened for the packet path.</summary>
    internal ConnectedRoutes Routes { get; }

    /// <summary>The link whose subnet holds an address the director owns (a VIP or a local address), else the first link: where it answers ARP for it.</summary>
    internal int HomeLink(InetAddress address)
    {
        foreach (var candidate in Links)
        {
            if (candidate.IsOnLink(address))
            {
                return candidate.Index;
            }
        }

        return Links.Count > 0 ? 0 : -1;
    }

    /// <summary>The pressure counters as the previous <see cref="ReportPressure"/> saw them.</summary>
    private readonly record struct PressureSeen(DateTimeOffset At, long Shed, long Refused, long Exhausted, bool SecureTcp);

    /// <summary>Releases what a connection held when it leaves the table, then tells the user's observer.</summary>
    private sealed class EndObserver(DirectorEngine engine, IConnectionEndObserver? next) : IConnectionEndObserver
    {
        public void OnConnectionEnded(in ConnectionEnd end)
        {
            if (end.Method == ForwardingMethod.FullNat && !end.IsTemplate && end.Local.Port != 0)
            {
                _ = engine.LocalAddresses?.Release(end.Local);
            }

            engine.Ftp?.Forget(end.Handle);

            next?.OnConnectionEnded(end);
        }
    }

    private IpvsCounters Sum(bool isService, int index)
    {
        IpvsCounters sum = default;
        foreach (var worker in _workers)
        {
            sum += WorkerCounters.Read(isService ? worker.Services : worker.Servers, index);
        }

        return sum;
    }

    private void Sample(bool isService, int index)
    {
        var now = Sum(isService, index);
        if (_estimators.TryGetValue((isService, index), out var estimator))
        {
            estimator.Sample(now);
        }
        else
        {
            // The kernel starts a service's or server's estimator when it is added, from its counters, which are then 0:
            // indexes are never reused, so counters are 0 when their service or server appears, and the first sample
            // counts everything since.
            estimator = new RateEstimator(default);
            estimator.Sample(now);
            _estimators[(isService, index)] = estimator;
        }
    }

    private IpvsRates ReadRates(bool isService, int index)
    {
        lock (_estimatorGate)
        {
            return _estimators.TryGetValue((isService, index), out var estimator) ? estimator.Rates : default;
        }
    }

    private void OnTableChanged(ServiceTableSnapshot snapshot)
    {
        Volatile.Write(ref _view, BuildView(snapshot));
        DirectorLog.TableChanged(_logger, snapshot.Version, snapshot.Services.Count);
    }

    private EngineView BuildView(ServiceTableSnapshot snapshot)
    {
        var paths = new DestinationPath[snapshot.Servers.Length];
        var indexOf = new Dictionary<RealServer, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < paths.Length; i++)
        {
            var entry = snapshot.Servers[i];
            ref var path = ref paths[i];
            path.Link = -1;
            path.ServiceIndex = entry.ServiceIndex;
            path.Server = entry.Server;
            if (entry.Server is not null)
            {
                indexOf[entry.Server] = i;
                bool portless = entry.Service.IsFirewallMark || entry.Service.Endpoint.Port == 0;
                path.PacketPort = entry.Server.Port == 0 || (portless && snapshot.Find(entry.Service)?.Options.IsPersistent == true);
                path.StableDestination = !portless;
                path.ServicePort = entry.Service.IsFirewallMark ? (ushort)0 : entry.Service.Endpoint.Port;
            }

            if (entry.Server is null || !TryRoute(entry.Server.Address, out int link, out var nextHop))
            {
                continue;
            }

            path.Link = link;
            path.Neighbor = Neighbors.GetOrAdd(link, nextHop);
            if (entry.Options.Method == ForwardingMethod.Tunnel && Links[link].TryGetSourceAddress(entry.Server.Address.IsIPv6, out var source))
            {
                path.Tunnel = new TunnelRoute(source, entry.Server.Address, entry.Options.TunnelType, entry.Options.TunnelPort, entry.Options.TunnelFlags);
            }
        }

        var owned = new InetAddress[Links.Count][];
        var lists = new List<InetAddress>[Links.Count];
        for (int i = 0; i < Links.Count; i++)
        {
            lists[i] = [.. Links[i].Addresses.Select(prefix => prefix.Address)];
        }

        foreach (var vip in snapshot.VirtualAddresses)
        {
            int home = HomeLink(vip);
            if (home >= 0 && !lists[home].Contains(vip))
            {
                lists[home].Add(vip);
            }
        }

        // A firewall-mark rule for one address makes it a VIP of the director (the kernel's has it on an interface).
        foreach (var rule in Options.FirewallMarks)
        {
            if (!rule.IsHost)
            {
                continue;
            }

            int home = HomeLink(rule.Destination.Address);
            if (home >= 0 && !lists[home].Contains(rule.Destination.Address))
            {
                lists[home].Add(rule.Destination.Address);
            }
        }

        foreach (var local in Options.LocalAddresses)
        {
            int home = HomeLink(local);
            if (home >= 0 && !lists[home].Contains(local))
            {
                lists[home].Add(local);
            }
        }

        for (int i = 0; i < owned.Length; i++)
        {
            owned[i] = [.. lists[i]];
        }

        return new EngineView
        {
            Snapshot = snapshot,
            Paths = paths,
            OwnedOnLink = owned,
            LocalAddresses = [.. Options.LocalAddresses],
            MarkRules = [.. Options.FirewallMarks],
            IndexOf = indexOf,
            HasFullNat = snapshot.Servers.Any(entry => entry.Server is not null && entry.Options.Method == ForwardingMethod.FullNat),
            NatRealServices = Options.NatIcmpSend
                ? snapshot.Servers
                    .Where(entry => entry.Server is not null && entry.Options.Method == ForwardingMethod.Nat)
                    .Select(entry => (entry.Service.Protocol, entry.Server!.Endpoint))
                    .ToFrozenSet()
                : null,
        };
    }
}
