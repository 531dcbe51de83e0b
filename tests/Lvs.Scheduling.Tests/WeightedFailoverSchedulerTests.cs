using FsCheck;
using FsCheck.Fluent;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public class WeightedFailoverSchedulerTests
{
    [Fact]
    public void Pick_HighestWeight_FirstOnTies_ThenFailsOver()
    {
        var servers = WithWeights(1, 5, 5, 3);
        var fo = new WeightedFailoverScheduler();
        fo.UpdateServers(servers);
        Assert.Equal("BBB", Letters(servers, fo.PickMany(3)));
        servers[1].Overloaded();
        Assert.Same(servers[2], fo.Pick(default));
        servers[2].IsAvailable = false;
        Assert.Same(servers[3], fo.Pick(default));
        servers[3].Weight = 0;
        Assert.Same(servers[0], fo.Pick(default));
        servers[0].Weight = 0;
        Assert.Null(fo.Pick(default));
    }

    [Fact]
    public void UpdateServers_WeightChange_ReordersTheStandbys()
    {
        var servers = WithWeights(1, 5);
        var fo = new WeightedFailoverScheduler();
        fo.UpdateServers(servers);
        servers[0].Weight = 9;
        fo.UpdateServers(servers);
        Assert.Same(servers[0], fo.Pick(default));
    }

    [Fact]
    public void Pick_WeightChangedWithoutAnUpdate_FollowsTheLiveWeightsAsTheKernel()
    {
        // ip_vs_fo_schedule reads atomic_read(&dest->weight) at every pick (issue 16): no UpdateServers in between.
        var servers = WithWeights(2, 1, 1);
        var fo = new WeightedFailoverScheduler();
        fo.UpdateServers(servers);
        Assert.Same(servers[0], fo.Pick(default));
        servers[2].Weight = 5;
        Assert.Same(servers[2], fo.Pick(default));
        servers[1].Weight = 5;
        Assert.Same(servers[1], fo.Pick(default));
        servers[1].Weight = 1;
        servers[2].Weight = 1;
        Assert.Same(servers[0], fo.Pick(default));
        servers[0].Weight = 0;
        Assert.Same(servers[1], fo.Pick(default));
        servers[0].Weight = 2;

        // A weight change of a server in no list of this scheduler leaves the answer alone.
        _ = Create(99, 7);
        Assert.Equal("AAA", Letters(servers, fo.PickMany(3)));
    }

    [FsCheck.Xunit.Property]
    public Property Pick_AfterLiveWeightChanges_MatchesTheKernelsHighestWeightRule() =>
        Prop.ForAll(ServerSpec.Lists, Gen.ArrayOf(Gen.Choose(0, 20), 6).ToArbitrary(), (specs, changes) =>
        {
            var servers = ServerSpec.Build(specs);
            var fo = new WeightedFailoverScheduler();
            fo.UpdateServers(servers);
            foreach (int change in changes)
            {
                servers[change % servers.Length].Weight = change / 2;
                var expected = servers.Where(s => s.IsSchedulable).MaxBy(s => s.Weight);
                if (fo.Pick(default) != expected)
                {
                    return false;
                }
            }

            return true;
        });

    [FsCheck.Xunit.Property]
    public Property Pick_MatchesTheKernelsHighestWeightRule() =>
        Prop.ForAll(ServerSpec.Lists, specs =>
        {
            var servers = ServerSpec.Build(specs);
            var fo = new WeightedFailoverScheduler();
            fo.UpdateServers(servers);
            var expected = servers.Where(s => s.IsSchedulable).MaxBy(s => s.Weight);
            return fo.Pick(default) == expected;
        });
}
