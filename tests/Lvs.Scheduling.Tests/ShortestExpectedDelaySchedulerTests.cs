using FsCheck;
using FsCheck.Fluent;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public class ShortestExpectedDelaySchedulerTests
{
    [Fact]
    public void Pick_IdleServers_HeaviestWins()
    {
        var servers = WithWeights(1, 5, 2);
        var sed = new ShortestExpectedDelayScheduler();
        sed.UpdateServers(servers);
        Assert.Same(servers[1], sed.Pick(default));
    }

    [Fact]
    public void Pick_CountsActiveConnectionsOnly()
    {
        // Inactive connections do not delay: (0 + 1) / 1 beats (1 + 1) / 1 whatever the inactive counts.
        var servers = WithWeights(1, 1);
        servers[0].WithConnections(active: 0, inactive: 1000);
        servers[1].WithConnections(active: 1, inactive: 0);
        var sed = new ShortestExpectedDelayScheduler();
        sed.UpdateServers(servers);
        Assert.Same(servers[0], sed.Pick(default));
    }

    [FsCheck.Xunit.Property]
    public Property Pick_MatchesTheBruteForceReference() =>
        Prop.ForAll(ServerSpec.Lists, specs =>
        {
            var servers = ServerSpec.Build(specs);
            var sed = new ShortestExpectedDelayScheduler();
            sed.UpdateServers(servers);
            return sed.Pick(default) == LeastConnectionFamilyReference.ShortestExpectedDelay(servers);
        });
}
