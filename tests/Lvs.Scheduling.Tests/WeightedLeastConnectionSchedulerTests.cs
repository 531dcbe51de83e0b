using FsCheck;
using FsCheck.Fluent;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public class WeightedLeastConnectionSchedulerTests
{
    [Fact]
    public void Pick_LoadPerWeight_Decides()
    {
        // Overheads 512 / 3 and 256 / 1: the heavier server is less loaded per unit of weight.
        var servers = WithWeights(1, 3);
        servers[0].WithConnections(active: 1, inactive: 0);
        servers[1].WithConnections(active: 2, inactive: 0);
        var wlc = new WeightedLeastConnectionScheduler();
        wlc.UpdateServers(servers);
        Assert.Same(servers[1], wlc.Pick(default));
    }

    [Fact]
    public void Pick_Tie_FirstInListOrder()
    {
        var servers = WithWeights(2, 1, 2);
        servers[0].WithConnections(0, 2);
        servers[1].WithConnections(0, 1);
        servers[2].WithConnections(0, 2);
        var wlc = new WeightedLeastConnectionScheduler();
        wlc.UpdateServers(servers);
        Assert.Same(servers[0], wlc.Pick(default));
    }

    [Fact]
    public void Pick_MaximumWeightsAndLoads_DoNotOverflow()
    {
        var servers = WithWeights(RealServerMaxWeight, 1);
        servers[0].WithConnections(active: 3000, inactive: 0);
        var wlc = new WeightedLeastConnectionScheduler();
        wlc.UpdateServers(servers);
        Assert.Same(servers[1], wlc.Pick(default));
    }

    [FsCheck.Xunit.Property]
    public Property Pick_MatchesTheBruteForceReference() =>
        Prop.ForAll(ServerSpec.Lists, specs =>
        {
            var servers = ServerSpec.Build(specs);
            var wlc = new WeightedLeastConnectionScheduler();
            wlc.UpdateServers(servers);
            return wlc.Pick(default) == LeastConnectionFamilyReference.WeightedLeastConnection(servers);
        });

    private const int RealServerMaxWeight = Lvs.Core.RealServer.MaxWeight;
}
