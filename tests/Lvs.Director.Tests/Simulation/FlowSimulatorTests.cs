using Lvs.Core;
using Lvs.Director.Configuration;
using Lvs.Director.Simulation;

namespace Lvs.Director.Tests.Simulation;

public sealed class FlowSimulatorTests
{
    private static FlowSimulator FromRules(string rules, int capacity = 1 << 14) =>
        FlowSimulator.FromRules(IpvsadmRulesParser.Parse(rules, "test.rules"), new FlowSimulatorOptions { ConnectionCapacity = capacity });

    private static string Pool(string scheduler, int servers, string method = "-m", string vip = "10.0.0.100:80") =>
        $"-A -t {vip} -s {scheduler}\n" + string.Concat(Enumerable.Range(1, servers).Select(n => $"-a -t {vip} -r 10.1.0.{n}:8080 {method}\n"));

    [Fact]
    public void Summarize_WrrOverWholePeriods_GivesEachServerExactlyItsWeightsShare()
    {
        using var simulator = FromRules("""
            -A -t 10.0.0.100:80 -s wrr
            -a -t 10.0.0.100:80 -r 10.1.0.1:8080 -m -w 3
            -a -t 10.0.0.100:80 -r 10.1.0.2:8080 -m -w 2
            -a -t 10.0.0.100:80 -r 10.1.0.3:8080 -m -w 1
            """);
        var flows = FlowSimulator.GenerateFlows(simulator.Table.Snapshot, flowsPerService: 600, clients: 50, seed: 7);

        var decisions = simulator.Send(flows);
        var distribution = Assert.Single(simulator.Summarize(decisions));

        Assert.Equal(600, distribution.Flows);
        Assert.Equal(0, distribution.Unscheduled);
        Assert.Equal("wrr", distribution.Scheduler);
        var counts = distribution.Servers.ToDictionary(s => s.Server.ToString(), s => s.Flows);
        Assert.Equal(300, counts["10.1.0.1:8080"]);
        Assert.Equal(200, counts["10.1.0.2:8080"]);
        Assert.Equal(100, counts["10.1.0.3:8080"]);
        foreach (var share in distribution.Servers)
        {
            Assert.Equal(share.ExpectedShare, share.Share, 12);
        }
    }

    /// <summary>An SCTP service is simulated as the engine schedules it: each flow's INIT makes an association.</summary>
    [Fact]
    public void Send_SctpService_EachInitMakesAnAssociation_WrrSharesAsForTcp()
    {
        using var simulator = FromRules("""
            -A --sctp-service 10.0.0.100:36412 -s wrr
            -a --sctp-service 10.0.0.100:36412 -r 10.1.0.1:36412 -m -w 2
            -a --sctp-service 10.0.0.100:36412 -r 10.1.0.2:36412 -m -w 1
            -A -t 10.0.0.100:80 -s rr
            -a -t 10.0.0.100:80 -r 10.1.0.1:8080 -m
            """);
        var flows = FlowSimulator.GenerateFlows(simulator.Table.Snapshot, flowsPerService: 300, clients: 20, seed: 3);
        Assert.Equal(300, flows.Count(f => f.Protocol == L4Protocol.Sctp));

        var decisions = simulator.Send(flows);

        var sctp = Assert.Single(simulator.Summarize(decisions), d => d.Service.Protocol == L4Protocol.Sctp);
        Assert.Equal((300, 0), (sctp.Flows, sctp.Unscheduled));
        var counts = sctp.Servers.ToDictionary(s => s.Server.ToString(), s => s.Flows);
        Assert.Equal(200, counts["10.1.0.1:36412"]);
        Assert.Equal(100, counts["10.1.0.2:36412"]);
        Assert.Equal(300, simulator.Engine.Connections.Enumerate().Count(c => c.ProtocolName == "SCTP" && c.StateName == "INIT1"));

        // The same flow again is the same association.
        var first = flows.First(f => f.Protocol == L4Protocol.Sctp);
        Assert.Equal(decisions.First(d => d.Flow == first).Server, simulator.Send(first).Server);
    }

    [Fact]
    public void Summarize_RoundRobin_ExpectsEqualSharesWhateverTheWeights()
    {
        using var simulator = FromRules("""
            -A -t 10.0.0.100:80 -s rr
            -a -t 10.0.0.100:80 -r 10.1.0.1:8080 -m -w 5
            -a -t 10.0.0.100:80 -r 10.1.0.2:8080 -m -w 1
            -a -t 10.0.0.100:80 -r 10.1.0.3:8080 -m -w 0
            """);

        var distribution = Assert.Single(simulator.Summarize(simulator.Send(FlowSimulator.GenerateFlows(simulator.Table.Snapshot, 100, 10, 1))));

        var byServer = distribution.Servers.ToDictionary(s => s.Server.ToString());
        Assert.Equal(0.5, byServer["10.1.0.1:8080"].ExpectedShare);
        Assert.Equal(0.5, byServer["10.1.0.2:8080"].ExpectedShare);
        Assert.Equal(0, byServer["10.1.0.3:8080"].ExpectedShare);
        Assert.Equal(50, byServer["10.1.0.1:8080"].Flows);
        Assert.Equal(0, byServer["10.1.0.3:8080"].Flows);
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("mh")]
    [InlineData("wlc")]
    [InlineData("rr")]
    public void Send_FlowsFile_GivesTheChoicesOfAnEngineFedTheSameFrames(string scheduler)
    {
        // An independent engine (the test lab, frames built by PacketDotNet) takes the same SYNs; its NAT rewrite says
        // which server it chose. The simulator must choose the same, flow by flow.
        using var lab = new Lab();
        lab.AddService(scheduler, ForwardingMethod.Nat, count: 5);
        using var simulator = FromRules($"-A -t 10.0.0.100:80 -s {scheduler}\n" + string.Concat(Enumerable.Range(1, 5).Select(n => $"-a -t 10.0.0.100:80 -r 10.1.0.{10 + n}:8080 -m\n")));
        var random = new Random(3);
        var text = string.Join('\n', Enumerable.Range(0, 200).Select(_ => $"tcp 198.51.{random.Next(256)}.{random.Next(1, 255)}:{random.Next(1024, 65536)} 10.0.0.100:80"));
        var flows = SimulatedFlowFile.Parse(text, "flows.txt");

        var decisions = simulator.Send(flows);

        Assert.Equal(flows.Count, decisions.Count);
        for (int i = 0; i < flows.Count; i++)
        {
            var flow = flows[i];
            var frame = Lab.Tcp(Lab.RouterMac, Lab.ClientLinkMac, flow.Client.Address, flow.Client.Port, flow.Destination.Address, flow.Destination.Port, "S");
            var verdict = lab.Send(frame, 0);
            Assert.Equal(FrameAction.Transmit, verdict.Action);
            var ip = frame.Buffer.AsSpan(verdict.Offset + 14);
            var chosen = new InetEndpoint(InetAddress.ReadIPv4(ip[16..]), System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(ip[22..]));
            Assert.Equal(chosen, decisions[i].Destination);
            Assert.Equal(chosen.ToString(), decisions[i].ToString());
        }
    }

    [Fact]
    public void Send_FlowAlreadyInTheTable_KeepsItsServer()
    {
        using var simulator = FromRules(Pool("rr", 3));
        var flow = SimulatedFlowFile.Parse("tcp 192.0.2.7:40000 10.0.0.100:80")[0];

        var first = simulator.Send(flow);
        var again = simulator.Send(flow);

        Assert.Equal(first.Destination, again.Destination);
        Assert.Equal(1, simulator.Engine.Connections.Count);
    }

    [Fact]
    public void Send_NoService_SaysNoVirtualService()
    {
        using var simulator = FromRules(Pool("rr", 3));

        var decision = simulator.Send(new SimulatedFlow(L4Protocol.Udp, InetEndpoint.Parse("192.0.2.7:40000"), InetEndpoint.Parse("10.0.0.100:53")));

        Assert.Null(decision.Server);
        Assert.Null(decision.Service);
        Assert.Equal(DropReason.NoVirtualService, decision.Reason);
        Assert.Equal("- (NoVirtualService)", decision.ToString());
    }

    [Fact]
    public void Send_EveryServerWeightZero_SaysNoRealServer()
    {
        using var simulator = FromRules("-A -t 10.0.0.100:80 -s wrr\n-a -t 10.0.0.100:80 -r 10.1.0.1:8080 -m -w 0\n");

        var decision = simulator.Send(SimulatedFlowFile.Parse("tcp 192.0.2.7:40000 10.0.0.100:80")[0]);

        Assert.Null(decision.Server);
        Assert.Equal(DropReason.NoRealServer, decision.Reason);
        Assert.Equal(1, Assert.Single(simulator.Summarize([decision])).Unscheduled);
    }

    [Fact]
    public void Send_OnePacketUdpService_ReportsTheServerWithoutAConnection()
    {
        using var simulator = FromRules("-A -u 10.0.0.100:53 -s rr -o\n-a -u 10.0.0.100:53 -r 10.1.0.1:53 -m\n-a -u 10.0.0.100:53 -r 10.1.0.2:53 -m\n");
        var flows = SimulatedFlowFile.Parse("udp 192.0.2.7:40000 10.0.0.100:53\nudp 192.0.2.7:40000 10.0.0.100:53\n");

        var decisions = simulator.Send(flows);

        // Each datagram is scheduled alone (-o): the same flow goes round robin.
        Assert.NotEqual(decisions[0].Destination, decisions[1].Destination);
        Assert.All(decisions, d => Assert.NotNull(d.Server));
        Assert.Equal(0, simulator.Engine.Connections.Count);
    }

    [Fact]
    public void Send_IPv6Flows_AreScheduled()
    {
        using var simulator = FromRules("-A -t [2001:db8::100]:80 -s rr\n-a -t [2001:db8::100]:80 -r [2001:db8:1::1]:80 -m\n-a -t [2001:db8::100]:80 -r [2001:db8:1::2]:80 -m\n");

        var decisions = simulator.Send(SimulatedFlowFile.Parse("tcp [2001:db8:9::7]:40000 [2001:db8::100]:80\ntcp [2001:db8:9::7]:40001 [2001:db8::100]:80\n"));

        Assert.Equal(["[2001:db8:1::1]:80", "[2001:db8:1::2]:80"], decisions.Select(d => d.ToString()).Order().ToArray());
    }

    [Fact]
    public void Send_FullNatService_UsesTheRulesLocalAddresses()
    {
        using var simulator = FromRules("-A -t 10.0.0.100:80 -s rr\n-a -t 10.0.0.100:80 -r 10.1.0.1:8080 --fullnat\n-P -t 10.0.0.100:80 -z 10.1.0.200\n");

        var decision = simulator.Send(SimulatedFlowFile.Parse("tcp 192.0.2.7:40000 10.0.0.100:80")[0]);

        Assert.Equal("10.1.0.1:8080", decision.ToString());
    }

    [Fact]
    public void GenerateFlows_SameSeed_SameFlows_DistinctClientsAndFlows()
    {
        using var simulator = FromRules(Pool("rr", 3) + "-A -u 10.0.0.100:53 -s rr\n-a -u 10.0.0.100:53 -r 10.1.0.1:53 -m\n");

        var first = FlowSimulator.GenerateFlows(simulator.Table.Snapshot, 500, 7, seed: 42);
        var second = FlowSimulator.GenerateFlows(simulator.Table.Snapshot, 500, 7, seed: 42);
        var other = FlowSimulator.GenerateFlows(simulator.Table.Snapshot, 500, 7, seed: 43);

        Assert.Equal(first, second);
        Assert.NotEqual(first, other);
        Assert.Equal(1000, first.Count);
        Assert.Equal(500, first.Count(f => f.Protocol == L4Protocol.Udp));
        Assert.Equal(7, first.Select(f => f.Client.Address).Distinct().Count());
        Assert.Equal(first.Count, first.Distinct().Count());
    }

    [Theory]
    [InlineData("mh")]
    [InlineData("rr")]
    [InlineData("sh")]
    public void CompareRuns_RemovingOneOfTenServers_MovesAboutATenthWithMaglevAndMostWithRoundRobinAndSourceHashing(string scheduler)
    {
        // mh rebuilds its lookup table with each server keeping most of its preferred slots: about the removed server's
        // tenth moves. rr moves almost everything. The kernel's sh is no consistent hash: ip_vs_sh_reassign refills every
        // one of its 256 buckets in turn from the remaining servers, so most buckets change server too.
        using var simulator = FromRules(Pool(scheduler, 10));
        var flows = FlowSimulator.GenerateFlows(simulator.Table.Snapshot, 5000, 2000, seed: 11);
        var before = simulator.Send(flows);

        simulator.Apply(PoolChange.ParseRemove("10.1.0.4:8080"));
        simulator.ResetConnections();
        var after = simulator.Send(flows);
        var disruption = simulator.CompareRuns(before, after);

        Assert.Equal(5000, disruption.Flows);
        Assert.Equal(before.Count(d => d.Destination.ToString() == "10.1.0.4:8080"), disruption.FromRemoved);
        Assert.DoesNotContain(after, d => d.Destination.ToString() == "10.1.0.4:8080");
        if (scheduler == "mh")
        {
            Assert.True(disruption.ChangedFraction < 0.2, $"mh moved {disruption.ChangedFraction:P1}");
            Assert.True(disruption.Avoidable < disruption.Flows / 20, $"mh moved {disruption.Avoidable} flows whose server stayed");
        }
        else
        {
            Assert.True(disruption.ChangedFraction > 0.5, $"{scheduler} moved {disruption.ChangedFraction:P1}");
        }
    }

    [Fact]
    public void CompareRuns_AddingAnEleventhServer_MovesAboutAnEleventhWithMaglev()
    {
        using var simulator = FromRules(Pool("mh", 10));
        var flows = FlowSimulator.GenerateFlows(simulator.Table.Snapshot, 5000, 2000, seed: 5);
        var before = simulator.Send(flows);

        var changed = simulator.Apply(PoolChange.ParseAdd("10.1.0.11:8080,1"));
        simulator.ResetConnections();
        var after = simulator.Send(flows);
        var disruption = simulator.CompareRuns(before, after);

        Assert.Single(changed);
        Assert.Equal(0, disruption.FromRemoved);
        int toNew = after.Count(d => d.Destination.ToString() == "10.1.0.11:8080");
        Assert.True(toNew > 0);
        Assert.True(disruption.ChangedFraction < 0.2, $"mh moved {disruption.ChangedFraction:P1}");
    }

    [Fact]
    public void Apply_RemovingAServerNoServiceHas_Throws()
    {
        using var simulator = FromRules(Pool("rr", 3));

        Assert.Throws<ArgumentException>(() => simulator.Apply(PoolChange.ParseRemove("10.9.9.9:80")));
    }

    [Fact]
    public void ResetConnections_EmptiesTheConnectionTable()
    {
        using var simulator = FromRules(Pool("lc", 3));
        _ = simulator.Send(FlowSimulator.GenerateFlows(simulator.Table.Snapshot, 30, 5, 1));

        simulator.ResetConnections();

        Assert.Equal(0, simulator.Engine.Connections.Count);
        // lc sees no connections left on any server: the next 3 flows go one to each.
        var decisions = simulator.Send(FlowSimulator.GenerateFlows(simulator.Table.Snapshot, 3, 5, 2));
        Assert.Equal(3, decisions.Select(d => d.Destination).Distinct().Count());
    }

    [Theory]
    [InlineData("10.1.0.1:80", "10.1.0.1:80", 1)]
    [InlineData("10.1.0.1:80,5", "10.1.0.1:80", 5)]
    [InlineData("[2001:db8::1]:443,0", "[2001:db8::1]:443", 0)]
    public void ParseAdd_EndpointAndWeight(string text, string endpoint, int weight)
    {
        var change = PoolChange.ParseAdd(text);

        Assert.Equal(PoolChangeKind.Add, change.Kind);
        Assert.Equal(endpoint, change.Endpoint.ToString());
        Assert.Equal(weight, change.Weight);
    }

    [Theory]
    [InlineData("10.1.0.1")]
    [InlineData("10.1.0.1:80,x")]
    [InlineData("10.1.0.1:80,70000")]
    public void ParseAdd_Malformed_Throws(string text) => Assert.Throws<FormatException>(() => PoolChange.ParseAdd(text));
}

public sealed class FlowSimulatorPersistenceTests
{
    [Fact]
    public void Send_PersistentService_KeepsEachClientOnOneServer()
    {
        using var simulator = FlowSimulator.FromRules(IpvsadmRulesParser.Parse("-A -t 10.0.0.100:80 -s rr -p 300\n" + string.Concat(Enumerable.Range(1, 4).Select(n => $"-a -t 10.0.0.100:80 -r 10.1.0.{n}:8080 -m\n"))));
        var flows = FlowSimulator.GenerateFlows(simulator.Table.Snapshot, 400, 10, seed: 9);

        var decisions = simulator.Send(flows);

        Assert.All(decisions.GroupBy(d => d.Flow.Client.Address), group => Assert.Single(group.Select(d => d.Destination).Distinct()));
        Assert.Equal(4, decisions.Select(d => d.Destination).Distinct().Count());
    }
}
