using Lvs.Core;

namespace Lvs.Scheduling.Tests;

public class SchedulerRegistryTests
{
    public static TheoryData<string, Type> BuiltIns => new()
    {
        { "rr", typeof(RoundRobinScheduler) },
        { "wrr", typeof(WeightedRoundRobinScheduler) },
        { "lc", typeof(LeastConnectionScheduler) },
        { "wlc", typeof(WeightedLeastConnectionScheduler) },
        { "sed", typeof(ShortestExpectedDelayScheduler) },
        { "nq", typeof(NeverQueueScheduler) },
        { "lblc", typeof(LocalityBasedLeastConnectionScheduler) },
        { "lblcr", typeof(LocalityBasedLeastConnectionWithReplicationScheduler) },
        { "dh", typeof(DestinationHashingScheduler) },
        { "sh", typeof(SourceHashingScheduler) },
        { "mh", typeof(MaglevHashingScheduler) },
        { "fo", typeof(WeightedFailoverScheduler) },
        { "ovf", typeof(WeightedOverflowScheduler) },
        { "twos", typeof(PowerOfTwoChoicesScheduler) },
    };

    [Theory]
    [MemberData(nameof(BuiltIns))]
    public void Create_BuiltInName_MakesThatScheduler(string name, Type type)
    {
        var scheduler = new SchedulerRegistry().Create(name);
        Assert.IsType(type, scheduler);
        Assert.Equal(name, scheduler.Name);
        (scheduler as IDisposable)?.Dispose();
    }

    [Fact]
    public void Names_AreTheFourteenIpvsadmNames()
    {
        Assert.Equal(
            ["dh", "fo", "lblc", "lblcr", "lc", "mh", "nq", "ovf", "rr", "sed", "sh", "twos", "wlc", "wrr"],
            new SchedulerRegistry().Names);
    }

    [Fact]
    public void Create_UnknownName_ThrowsAndTryCreateFails()
    {
        var registry = new SchedulerRegistry();
        var error = Assert.Throws<ArgumentException>(() => registry.Create("random"));
        Assert.Contains("wlc", error.Message, StringComparison.Ordinal);
        Assert.False(registry.TryCreate("random", null, out var scheduler));
        Assert.Null(scheduler);
        Assert.False(registry.Contains("random"));
    }

    [Fact]
    public void Create_NameCase_DoesNotMatter()
    {
        Assert.IsType<WeightedLeastConnectionScheduler>(new SchedulerRegistry().Create("WLC"));
    }

    [Fact]
    public void Register_UserScheduler_IsCreatedWithTheServiceOptions()
    {
        var registry = new SchedulerRegistry();
        SchedulerOptions? seen = null;
        registry.Register("first", options =>
        {
            seen = options;
            return new FirstServerScheduler();
        });
        var options = new SchedulerOptions { Flags = SchedulerFlags.Flag3 };
        var scheduler = registry.Create("first", options);
        Assert.Same(options, seen);
        Assert.True(registry.Contains("first"));
        Assert.Contains("first", registry.Names);
        var servers = TestServers.WithWeights(1, 1);
        scheduler.UpdateServers(servers);
        Assert.Same(servers[0], scheduler.Pick(default));
    }

    [Fact]
    public void Register_BuiltInName_ReplacesIt()
    {
        var registry = new SchedulerRegistry();
        registry.Register("rr", _ => new FirstServerScheduler());
        Assert.IsType<FirstServerScheduler>(registry.Create("rr"));
    }

    [Fact]
    public void Create_Options_ReachTheScheduler()
    {
        var registry = new SchedulerRegistry();
        var mh = Assert.IsType<MaglevHashingScheduler>(registry.Create("mh", new SchedulerOptions { MaglevTableSize = 4093 }));
        Assert.Equal(4093, mh.TableSize);
    }

    private sealed class FirstServerScheduler : IScheduler
    {
        private RealServer[] _servers = [];

        public string Name => "first";

        public void UpdateServers(IReadOnlyList<RealServer> servers) => _servers = [.. servers];

        public RealServer? Pick(in FlowKey flow) => _servers.FirstOrDefault(s => s.IsSchedulable);
    }
}
