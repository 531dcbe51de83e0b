using FsCheck;
using FsCheck.Fluent;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public class PowerOfTwoChoicesSchedulerTests
{
    private static PowerOfTwoChoicesScheduler Create(int seed) => new(new SchedulerOptions { Random = new Random(seed) });

    [Fact]
    public void Pick_SameSeed_SameSequence()
    {
        var servers = WithWeights(1, 2, 3, 4);
        var a = Create(42);
        var b = Create(42);
        a.UpdateServers(servers);
        b.UpdateServers(servers);
        Assert.Equal(a.PickMany(50), b.PickMany(50));
    }

    [Fact]
    public void Pick_OfTwoDraws_TakesTheLessLoaded()
    {
        // Two equal servers, one loaded: it only wins when both draws land on it. Draws are over [0, 2] as in the kernel
        // (0 and 1 land on the first server), so that happens with probability (2/3)^2 = 4/9.
        var servers = WithWeights(1, 1);
        servers[0].WithConnections(active: 5, inactive: 0);
        var twos = Create(7);
        twos.UpdateServers(servers);
        var picks = twos.PickMany(4000);
        double loaded = picks.Count(p => p == servers[0]) / 4000.0;
        Assert.InRange(loaded, 0.41, 0.48);
    }

    [Fact]
    public void Pick_EqualLoad_FollowsTheWeights()
    {
        // With no load the first draw always wins, so picks follow the weights, with the kernel's inclusive draw over
        // [0, 4]: 0, 1, 2, 3 land on the first server, 4 on the last, so 4/5 instead of 3/4.
        var servers = WithWeights(3, 0, 1);
        var twos = Create(3);
        twos.UpdateServers(servers);
        var picks = twos.PickMany(8000);
        Assert.DoesNotContain(servers[1], picks);
        Assert.InRange(picks.Count(p => p == servers[0]) / 8000.0, 0.78, 0.82);
    }

    [Fact]
    public void Pick_OnlyOneSchedulable_ReturnsIt()
    {
        var servers = WithWeights(5, 5, 5);
        servers[0].Overloaded();
        servers[2].IsAvailable = false;
        var twos = Create(1);
        twos.UpdateServers(servers);
        Assert.All(twos.PickMany(100), p => Assert.Same(servers[1], p));
        servers[1].Weight = 0;
        Assert.Null(twos.Pick(default));
    }

    [FsCheck.Xunit.Property]
    public Property Pick_ReturnsASchedulableServer_OrNullWhenThereIsNone() =>
        Prop.ForAll(ServerSpec.Lists, Gen.Choose(0, 1000).ToArbitrary(), (specs, seed) =>
        {
            var servers = ServerSpec.Build(specs);
            var twos = Create(seed);
            twos.UpdateServers(servers);
            var picks = twos.PickMany(20);
            bool any = servers.Any(s => s.IsSchedulable);
            return picks.All(p => any ? p is not null && p.IsSchedulable : p is null);
        });
}
