namespace Lvs.HealthChecks;

/// <summary>
/// When a checker runs and how many results change a server's state: keepalived's <c>delay_loop</c>,
/// <c>retry</c>, <c>delay_before_retry</c>, <c>warmup</c> and <c>alpha</c>, plus a rise count.
/// </summary>
/// <remarks>
/// <para>
/// As in keepalived's checkers (check_tcp.c <c>tcp_epilog</c>, check_misc.c): a server that is up and fails a check
/// is retried <see cref="Retry"/> times, <see cref="DelayBeforeRetry"/> apart, and declared down on the failure
/// after the last retry, that is after <see cref="Retry"/> + 1 consecutive failures (ldirectord's
/// <c>failurecount</c> is that number). A server that is down is checked every <see cref="DelayLoop"/> and is
/// declared up after <see cref="Rise"/> consecutive successes, the later ones <see cref="DelayBeforeRetry"/> apart;
/// keepalived has no rise count (it is 1 there, the default here). The next check is scheduled when the current
/// one completes, as keepalived re-arms its timer in the checker's epilogue.
/// </para>
/// </remarks>
public sealed record CheckTiming
{
    /// <summary>keepalived's default <c>delay_loop</c>: 60 seconds.</summary>
    public static readonly TimeSpan DefaultDelayLoop = TimeSpan.FromSeconds(60);

    /// <summary>The interval between checks (keepalived <c>delay_loop</c>, ldirectord <c>checkinterval</c>).</summary>
    public TimeSpan DelayLoop { get; init; } = DefaultDelayLoop;

    /// <summary>
    /// How many failed retries after a first failure before an up server is declared down (keepalived <c>retry</c>,
    /// formerly <c>nb_get_retry</c>; ldirectord <c>failurecount</c> - 1). keepalived's default is 1.
    /// </summary>
    public int Retry
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            field = value;
        }
    } = 1;

    /// <summary>The delay before a retry, and between rise checks (keepalived <c>delay_before_retry</c>); 1 s by default.</summary>
    public TimeSpan DelayBeforeRetry { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How many consecutive successes bring a down server up; 1 (keepalived's behaviour) by default.</summary>
    public int Rise
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            field = value;
        }
    } = 1;

    /// <summary>
    /// The first check runs after a random delay between 0 and this (keepalived <c>warmup</c>), so that a
    /// thousand checks configured at once do not all fire at once; 0 runs it at once.
    /// </summary>
    public TimeSpan Warmup { get; init; }

    /// <summary>
    /// Start down until proven up (keepalived <c>alpha</c>). Without it a server starts up and is taken out only
    /// after its retries fail.
    /// </summary>
    public bool Alpha { get; init; }
}
