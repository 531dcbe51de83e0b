namespace Lvs.HealthChecks;

/// <summary>What one result did to a checker's state.</summary>
internal enum CheckTransition
{
    None,
    WentUp,
    WentDown,
}

/// <summary>
/// The up/down state of one checker and the counting rules of <see cref="CheckTiming"/> (keepalived's
/// <c>retry_it</c> counter in check_tcp.c/check_misc.c, and a rise counter keepalived does not have).
/// Not thread-safe: the monitor applies one result at a time per checker.
/// </summary>
internal sealed class CheckStateMachine
{
    private int _failures;
    private int _successes;

    /// <summary>A checker that starts up unless <see cref="CheckTiming.Alpha"/>.</summary>
    public CheckStateMachine(CheckTiming timing)
        : this(timing, !timing.Alpha)
    {
    }

    /// <summary>A checker whose initial state is known (a <see cref="FileChecker"/> reads its file first).</summary>
    public CheckStateMachine(CheckTiming timing, bool initiallyUp)
    {
        Timing = timing;
        IsUp = initiallyUp;
    }

    public CheckTiming Timing { get; }

    public bool IsUp { get; private set; }

    /// <summary>Applies a result.</summary>
    /// <param name="healthy">The check passed.</param>
    /// <param name="nextDelay">When the next check is due, from now.</param>
    /// <returns>The state change, if any.</returns>
    public CheckTransition Apply(bool healthy, out TimeSpan nextDelay)
    {
        if (IsUp)
        {
            if (healthy)
            {
                _failures = 0;
                nextDelay = Timing.DelayLoop;
                return CheckTransition.None;
            }

            if (_failures < Timing.Retry)
            {
                _failures++;
                nextDelay = Timing.DelayBeforeRetry;
                return CheckTransition.None;
            }

            _failures = 0;
            IsUp = false;
            nextDelay = Timing.DelayLoop;
            return CheckTransition.WentDown;
        }

        if (!healthy)
        {
            _successes = 0;
            nextDelay = Timing.DelayLoop;
            return CheckTransition.None;
        }

        if (++_successes < Timing.Rise)
        {
            nextDelay = Timing.DelayBeforeRetry;
            return CheckTransition.None;
        }

        _successes = 0;
        IsUp = true;
        nextDelay = Timing.DelayLoop;
        return CheckTransition.WentUp;
    }
}
