using FsCheck;
using FsCheck.Fluent;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public class WeightedOverflowSchedulerTests
{
    [Fact]
    public void Pick_OverflowsWhenActiveExceedsWeight()
    {
        var servers = WithWeights(2, 3);
        var ovf = new WeightedOverflowScheduler();
        ovf.UpdateServers(servers);
        Assert.Same(servers[1], ovf.Pick(default));

        // Up to and including its weight in active connections it keeps the traffic; beyond it, the next one gets it.
        servers[1].WithConnections(active: 3, inactive: 0);
        Assert.Same(servers[1], ovf.Pick(default));
        servers[1].AddConnection(active: true);
        Assert.Same(servers[0], ovf.Pick(default));
        servers[0].WithConnections(active: 3, inactive: 0);
        Assert.Null(ovf.Pick(default));
    }

    [FsCheck.Xunit.Property]
    public Property Pick_MatchesTheBruteForceReference() =>
        Prop.ForAll(ServerSpec.Lists, specs =>
        {
            var servers = ServerSpec.Build(specs);
            var ovf = new WeightedOverflowScheduler();
            ovf.UpdateServers(servers);
            return ovf.Pick(default) == LeastConnectionFamilyReference.WeightedOverflow(servers);
        });
}
