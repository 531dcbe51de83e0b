namespace Lvs.HealthChecks;

/// <summary>
/// A timeout on the injected clock joined to the caller's cancellation, so that a check's timeout is tested
/// with a fake clock and still stops when the monitor stops.
/// </summary>
internal sealed class CheckDeadline : IDisposable
{
    private readonly CancellationTokenSource _timeout;
    private readonly CancellationTokenRegistration _link;
    private readonly CancellationToken _caller;

    public CheckDeadline(TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        _caller = cancellationToken;
        _timeout = new CancellationTokenSource(timeout, timeProvider);
        _link = cancellationToken.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), _timeout);
    }

    /// <summary>Cancelled when the timeout expires or the caller cancels.</summary>
    public CancellationToken Token => _timeout.Token;

    /// <summary>True when the token fired because of the timeout, not because the caller cancelled.</summary>
    public bool TimedOut => _timeout.IsCancellationRequested && !_caller.IsCancellationRequested;

    /// <summary>Starts the timeout again (keepalived's connect_timeout applies to each exchange, not only to the connect).</summary>
    /// <param name="timeout">The new timeout from now.</param>
    public void Restart(TimeSpan timeout) => _timeout.CancelAfter(timeout);

    public void Dispose()
    {
        _link.Dispose();
        _timeout.Dispose();
    }
}
