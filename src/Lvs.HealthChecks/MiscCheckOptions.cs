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
    /// How long the command may run before it is killed and the check fails (keepalived <c>misc_timeout</c>).
    /// keepalived's default is the checker's <c>delay_loop</c>; a configuration reader should pass that. 60 s here.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// keepalived's <c>misc_dynamic</c>: exit status 2 to 255 means healthy with weight status - 2 (0 to 253).
    /// Without it, any status but 0 is a failure.
    /// </summary>
    public bool Dynamic { get; init; }
}
