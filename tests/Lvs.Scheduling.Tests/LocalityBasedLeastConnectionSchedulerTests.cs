using Microsoft.Extensions.Time.Testing;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public sealed class LocalityBasedLeastConnectionSchedulerTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly LocalityBasedLeastConnectionScheduler _lblc;

    public LocalityBasedLeastConnectionSchedulerTests() =>
        _lblc = new(new SchedulerOptions { TimeProvider = _time, LocalityExpiration = TimeSpan.FromHours(2) });

    public void Dispose() => _lblc.Dispose();

    private static Lvs.Core.FlowKey To(uint destination, uint client = 1) => Flow(client, 1000, destination);

    [Fact]
    public void Pick_Destination_SticksToItsFirstServer()
    {
        var servers = WithWeights(1, 1, 1);
        _lblc.UpdateServers(servers);
        var first = _lblc.Pick(To(100));
        Assert.Same(servers[0], first);
        first!.WithConnections(active: 1, inactive: 0);

        // Another client to the same destination: same server although others are idle now.
        Assert.Same(first, _lblc.Pick(To(100, client: 2)));

        // A new destination gets the weighted least-connection server.
        Assert.Same(servers[1], _lblc.Pick(To(200)));
        Assert.Equal(2, _lblc.Count);
    }

    [Fact]
    public void Pick_CachedServerBusierThanWeight_MovesOnlyIfAnotherIsUnderHalf()
    {
        var servers = WithWeights(2, 4);
        servers[1].WithConnections(active: 2, inactive: 0);
        _lblc.UpdateServers(servers);
        Assert.Same(servers[0], _lblc.Pick(To(100)));

        // 3 active > weight 2, but the other has 2 active, not under 4 / 2: stay.
        servers[0].WithConnections(active: 3, inactive: 0);
        Assert.Same(servers[0], _lblc.Pick(To(100)));

        // The other drops to 1 active (1 * 2 < 4): move to the weighted least-connection server and remember it.
        servers[1].RemoveConnection(active: true);
        Assert.Same(servers[1], _lblc.Pick(To(100)));
        servers[1].WithConnections(active: 10, inactive: 0);
        Assert.Same(servers[1], _lblc.Pick(To(100)));
    }

    [Fact]
    public void Pick_CachedServerQuiescedUnavailableOrRemoved_IsReplaced()
    {
        var servers = WithWeights(1, 1, 1, 1);
        _lblc.UpdateServers(servers);
        Assert.Same(servers[0], _lblc.Pick(To(100)));
        servers[0].Weight = 0;
        Assert.Same(servers[1], _lblc.Pick(To(100)));
        servers[1].IsAvailable = false;
        Assert.Same(servers[2], _lblc.Pick(To(100)));

        // Removed from the list without being flagged unavailable: its entries go at the update.
        _lblc.UpdateServers([servers[0], servers[1], servers[3]]);
        Assert.Same(servers[3], _lblc.Pick(To(100)));
    }

    [Fact]
    public void Pick_CachedServerOverItsConnectionThreshold_IsStillReturnedAsByTheKernelsCacheHit()
    {
        // ip_vs_lblc_schedule keeps a cached dest that is available, weighted and not is_overloaded (lblc's own
        // "busier than its weight" rule); IP_VS_DEST_F_OVERLOAD (ipvsadm -x) is not looked at on a hit (issue 16).
        var servers = WithWeights(1, 1);
        _lblc.UpdateServers(servers);
        Assert.Same(servers[0], _lblc.Pick(To(100)));
        servers[0].Overloaded();
        Assert.True(servers[0].IsOverloaded);
        Assert.Same(servers[0], _lblc.Pick(To(100)));

        // A new destination is scheduled by the miss path, which skips the flagged server as the kernel does.
        Assert.Same(servers[1], _lblc.Pick(To(200)));
    }

    [Fact]
    public void Pick_ServersReplacedByNewObjectsWithTheSameEndpoints_KeepsEveryDestinationOnItsEndpoint()
    {
        // A server's identity within its service is its endpoint: a list rebuilt from configuration must not move
        // destinations. The returned object is the one of the current list.
        var servers = WithWeights(1, 1, 1);
        _lblc.UpdateServers(servers);
        var before = Enumerable.Range(0, 30).Select(d => _lblc.Pick(To((uint)d))!.Endpoint).ToArray();
        var renewed = WithWeights(1, 1, 1);
        renewed[0].WithConnections(active: 0, inactive: 5);
        _lblc.UpdateServers([renewed[2], renewed[0], renewed[1]]);
        for (int d = 0; d < 30; d++)
        {
            var pick = _lblc.Pick(To((uint)d));
            Assert.Equal(before[d], pick!.Endpoint);
            Assert.Contains(pick, renewed);
        }
    }

    [Fact]
    public void Pick_NothingSchedulable_ReturnsNull()
    {
        _lblc.UpdateServers(WithWeights(0, 0));
        Assert.Null(_lblc.Pick(To(1)));
        Assert.Equal(0, _lblc.Count);
    }

    [Fact]
    public void Timer_FullCheckEveryThirtyMinutes_DropsEntriesUnusedForTheExpiration()
    {
        var servers = WithWeights(1);
        _lblc.UpdateServers(servers);
        _lblc.Pick(To(100));
        _lblc.Pick(To(200));

        // Keep 200 in use every 20 minutes; 100 is left alone. The full checks run at 30, 60, 90 and 120 minutes.
        for (int minute = 20; minute <= 100; minute += 20)
        {
            _time.Advance(TimeSpan.FromMinutes(20));
            _lblc.Pick(To(200));
            Assert.Equal(2, _lblc.Count);
        }

        // At 120 minutes 100 has been unused for the 2-hour expiration: the kernel keeps entries only while
        // now < last use + expiration.
        _time.Advance(TimeSpan.FromMinutes(19));
        Assert.Equal(2, _lblc.Count);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, _lblc.Count);
        Assert.Same(servers[0], _lblc.Pick(To(200)));
    }

    [Fact]
    public void Timer_OverMaximumSize_DropsEntriesIdleForSixMinutes()
    {
        var servers = WithWeights(1);
        _lblc.UpdateServers(servers);
        int entries = LocalityTable<LocalityEntry>.MaxSize + 300;
        for (uint d = 0; d < entries; d++)
        {
            _lblc.Pick(To(d));
        }

        // Nothing is idle for 6 minutes before the check at 6 minutes; then at least 4/3 of the excess (400) goes, in
        // whole buckets of the kernel's table (LocalityTableTests checks which), which brings it under the maximum.
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(entries, _lblc.Count);
        _time.Advance(TimeSpan.FromMinutes(1));
        int left = _lblc.Count;
        Assert.InRange(left, entries - 400 - 64, entries - 400);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(left, _lblc.Count);
    }
}
