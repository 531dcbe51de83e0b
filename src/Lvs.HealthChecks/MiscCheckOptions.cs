namespace Lvs.HealthChecks;

/// <summary>Options of keepalived's <c>MISC_CHECK</c> (ldirectord <c>checktype = external</c>).</summary>
public sealed record MiscCheckOptions
{
    /// <summary>
    /// The command with its arguments (keepalived <c>misc_path</c>, ldirectord <c>checkcommand</c>), run by
    /// <c>/bin/sh -c</c> so that quoting works as in a shell.
    /// </summary>
    public required string Path { get; init; }

    /// <summary>
    /// How long the command may run before the check fails and the command is sent SIGTERM, then SIGKILL 2 s later
    /// if it is still there (keepalived <c>misc_timeout</c>). 0, the default, means the checker's
    /// <see cref="CheckTiming.DelayLoop"/>, as in keepalived (60 s when the checker runs outside a monitor).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or longer than a timer can wait.</exception>
    public TimeSpan Timeout
    {
        get;
        init => field = OptionValidation.NotNegative(value, nameof(Timeout), "misc_timeout");
    }

    /// <summary>
    /// keepalived's <c>misc_dynamic</c>: a normal exit with status 2 to 255 means healthy with weight status - 2
    /// (0 to 253), and status 0 healthy with the configured weight. Without it, any status but 0 is a failure. A
    /// command killed by a signal, or that cannot be run, always fails.
    /// </summary>
    public bool Dynamic { get; init; }
}
