using Lvs.Core;
using Lvs.Devices.Neighbors;
using Lvs.Director;
using Microsoft.Extensions.Time.Testing;

namespace Lvs.Hosting.Tests;

public class NeighborResolverTests
{
    [Fact]
    public void Tick_ReachableTimePassed_UnicastProbesToKnownMacThenForgottenWithoutAnswer()
    {
        using var lab = new LoopLab(resolveServer: false);
        lab.Resolver.Start();
        lab.ClientLink.Inject(LoopLab.Syn(40001));
        lab.Loop.RunOnce();
        lab.ServerLink.Inject(TestFrames.ArpReply(LoopLab.ServerMac, "10.1.0.11", LoopLab.ServerLinkMac, "10.1.0.1"));
        lab.Loop.RunOnce();
        _ = lab.ServerLink.Drain();

        // base_reachable_time 30 s, randomised between 15 and 45 s: then the neighbour in use is asked directly.
        var (probes, after) = StepUntilProbe(lab);
        Assert.InRange(after, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(45.5));
        var probe = Assert.Single(probes);
        Assert.Equal(TestFrames.Phys(LoopLab.ServerMac), TestFrames.Parse(probe).DestinationHardwareAddress);
        Assert.True(lab.Engine.Neighbors.TryGet(1, InetAddress.Parse("10.1.0.11"), out _), "the MAC address stays in use while probing");

        for (int second = 0; second < 3; second++)
        {
            lab.Time.Advance(TimeSpan.FromSeconds(1));
            lab.Loop.RunOnce();
            probes.AddRange(LoopLab.RequestsFor(lab.ServerLink.Drain(), "10.1.0.11"));
        }

        // ucast_solicit: 3 unicast probes, then the entry is forgotten (the next packet resolves it again).
        Assert.Equal(3, probes.Count);
        Assert.All(probes, arp => Assert.Equal(TestFrames.Phys(LoopLab.ServerMac), TestFrames.Parse(arp).DestinationHardwareAddress));
        Assert.False(lab.Engine.Neighbors.TryGet(1, InetAddress.Parse("10.1.0.11"), out _));
    }

    [Fact]
    public void Tick_ProbeAnswered_NeighbourStaysResolved()
    {
        using var lab = new LoopLab(resolveServer: false);
        lab.Resolver.Start();
        lab.ClientLink.Inject(LoopLab.Syn(40001));
        lab.Loop.RunOnce();
        lab.ServerLink.Inject(TestFrames.ArpReply(LoopLab.ServerMac, "10.1.0.11", LoopLab.ServerLinkMac, "10.1.0.1"));
        lab.Loop.RunOnce();
        Assert.Single(StepUntilProbe(lab).Probes);

        lab.ServerLink.Inject(TestFrames.ArpReply(LoopLab.ServerMac, "10.1.0.11", LoopLab.ServerLinkMac, "10.1.0.1"));
        lab.Loop.RunOnce();
        lab.Time.Advance(TimeSpan.FromSeconds(5));
        lab.Loop.RunOnce();

        Assert.Empty(LoopLab.RequestsFor(lab.ServerLink.Drain(), "10.1.0.11"));
        Assert.True(lab.Engine.Neighbors.TryGet(1, InetAddress.Parse("10.1.0.11"), out var mac));
        Assert.Equal(LoopLab.ServerMac, mac);
    }

    /// <summary>Moves the clock in quarter seconds, running the loop, until a request for the server goes out.</summary>
    private static (List<byte[]> Probes, TimeSpan After) StepUntilProbe(LoopLab lab)
    {
        var step = TimeSpan.FromMilliseconds(250);
        for (var elapsed = step; elapsed <= TimeSpan.FromSeconds(60); elapsed += step)
        {
            lab.Time.Advance(step);
            lab.Loop.RunOnce();
            var probes = LoopLab.RequestsFor(lab.ServerLink.Drain(), "10.1.0.11");
            if (probes.Count > 0)
            {
                return (probes, elapsed);
            }
        }

        return ([], TimeSpan.MaxValue);
    }

    [Fact]
    public void Tick_EntryLearnedInPassingNotConfirmedForGcStaleTime_Forgotten()
    {
        using var lab = new LoopLab(resolveServer: true);
        lab.Resolver.Start();

        lab.Time.Advance(TimeSpan.FromSeconds(59));
        Assert.True(lab.Engine.Neighbors.TryGet(1, InetAddress.Parse("10.1.0.11"), out _));
        lab.Time.Advance(TimeSpan.FromSeconds(31));
        Assert.False(lab.Engine.Neighbors.TryGet(1, InetAddress.Parse("10.1.0.11"), out _));
    }

    [Fact]
    public void Request_IPv6Neighbour_SolicitationToSolicitedNodeFromLinkAddress()
    {
        var time = new FakeTimeProvider();
        var link = new DirectorLink(0, "servers", LoopLab.ServerLinkMac, [InetPrefix.Parse("2001:db8:1::1/64")]);
        using var engine = new DirectorEngine(new ServiceTable(), [link], timeProvider: time);
        using var resolver = new NeighborResolver(engine, timeProvider: time);
        var target = InetAddress.Parse("2001:db8:1::11");

        var probe = new byte[128];
        var state = resolver.Request(engine.Neighbors.GetOrAdd(0, target), probe, out int length);
        var again = resolver.Request(engine.Neighbors.GetOrAdd(0, target), probe, out int second);

        var expected = new byte[128];
        int expectedLength = NeighborDiscoveryFrameWriter.WriteSolicitation(expected, LoopLab.ServerLinkMac, InetAddress.Parse("2001:db8:1::1"), target);
        Assert.Equal(expected.AsSpan(0, expectedLength).ToArray(), probe.AsSpan(0, length).ToArray());
        Assert.Equal(0, second);
        Assert.Same(state, again);
    }
}
