using FsCheck;
using FsCheck.Fluent;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public class LeastConnectionSchedulerTests
{
    [Fact]
    public void Pick_OneActiveOutweighs255Inactive()
    {
        var servers = WithWeights(1, 1);
        servers[0].WithConnections(active: 1, inactive: 0);
        servers[1].WithConnections(active: 0, inactive: 255);
        var lc = new LeastConnectionScheduler();
        lc.UpdateServers(servers);
        Assert.Same(servers[1], lc.Pick(default));
        servers[1].AddConnection(active: false);
        Assert.Same(servers[0], lc.Pick(default));
    }

    [Fact]
    public void Pick_IgnoresWeightsButNotZero()
    {
        var servers = WithWeights(0, 1, 100);
        servers[2].WithConnections(1, 0);
        var lc = new LeastConnectionScheduler();
        lc.UpdateServers(servers);
        Assert.Same(servers[1], lc.Pick(default));
    }

    [Fact]
    public void Pick_AllWeightsZero_ReturnsNull()
    {
        var lc = new LeastConnectionScheduler();
        lc.UpdateServers(WithWeights(0, 0));
        Assert.Null(lc.Pick(default));
    }

    [FsCheck.Xunit.Property]
    public Property Pick_MatchesTheBruteForceReference() =>
        Prop.ForAll(ServerSpec.Lists, specs =>
        {
            var servers = ServerSpec.Build(specs);
            var lc = new LeastConnectionScheduler();
            lc.UpdateServers(servers);
            return lc.Pick(default) == LeastConnectionFamilyReference.LeastConnection(servers);
        });
}
