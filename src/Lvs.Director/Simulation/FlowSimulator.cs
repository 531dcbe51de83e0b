using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Director.Configuration;
using Lvs.Forwarding;
using Lvs.Scheduling;

namespace Lvs.Director.Simulation;

/// <summary>
/// Puts simulated new flows through the real director: each flow's first packet (a TCP SYN or a UDP datagram) is
/// written as a frame and processed by a <see cref="DirectorEngine"/>'s <see cref="PacketWorker"/> on one simulated
/// link, so the choice of real server is exactly the one the engine makes (service lookup, persistence templates,
/// scheduler, connection table). Every real server is on the link with a MAC address of its own; the clock stands still.
/// </summary>
/// <remarks>
/// <see cref="Apply"/> edits the pools as <c>ipvsadm -a/-d</c> would (the schedulers keep their state as the kernel's
/// do), and <see cref="ResetConnections"/> starts a fresh connection table, so the same flows run again are new
/// connections: <see cref="CompareRuns"/> then counts the flows that changed server. Firewall-mark services cannot be
/// reached by frames (a frame carries no mark). An SCTP flow's first packet is an INIT. Not thread-safe.
/// </remarks>
public sealed class FlowSimulator : IDisposable
{
    private static readonly MacAddress LinkMac = MacAddress.Parse("02:00:5e:00:53:01");
    private static readonly MacAddress ClientMac = MacAddress.Parse("02:00:5e:00:53:02");
    private static readonly InetPrefix LinkV4 = InetPrefix.Parse("198.18.255.254/0");
    private static readonly InetPrefix LinkV6 = InetPrefix.Parse("2001:db8:ffff::fffe/0");

    private readonly FlowSimulatorOptions _options;
    private readonly SimulationClock _clock = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly byte[] _buffer = new byte[FrameHeadroom.Required + 2048];
    private DirectorEngine _engine;
    private PacketWorker _worker;
    private uint _sequence = 1;

    /// <summary>Creates a simulator over a service table (the simulator edits it in <see cref="Apply"/>).</summary>
    /// <param name="table">The services and real servers.</param>
    /// <param name="options">The options; null: the defaults.</param>
    public FlowSimulator(ServiceTable table, FlowSimulatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        Table = table;
        _options = options ?? new FlowSimulatorOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.ConnectionCapacity, 1, nameof(options));
        (_engine, _worker) = CreateEngine();
    }

    /// <summary>The service table the flows are scheduled by.</summary>
    public ServiceTable Table { get; }

    /// <summary>The simulated engine (its connection table, counters and <c>ipvsadm</c> listings); replaced by <see cref="ResetConnections"/>.</summary>
    public DirectorEngine Engine => _engine;

    /// <summary>Creates a simulator over rules in ipvsadm's syntax: a new service table with the rules applied, and their FULLNAT local addresses.</summary>
    /// <param name="rules">The rules (<see cref="IpvsadmRulesParser"/>).</param>
    /// <param name="options">The options; their local addresses are added to the rules'.</param>
    /// <param name="schedulers">The schedulers; null: the built-in ones.</param>
    /// <returns>The simulator.</returns>
    public static FlowSimulator FromRules(IpvsadmRuleSet rules, FlowSimulatorOptions? options = null, SchedulerRegistry? schedulers = null)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var table = new ServiceTable(schedulers);
        rules.ApplyTo(table, schedulers: schedulers);
        options ??= new FlowSimulatorOptions();
        var locals = options.LocalAddresses.Concat(rules.LocalAddresses().Select(pair => pair.Address)).Distinct().ToArray();
        return new FlowSimulator(table, options with { LocalAddresses = locals });
    }

    /// <summary>Sends one flow's first packet through the engine.</summary>
    /// <param name="flow">The flow.</param>
    /// <returns>The server it went to, or why none took it. A flow already in the connection table keeps its server.</returns>
    public FlowDecision Send(SimulatedFlow flow)
    {
        ArgumentNullException.ThrowIfNull(flow);
        if (flow.Protocol is not (L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.Sctp))
        {
            throw new ArgumentException($"Only TCP, UDP and SCTP flows are simulated, not {flow.Protocol}.", nameof(flow));
        }

        if (flow.Client.Address.IsIPv4 != flow.Destination.Address.IsIPv4)
        {
            throw new ArgumentException($"The client {flow.Client} and the destination {flow.Destination} are not of the same family.", nameof(flow));
        }

        var snapshot = Table.Snapshot;
        if (!snapshot.TryFindService(flow.Protocol, flow.Destination, out var service))
        {
            return new FlowDecision(flow, null, null, default, DropReason.NoVirtualService);
        }

        bool onePacket = service.Options.OnePacket && flow.Protocol == L4Protocol.Udp;
        long[]? before = onePacket ? ConnectionCounts(service) : null;
        int length = FlowFrames.Write(_buffer.AsSpan(FrameHeadroom.Required), flow, ClientMac, LinkMac, _sequence++);
        var verdict = _worker.Process(_buffer, FrameHeadroom.Required, length, 0);
        var connections = _engine.Connections;
        if (!onePacket
            && connections.TryGetInbound(new FlowKey(flow.Protocol, flow.Client, flow.Destination), out var handle)
            && connections.TryGetInfo(handle, out var info))
        {
            var server = snapshot.Servers.Length > info.RealServer ? snapshot.Servers[info.RealServer].Server : null;
            server ??= service.FindRealServer(info.Destination)?.Server;
            if (server is not null)
            {
                return new FlowDecision(flow, service.Key, server, info.Destination, DropReason.None);
            }
        }

        if (before is not null && verdict.Action is FrameAction.Transmit or FrameAction.ResolveNeighbor && verdict.Reason == DropReason.None)
        {
            var after = ConnectionCounts(service);
            for (int i = 0; i < after.Length; i++)
            {
                if (after[i] != before[i])
                {
                    var server = service.RealServers[i];
                    return new FlowDecision(flow, service.Key, server, new InetEndpoint(server.Address, server.Port != 0 ? server.Port : flow.Destination.Port), DropReason.None);
                }
            }
        }

        var reason = verdict.Action == FrameAction.Drop || verdict.Reason != DropReason.None ? verdict.Reason : DropReason.NoRealServer;
        return new FlowDecision(flow, service.Key, null, default, reason);
    }

    /// <summary>Sends flows in order.</summary>
    /// <param name="flows">The flows.</param>
    /// <returns>One decision per flow, in order.</returns>
    public IReadOnlyList<FlowDecision> Send(IEnumerable<SimulatedFlow> flows)
    {
        ArgumentNullException.ThrowIfNull(flows);
        return [.. flows.Select(Send)];
    }

    /// <summary>
    /// Starts over with a fresh, empty connection table (the old one's connections are removed first, so the real
    /// servers' connection counts that lc-style schedulers read go back to zero); the schedulers keep their state.
    /// </summary>
    public void ResetConnections()
    {
        var snapshot = Table.Snapshot;
        for (int i = 0; i < snapshot.Servers.Length; i++)
        {
            _ = _engine.Connections.RemoveAllOf(i);
        }

        _engine.Dispose();
        (_engine, _worker) = CreateEngine();
    }

    /// <summary>
    /// Applies a pool change: a removal deletes the server from every service that has it (<c>ipvsadm -d</c>); an
    /// addition adds it (<c>ipvsadm -a</c>, with the forwarding method of the service's first real server, DR when it
    /// has none) to every service of its family with a real server on the same port, or to every service of its family
    /// when none has one.
    /// </summary>
    /// <param name="change">The change.</param>
    /// <returns>The services changed.</returns>
    /// <exception cref="ArgumentException">No service has the server to remove, or no service can take the one to add.</exception>
    public IReadOnlyList<VirtualServiceKey> Apply(PoolChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        var services = Table.Snapshot.Services.Where(s => s.Key.IsIPv6 == change.Endpoint.Address.IsIPv6).ToList();
        var changed = new List<VirtualServiceKey>();
        if (change.Kind == PoolChangeKind.Remove)
        {
            foreach (var service in services.Where(s => s.FindRealServer(change.Endpoint) is not null))
            {
                Table.DeleteRealServer(service.Key, change.Endpoint);
                changed.Add(service.Key);
            }

            return changed.Count > 0 ? changed : throw new ArgumentException($"No service has the real server {change.Endpoint}.", nameof(change));
        }

        var samePort = services.Where(s => s.Configured.Any(c => c.Options.Endpoint.Port == change.Endpoint.Port)).ToList();
        foreach (var service in (samePort.Count > 0 ? samePort : services).Where(s => s.FindRealServer(change.Endpoint) is null))
        {
            var method = service.Configured.Count > 0 ? service.Configured[0].Options.Method : ForwardingMethod.DirectRouting;
            Table.AddRealServer(service.Key, new RealServerOptions(change.Endpoint) { Weight = change.Weight, Method = method });
            changed.Add(service.Key);
        }

        _engine.Neighbors.Set(0, change.Endpoint.Address, MacOf(change.Endpoint.Address));
        return changed.Count > 0 ? changed : throw new ArgumentException($"No service of {change.Endpoint}'s family can take it (or every one has it already).", nameof(change));
    }

    /// <summary>Counts, per service, the flows each real server got, beside the share its weight gives it.</summary>
    /// <param name="decisions">The decisions (<see cref="Send(IEnumerable{SimulatedFlow})"/>).</param>
    /// <returns>One entry per service that received flows, in the table's order.</returns>
    public IReadOnlyList<ServiceDistribution> Summarize(IEnumerable<FlowDecision> decisions)
    {
        ArgumentNullException.ThrowIfNull(decisions);
        var flows = new Dictionary<VirtualServiceKey, (int Flows, int Unscheduled, Dictionary<InetEndpoint, int> Servers)>();
        foreach (var decision in decisions)
        {
            if (decision.Service is not { } key)
            {
                continue;
            }

            if (!flows.TryGetValue(key, out var entry))
            {
                entry = (0, 0, []);
            }

            entry.Flows++;
            if (decision.Server is { } server)
            {
                entry.Servers[server.Endpoint] = entry.Servers.GetValueOrDefault(server.Endpoint) + 1;
            }
            else
            {
                entry.Unscheduled++;
            }

            flows[key] = entry;
        }

        var result = new List<ServiceDistribution>();
        var snapshot = Table.Snapshot;
        var known = new HashSet<VirtualServiceKey>();
        foreach (var service in snapshot.Services)
        {
            known.Add(service.Key);
            if (flows.TryGetValue(service.Key, out var entry))
            {
                result.Add(Distribution(service.Key, service.Options.Scheduler, service.Configured, entry));
            }
        }

        foreach (var (key, entry) in flows)
        {
            if (!known.Contains(key))
            {
                result.Add(Distribution(key, "-", [], entry));
            }
        }

        return result;
    }

    /// <summary>Counts the flows whose real server differs between two runs of the same flows.</summary>
    /// <param name="before">The first run's decisions.</param>
    /// <param name="after">The second run's, for the same flows in the same order.</param>
    /// <returns>The flows compared, those that changed server, and those of them whose first server is no longer in its service.</returns>
    /// <exception cref="ArgumentException">The runs differ in length.</exception>
    public FlowDisruption CompareRuns(IReadOnlyList<FlowDecision> before, IReadOnlyList<FlowDecision> after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        if (before.Count != after.Count)
        {
            throw new ArgumentException($"The runs differ in length ({before.Count} and {after.Count} flows).", nameof(after));
        }

        var snapshot = Table.Snapshot;
        int compared = 0, changed = 0, fromRemoved = 0;
        for (int i = 0; i < before.Count; i++)
        {
            var first = before[i];
            var second = after[i];
            if (first.Server is null && second.Server is null)
            {
                continue;
            }

            compared++;
            if (first.Server is not null && second.Server is not null && first.Server.Endpoint == second.Server.Endpoint)
            {
                continue;
            }

            changed++;
            if (first.Server is not null && first.Service is { } key && snapshot.Find(key)?.FindRealServer(first.Server.Endpoint) is null)
            {
                fromRemoved++;
            }
        }

        return new FlowDisruption(compared, changed, fromRemoved);
    }

    /// <summary>
    /// Makes synthetic new flows: <paramref name="flowsPerService"/> flows to every TCP, UDP and SCTP service that is not a
    /// firewall-mark service, taken in turn, from <paramref name="clients"/> distinct random client addresses per
    /// family with random source ports (1024-65535), no two flows alike. The same seed gives the same flows.
    /// </summary>
    /// <param name="snapshot">The services.</param>
    /// <param name="flowsPerService">The flows per service.</param>
    /// <param name="clients">The distinct client addresses per family.</param>
    /// <param name="seed">The random seed.</param>
    /// <returns>The flows.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A count is below 1, or there are more flows than client addresses and ports.</exception>
    public static IReadOnlyList<SimulatedFlow> GenerateFlows(ServiceTableSnapshot snapshot, int flowsPerService, int clients, int seed)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentOutOfRangeException.ThrowIfLessThan(flowsPerService, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(clients, 1);
        const int Ports = 65536 - 1024;
        if ((long)clients * Ports < flowsPerService)
        {
            throw new ArgumentOutOfRangeException(nameof(flowsPerService), $"{flowsPerService} flows need more than {clients} client addresses with {Ports} ports each.");
        }

        var random = new Random(seed);
        var services = snapshot.Services
            .Where(s => !s.Key.IsFirewallMark && s.Key.Protocol is L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.Sctp)
            .Select(s => s.Key)
            .ToList();
        var reserved = new HashSet<InetAddress>(snapshot.VirtualAddresses.ToArray()) { LinkV4.Address, LinkV6.Address };
        var clientsV4 = services.Any(s => !s.IsIPv6) ? ClientAddresses(random, clients, ipv6: false, reserved) : [];
        var clientsV6 = services.Any(s => s.IsIPv6) ? ClientAddresses(random, clients, ipv6: true, reserved) : [];
        var used = new HashSet<(InetEndpoint, InetEndpoint, L4Protocol)>();
        var flows = new List<SimulatedFlow>(flowsPerService * services.Count);
        for (int i = 0; i < flowsPerService; i++)
        {
            foreach (var service in services)
            {
                var addresses = service.IsIPv6 ? clientsV6 : clientsV4;
                SimulatedFlow flow;
                do
                {
                    var client = new InetEndpoint(addresses[random.Next(addresses.Length)], (ushort)random.Next(1024, 65536));
                    var destination = service.Endpoint.Port != 0 ? service.Endpoint : new InetEndpoint(service.Endpoint.Address, (ushort)random.Next(1, 65536));
                    flow = new SimulatedFlow(service.Protocol, client, destination);
                }
                while (!used.Add((flow.Client, flow.Destination, flow.Protocol)));

                flows.Add(flow);
            }
        }

        return flows;
    }

    /// <summary>Releases the simulated engine.</summary>
    public void Dispose() => _engine.Dispose();

    private (DirectorEngine Engine, PacketWorker Worker) CreateEngine()
    {
        var link = new DirectorLink(0, "simulated", LinkMac, [LinkV4, LinkV6]) { AnswersForAddresses = false };
        var options = new DirectorOptions
        {
            Connections = new ConnectionTableOptions { Capacity = _options.ConnectionCapacity, IPv6Capacity = _options.ConnectionCapacity },
            LocalAddresses = _options.LocalAddresses,
            SloppyTcp = _options.SloppyTcp,
        };
        var engine = new DirectorEngine(Table, [link], options, timeProvider: _clock);
        foreach (var service in Table.Snapshot.Services)
        {
            foreach (var server in service.Configured)
            {
                engine.Neighbors.Set(0, server.Server.Address, MacOf(server.Server.Address));
            }
        }

        return (engine, engine.CreateWorker());
    }

    private long[] ConnectionCounts(VirtualService service)
    {
        var counts = new long[service.RealServers.Count];
        for (int i = 0; i < counts.Length; i++)
        {
            counts[i] = _engine.GetCounters(service.RealServers[i]).Connections;
        }

        return counts;
    }

    /// <summary>A locally administered MAC address made from an address, one per real server.</summary>
    private static MacAddress MacOf(InetAddress address)
    {
        ulong hash = (ulong)HashCode.Combine(address.High, address.Low) & 0xFF_FFFF_FFFFUL;
        return new MacAddress(0x02_00_00_00_00_00UL | hash);
    }

    private static InetAddress[] ClientAddresses(Random random, int count, bool ipv6, HashSet<InetAddress> reserved)
    {
        var addresses = new HashSet<InetAddress>();
        while (addresses.Count < count)
        {
            InetAddress address;
            if (ipv6)
            {
                // 2000::/3, global unicast.
                ulong high = 0x2000_0000_0000_0000UL | ((ulong)random.NextInt64() & 0x1FFF_FFFF_FFFF_FFFFUL);
                address = new InetAddress(high, (ulong)random.NextInt64() | 1);
            }
            else
            {
                // 1.0.0.0 - 223.255.255.255, not 127/8 (unicast a director forwards).
                uint value = (uint)random.NextInt64(0x0100_0000, 0xE000_0000);
                if (value >> 24 == 127)
                {
                    continue;
                }

                address = InetAddress.FromIPv4(value);
            }

            if (!reserved.Contains(address))
            {
                _ = addresses.Add(address);
            }
        }

        return [.. addresses];
    }

    private static ServiceDistribution Distribution(
        VirtualServiceKey key,
        string scheduler,
        IReadOnlyList<ConfiguredRealServer> configured,
        (int Flows, int Unscheduled, Dictionary<InetEndpoint, int> Servers) entry)
    {
        int scheduled = entry.Flows - entry.Unscheduled;
        var expected = ExpectedShares(scheduler, configured);
        var shares = new List<ServerShare>();
        var listed = new HashSet<InetEndpoint>();
        for (int i = 0; i < configured.Count; i++)
        {
            var endpoint = configured[i].Options.Endpoint;
            listed.Add(endpoint);
            int count = entry.Servers.GetValueOrDefault(endpoint);
            shares.Add(new ServerShare(endpoint, configured[i].Server.Weight, count, scheduled == 0 ? 0 : (double)count / scheduled, expected[i]));
        }

        foreach (var (endpoint, count) in entry.Servers)
        {
            if (listed.Add(endpoint))
            {
                shares.Add(new ServerShare(endpoint, 0, count, scheduled == 0 ? 0 : (double)count / scheduled, 0));
            }
        }

        return new ServiceDistribution(key, scheduler, entry.Flows, entry.Unscheduled, shares);
    }

    /// <summary>The share each server's weight gives it under a scheduler (see <see cref="ServerShare.ExpectedShare"/>).</summary>
    private static double[] ExpectedShares(string scheduler, IReadOnlyList<ConfiguredRealServer> configured)
    {
        var shares = new double[configured.Count];
        int Weight(int i) => configured[i].InPool ? Math.Max(0, configured[i].Server.Weight) : 0;
        if (scheduler == SchedulerNames.WeightedFailover)
        {
            int best = -1;
            for (int i = 0; i < configured.Count; i++)
            {
                if (Weight(i) > 0 && (best < 0 || Weight(i) > Weight(best)))
                {
                    best = i;
                }
            }

            if (best >= 0)
            {
                shares[best] = 1;
            }

            return shares;
        }

        bool unweighted = scheduler is SchedulerNames.RoundRobin or SchedulerNames.LeastConnection;
        double total = 0;
        for (int i = 0; i < configured.Count; i++)
        {
            total += Weight(i) > 0 ? (unweighted ? 1 : Weight(i)) : 0;
        }

        for (int i = 0; i < configured.Count; i++)
        {
            shares[i] = total == 0 || Weight(i) == 0 ? 0 : (unweighted ? 1 : Weight(i)) / total;
        }

        return shares;
    }
}
