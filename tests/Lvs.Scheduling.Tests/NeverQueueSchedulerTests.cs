using FsCheck;
using FsCheck.Fluent;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public class NeverQueueSchedulerTests
{
    [Fact]
    public void Pick_IdleServer_WinsOverAFasterBusyOne()
    {
        var servers = WithWeights(100, 1);
        servers[0].WithConnections(active: 1, inactive: 0);
        var nq = new NeverQueueScheduler();
        nq.UpdateServers(servers);
        Assert.Same(servers[1], nq.Pick(default));
    }

    [Fact]
    public void Pick_NoIdleServer_ShortestExpectedDelay()
    {
        var servers = WithWeights(1, 4);
        servers[0].WithConnections(active: 1, inactive: 0);
        servers[1].WithConnections(active: 3, inactive: 0);
        var nq = new NeverQueueScheduler();
        nq.UpdateServers(servers);
        Assert.Same(servers[1], nq.Pick(default));
    }

    [FsCheck.Xunit.Property]
    public Property Pick_MatchesTheBruteForceReference() =>
        Prop.ForAll(ServerSpec.Lists, specs =>
        {
            var servers = ServerSpec.Build(specs);
            var nq = new NeverQueueScheduler();
            nq.UpdateServers(servers);
            return nq.Pick(default) == LeastConnectionFamilyReference.NeverQueue(servers);
        });
}
