using Microsoft.Extensions.Time.Testing;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public sealed class LocalityBasedLeastConnectionWithReplicationSchedulerTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly LocalityBasedLeastConnectionWithReplicationScheduler _lblcr;

    public LocalityBasedLeastConnectionWithReplicationSchedulerTests() =>
        _lblcr = new(new SchedulerOptions { TimeProvider = _time, LocalityExpiration = TimeSpan.FromHours(1) });

    public void Dispose() => _lblcr.Dispose();

    private static Lvs.Core.FlowKey To(uint destination) => Flow(1, 1000, destination);

    private static readonly Lvs.Core.InetAddress Destination = Lvs.Core.InetAddress.FromIPv4(100);

    [Fact]
    public void Pick_BusySet_ReplicatesToTheLeastLoadedServer_ThenBalancesWithinTheSet()
    {
        var servers = WithWeights(2, 2, 2);
        servers[2].WithConnections(active: 1, inactive: 0);
        _lblcr.UpdateServers(servers);
        Assert.Same(servers[0], _lblcr.Pick(To(100)));
        Assert.Equal([servers[0]], _lblcr.SetOf(Destination));

        // A is busier than its weight while B is under half of its own: B joins the set (at its head).
        servers[0].WithConnections(active: 3, inactive: 0);
        Assert.Same(servers[1], _lblcr.Pick(To(100)));
        Assert.Equal([servers[1], servers[0]], _lblcr.SetOf(Destination));

        // Now the set's least loaded member serves, C (outside the set) is not used even when idle.
        servers[2].RemoveConnection(active: true);
        servers[1].WithConnections(active: 1, inactive: 0);
        Assert.Same(servers[1], _lblcr.Pick(To(100)));
    }

    [Fact]
    public void Pick_SetUnchangedForTheExpiration_DropsItsBusiestMember()
    {
        var servers = WithWeights(2, 2, 2);
        _lblcr.UpdateServers(servers);
        _lblcr.Pick(To(100));
        servers[0].WithConnections(active: 3, inactive: 0);
        _lblcr.Pick(To(100));
        Assert.Equal(2, _lblcr.SetOf(Destination).Length);

        _time.Advance(TimeSpan.FromMinutes(59));
        _lblcr.Pick(To(100));
        Assert.Equal(2, _lblcr.SetOf(Destination).Length);

        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.Same(servers[1], _lblcr.Pick(To(100)));
        Assert.Equal([servers[1]], _lblcr.SetOf(Destination));
    }

    [Fact]
    public void UpdateServers_RemovedMembers_LeaveTheSets()
    {
        var servers = WithWeights(1, 1);
        _lblcr.UpdateServers(servers);
        Assert.Same(servers[0], _lblcr.Pick(To(100)));
        _lblcr.UpdateServers([servers[1]]);
        Assert.Equal(0, _lblcr.Count);
        Assert.Same(servers[1], _lblcr.Pick(To(100)));
    }

    [Fact]
    public void Pick_ServersReplacedByNewObjectsWithTheSameEndpoints_KeepsTheSetByEndpoint()
    {
        // A server's identity within its service is its endpoint: the set keeps its member, now the new object, although
        // the other server is idle and would win a fresh wlc pick (issue 16).
        var servers = WithWeights(2, 2);
        _lblcr.UpdateServers(servers);
        Assert.Same(servers[0], _lblcr.Pick(To(100)));
        var renewed = WithWeights(2, 2);
        renewed[0].WithConnections(active: 1, inactive: 3);
        _lblcr.UpdateServers(renewed);
        Assert.Same(renewed[0], _lblcr.Pick(To(100)));
        Assert.Equal([renewed[0]], _lblcr.SetOf(Destination));
    }

    [Fact]
    public void Pick_SetMembersQuiesced_PicksOutsideTheSet()
    {
        var servers = WithWeights(1, 1);
        _lblcr.UpdateServers(servers);
        _lblcr.Pick(To(100));
        servers[0].Weight = 0;
        Assert.Same(servers[1], _lblcr.Pick(To(100)));
        servers[1].IsAvailable = false;
        Assert.Null(_lblcr.Pick(To(100)));
    }

    [Fact]
    public void Timer_FullCheck_DropsEntriesUnusedForTheExpiration()
    {
        _lblcr.UpdateServers(WithWeights(1));
        _lblcr.Pick(To(100));
        _time.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal(1, _lblcr.Count);
        _time.Advance(TimeSpan.FromMinutes(31));
        Assert.Equal(0, _lblcr.Count);
    }
}
