namespace Lvs.HealthChecks;

/// <summary>One checker of a real server with its timing (one checker block inside a keepalived <c>real_server</c>).</summary>
/// <param name="Checker">The check.</param>
/// <param name="Timing">When it runs and how many results change the state.</param>
public sealed record RealServerCheck(IHealthChecker Checker, CheckTiming Timing)
{
    /// <summary>A checker with keepalived's default timing for its kind (<see cref="CheckTiming.For(IHealthChecker)"/>).</summary>
    /// <param name="checker">The check.</param>
    public RealServerCheck(IHealthChecker checker)
        : this(checker, CheckTiming.For(checker))
    {
    }

    /// <summary>
    /// Whether the checker starts up in a monitor: unless <see cref="CheckTiming.Alpha"/>; a <see cref="FileChecker"/>
    /// starts in the state of its first read (<see cref="FileChecker.InitialResult"/>), whatever <c>alpha</c> says, as
    /// keepalived clears <c>alpha</c> for <c>FILE_CHECK</c> (check_file.c: its state is known at once).
    /// </summary>
    public bool StartsUp => Checker is FileChecker file ? file.InitialResult.IsHealthy : !Timing.Alpha;
}
