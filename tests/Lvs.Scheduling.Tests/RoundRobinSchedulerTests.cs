using FsCheck;
using FsCheck.Fluent;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public class RoundRobinSchedulerTests
{
    [Fact]
    public void Pick_ThreeServers_CyclesInListOrder()
    {
        var servers = WithWeights(1, 5, 2);
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers);
        Assert.Equal("ABCABCA", Letters(servers, rr.PickMany(7)));
    }

    [Fact]
    public void Pick_SingleServer_AlwaysIt()
    {
        var servers = WithWeights(3);
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers);
        Assert.Equal("AAAA", Letters(servers, rr.PickMany(4)));
    }

    [Fact]
    public void Pick_AllWeightsZero_ReturnsNull()
    {
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(WithWeights(0, 0, 0));
        Assert.Null(rr.Pick(default));
    }

    [Fact]
    public void Pick_NoServers_ReturnsNull()
    {
        Assert.Null(new RoundRobinScheduler().Pick(default));
    }

    [Fact]
    public void Pick_QuiescedOverloadedAndUnavailable_AreSkipped()
    {
        var servers = WithWeights(1, 0, 1, 1, 1);
        servers[2].Overloaded();
        servers[3].IsAvailable = false;
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers);
        Assert.Equal("AEAEA", Letters(servers, rr.PickMany(5)));
    }

    [Fact]
    public void UpdateServers_NewObjectsWithTheSameEndpoints_KeepThePosition()
    {
        // The position follows the last picked server by endpoint, its identity within the service: a list rebuilt as
        // new objects continues the cycle instead of restarting at the head (issue 16).
        var servers = WithWeights(1, 1, 1, 1);
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers);
        Assert.Equal("AB", Letters(servers, rr.PickMany(2)));
        var renewed = WithWeights(1, 1, 1, 1);
        rr.UpdateServers(renewed);
        Assert.Equal("CDAB", Letters(renewed, rr.PickMany(4)));
    }

    [Fact]
    public void UpdateServers_ServerRemovedMidCycle_ContinuesAfterItsPredecessor()
    {
        var servers = WithWeights(1, 1, 1, 1);
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers);
        Assert.Equal("AB", Letters(servers, rr.PickMany(2)));

        // B was picked last and goes away: the kernel moves the position back to A, so C comes next.
        rr.UpdateServers([servers[0], servers[2], servers[3]]);
        Assert.Equal("CDACD", Letters(servers, rr.PickMany(5)));
    }

    [Fact]
    public void UpdateServers_ServerAddedMidCycle_JoinsTheCycle()
    {
        var servers = WithWeights(1, 1, 1, 1);
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers[..3]);
        Assert.Equal("AB", Letters(servers, rr.PickMany(2)));
        rr.UpdateServers(servers);
        Assert.Equal("CDABCD", Letters(servers, rr.PickMany(6)));
    }

    [Fact]
    public void UpdateServers_FirstServerRemovedAfterPick_RestartsAtHead()
    {
        var servers = WithWeights(1, 1, 1);
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers);
        Assert.Equal("A", Letters(servers, rr.PickMany(1)));
        rr.UpdateServers(servers[1..]);
        Assert.Equal("BCB", Letters(servers, rr.PickMany(3)));
    }

    [FsCheck.Xunit.Property]
    public Property Pick_FullPeriods_EachSchedulableServerEqually()
    {
        var gen = Gen.ArrayOf(Gen.Choose(0, 5)).Where(w => w.Length > 0);
        return Prop.ForAll(gen.ToArbitrary(), Gen.Choose(1, 4).ToArbitrary(), (weights, periods) =>
        {
            var servers = WithWeights(weights);
            var rr = new RoundRobinScheduler();
            rr.UpdateServers(servers);
            int live = weights.Count(w => w > 0);
            var picks = rr.PickMany(live * periods);
            return servers.All(s => picks.Count(p => p == s) == (s.Weight > 0 ? periods : 0))
                && (live > 0 || picks.All(p => p is null));
        });
    }
}
