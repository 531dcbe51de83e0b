namespace Lvs.HealthChecks;

/// <summary>A custom check given as a delegate (anything keepalived's checkers do not cover).</summary>
/// <param name="check">The check; it receives the monitor's cancellation token.</param>
public sealed class DelegateChecker(Func<CancellationToken, ValueTask<CheckResult>> check) : IHealthChecker
{
    private readonly Func<CancellationToken, ValueTask<CheckResult>> _check = check ?? throw new ArgumentNullException(nameof(check));

    /// <inheritdoc />
    public ValueTask<CheckResult> CheckAsync(CancellationToken cancellationToken) => _check(cancellationToken);
}
