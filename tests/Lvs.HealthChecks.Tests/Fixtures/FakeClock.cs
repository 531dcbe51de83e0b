using Microsoft.Extensions.Time.Testing;

namespace Lvs.HealthChecks.Tests.Fixtures;

/// <summary>
/// Moves a fake clock and waits until every check it made due has finished, so that tests see the monitor's
/// state at each instant. The wait is for completion (real sockets answer on their own time), never a timed assertion.
/// </summary>
public static class FakeClock
{
    public static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static FakeTimeProvider Create() => new(Epoch);

    /// <summary>Advances in steps of <paramref name="step"/>, letting the due checks finish after each step.</summary>
    public static async Task AdvanceAsync(this FakeTimeProvider clock, HealthMonitor monitor, TimeSpan total, TimeSpan step)
    {
        for (TimeSpan done = TimeSpan.Zero; done < total; done += step)
        {
            clock.Advance(step);
            await monitor.IdleAsync();
        }
    }

    /// <summary>Waits until no check is due or running (after a start or an advance).</summary>
    public static async Task IdleAsync(this HealthMonitor monitor)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (monitor.PendingChecks > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "checks did not complete within 30 s");
            await Task.Delay(1, TestContext.Current.CancellationToken);
        }
    }
}
