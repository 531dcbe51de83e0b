namespace Lvs.HealthChecks.Tests;

public sealed class CheckStateMachineTests
{
    private static readonly CheckTiming Timing = new()
    {
        DelayLoop = TimeSpan.FromSeconds(6),
        Retry = 2,
        DelayBeforeRetry = TimeSpan.FromSeconds(3),
        Rise = 3,
    };

    [Fact]
    public void Apply_UpServerFails_RetriesThenGoesDownOnRetryPlusOneFailures()
    {
        var machine = new CheckStateMachine(Timing);

        Assert.Equal((CheckTransition.None, Timing.DelayBeforeRetry), (machine.Apply(false, out TimeSpan d1), d1));
        Assert.Equal((CheckTransition.None, Timing.DelayBeforeRetry), (machine.Apply(false, out TimeSpan d2), d2));
        Assert.Equal((CheckTransition.WentDown, Timing.DelayLoop), (machine.Apply(false, out TimeSpan d3), d3));
        Assert.False(machine.IsUp);
    }

    [Fact]
    public void Apply_SuccessBetweenFailures_ResetsRetryCount()
    {
        var machine = new CheckStateMachine(Timing);
        machine.Apply(false, out _);
        machine.Apply(false, out _);

        Assert.Equal((CheckTransition.None, Timing.DelayLoop), (machine.Apply(true, out TimeSpan delay), delay));
        Assert.Equal(CheckTransition.None, machine.Apply(false, out _));
        Assert.Equal(CheckTransition.None, machine.Apply(false, out _));
        Assert.True(machine.IsUp);
    }

    [Fact]
    public void Apply_DownServer_NeedsRiseSuccessesInARow()
    {
        var machine = new CheckStateMachine(Timing with { Alpha = true });
        Assert.False(machine.IsUp);

        Assert.Equal((CheckTransition.None, Timing.DelayLoop), (machine.Apply(false, out TimeSpan d0), d0));
        Assert.Equal((CheckTransition.None, Timing.DelayBeforeRetry), (machine.Apply(true, out TimeSpan d1), d1));
        Assert.Equal((CheckTransition.None, Timing.DelayLoop), (machine.Apply(false, out TimeSpan d2), d2));
        machine.Apply(true, out _);
        machine.Apply(true, out _);
        Assert.Equal((CheckTransition.WentUp, Timing.DelayLoop), (machine.Apply(true, out TimeSpan d3), d3));
        Assert.True(machine.IsUp);
    }

    [Fact]
    public void Timing_Defaults_AreKeepalived()
    {
        var timing = new CheckTiming();

        // warmup defaults to delay_loop (check_api.c: checker->warmup = checker->delay_loop when not set).
        Assert.Equal((TimeSpan.FromSeconds(60), 1, TimeSpan.FromSeconds(1), 1, TimeSpan.FromSeconds(60), false), (timing.DelayLoop, timing.Retry, timing.DelayBeforeRetry, timing.Rise, timing.Warmup, timing.Alpha));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CheckTiming { Retry = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CheckTiming { Rise = 0 });
    }
}
