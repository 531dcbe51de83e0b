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
/// <para>
/// <c>new CheckTiming()</c> holds keepalived's defaults for <c>TCP_CHECK</c>, <c>UDP_CHECK</c>, <c>SMTP_CHECK</c> and <c>PING_CHECK</c>;
/// <see cref="For(IHealthChecker)"/> gives each checker's own (keepalived sets some per checker). Every value is
/// checked when it is set: a bad one throws <see cref="ArgumentOutOfRangeException"/> naming the option.
/// </para>
/// </remarks>
public sealed record CheckTiming
{
    /// <summary>keepalived's default <c>delay_loop</c>: 60 seconds.</summary>
    public static readonly TimeSpan DefaultDelayLoop = TimeSpan.FromSeconds(60);

    /// <summary>keepalived's default <c>delay_before_retry</c> (check_api.c): 1 second.</summary>
    public static readonly TimeSpan DefaultDelayBeforeRetry = TimeSpan.FromSeconds(1);

    private readonly TimeSpan? _delayBeforeRetry;
    private readonly TimeSpan? _warmup;

    /// <summary>The interval between checks (keepalived <c>delay_loop</c>, ldirectord <c>checkinterval</c>); greater than zero.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Zero, negative, or longer than a timer can wait (49 days).</exception>
    public TimeSpan DelayLoop
    {
        get;
        init => field = OptionValidation.Positive(value, nameof(DelayLoop), "delay_loop");
    } = DefaultDelayLoop;

    /// <summary>
    /// How many failed retries after a first failure before an up server is declared down (keepalived <c>retry</c>,
    /// formerly <c>nb_get_retry</c>; ldirectord <c>failurecount</c> - 1). keepalived's default is 1 (0 for
    /// <c>MISC_CHECK</c>, 3 for <c>DNS_CHECK</c>: see <see cref="For(IHealthChecker)"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public int Retry
    {
        get;
        init => field = OptionValidation.InRange(value, 0, int.MaxValue, nameof(Retry), "retry");
    } = 1;

    /// <summary>
    /// The delay before a retry, and between rise checks (keepalived <c>delay_before_retry</c>); 1 s by default
    /// (3 s for <c>HTTP_GET</c>/<c>SSL_GET</c>, <see cref="DelayLoop"/> for <c>DNS_CHECK</c>: see <see cref="For(IHealthChecker)"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or longer than a timer can wait.</exception>
    public TimeSpan DelayBeforeRetry
    {
        get => _delayBeforeRetry ?? (DelayBeforeRetryIsDelayLoop ? DelayLoop : DefaultDelayBeforeRetry);
        init => _delayBeforeRetry = OptionValidation.NotNegative(value, nameof(DelayBeforeRetry), "delay_before_retry");
    }

    /// <summary>How many consecutive successes bring a down server up; 1 (keepalived's behaviour) by default.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Less than 1.</exception>
    public int Rise
    {
        get;
        init => field = OptionValidation.InRange(value, 1, int.MaxValue, nameof(Rise), "rise");
    } = 1;

    /// <summary>
    /// The first check runs after a random delay between 0 and this (keepalived <c>warmup</c>), so that a
    /// thousand checks configured at once do not all fire at once; 0 runs it at once. Unless set, it is
    /// <see cref="DelayLoop"/>, keepalived's default (check_api.c).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or longer than a timer can wait.</exception>
    public TimeSpan Warmup
    {
        get => _warmup ?? DelayLoop;
        init => _warmup = OptionValidation.NotNegative(value, nameof(Warmup), "warmup");
    }

    /// <summary>DNS_CHECK's default: <see cref="DelayBeforeRetry"/>, unless set, follows <see cref="DelayLoop"/>.</summary>
    private bool DelayBeforeRetryIsDelayLoop { get; init; }

    /// <summary>
    /// Start down until proven up (keepalived <c>alpha</c>). Without it a server starts up and is taken out only
    /// after its retries fail.
    /// </summary>
    public bool Alpha { get; init; }

    /// <summary>
    /// keepalived's defaults for a checker: <c>retry</c> 0 for <c>MISC_CHECK</c> (check_misc.c); <c>retry</c> 3 and
    /// <c>delay_before_retry</c> = <c>delay_loop</c> for <c>DNS_CHECK</c> (check_dns.c); <c>delay_before_retry</c>
    /// 3 s for <c>HTTP_GET</c> and <c>SSL_GET</c> (check_http.c); otherwise (<c>TCP_CHECK</c>, <c>UDP_CHECK</c>,
    /// <c>SMTP_CHECK</c>: check_api.c <c>queue_checker</c>) <c>retry</c> 1 and <c>delay_before_retry</c> 1 s. In all, <c>delay_loop</c> 60 s and <c>warmup</c> = <c>delay_loop</c>.
    /// <c>FILE_CHECK</c> (<see cref="FileChecker"/>) has no retries, delay or warmup in keepalived (the file is watched and
    /// a change applies at once): <c>retry</c> 0 and <c>warmup</c> 0 here, <c>delay_loop</c> being how often the file is
    /// read again besides its change notifications.
    /// Set the keywords a configuration gives with <c>with</c>: <c>CheckTiming.For(checker) with { DelayLoop = ... }</c>.
    /// </summary>
    /// <param name="checker">The checker.</param>
    /// <returns>Its default timing.</returns>
    public static CheckTiming For(IHealthChecker checker)
    {
        ArgumentNullException.ThrowIfNull(checker);
        return checker switch
        {
            MiscChecker => new CheckTiming { Retry = 0 },
            DnsChecker => new CheckTiming { Retry = 3, DelayBeforeRetryIsDelayLoop = true },
            HttpGetChecker => new CheckTiming { DelayBeforeRetry = TimeSpan.FromSeconds(3) },
            FileChecker => new CheckTiming { Retry = 0, Warmup = TimeSpan.Zero },
            _ => new CheckTiming(),
        };
    }
}
