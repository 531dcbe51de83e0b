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
