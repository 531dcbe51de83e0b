namespace Lvs.HealthChecks.Tests.Fixtures;

/// <summary>
/// Wraps a check (or plays a script of results) and records when each check ran on the clock, so that tests
/// can count the checks and their spacing.
/// </summary>
public sealed class ScriptedChecker(TimeProvider clock, Func<int, CheckResult>? script = null, IHealthChecker? inner = null) : IHealthChecker
{
    private readonly Lock _gate = new();
    private readonly List<(DateTimeOffset Time, CheckResult Result)> _runs = [];

    public IReadOnlyList<(DateTimeOffset Time, CheckResult Result)> Runs
    {
        get
        {
            lock (_gate)
            {
                return [.. _runs];
            }
        }
    }

    public async ValueTask<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset start = clock.GetUtcNow();
        int index;
        lock (_gate)
        {
            index = _runs.Count;
        }

        CheckResult result = inner is not null ? await inner.CheckAsync(cancellationToken) : script!(index);
        lock (_gate)
        {
            _runs.Add((start, result));
        }

        return result;
    }
}
