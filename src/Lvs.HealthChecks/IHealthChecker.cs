namespace Lvs.HealthChecks;

/// <summary>
/// One asynchronous check of one real server (one keepalived checker block: <c>TCP_CHECK</c>, <c>HTTP_GET</c>, ...).
/// </summary>
/// <remarks>
/// A checker enforces its own timeouts (keepalived's <c>connect_timeout</c>, <c>misc_timeout</c>) through the
/// <see cref="TimeProvider"/> it was given, and reports a timeout as an unhealthy result rather than an exception.
/// The built-in checkers never let an exception escape: every outcome is a result. The monitor never runs two
/// checks of the same checker at once. An exception from a custom checker, other than the cancellation the monitor
/// asked for, counts as an unhealthy result carrying the exception's message (and in
/// <see cref="HealthMonitor.UnexpectedErrors"/>).
/// </remarks>
public interface IHealthChecker
{
    /// <summary>Checks the server once.</summary>
    /// <param name="cancellationToken">Cancelled when the monitor stops or the server is removed.</param>
    /// <returns>Healthy or unhealthy with a reason, and optionally a weight.</returns>
    ValueTask<CheckResult> CheckAsync(CancellationToken cancellationToken);
}
