namespace Lvs.Director.Configuration;

/// <summary>How a keepalived.conf is read: the config id of <c>@</c> lines and where <c>${_ENV NAME}</c> looks.</summary>
public sealed record KeepalivedParserOptions
{
    /// <summary>
    /// The config id that <c>@id</c> and <c>@^id</c> lines are compared with (keepalived <c>-i</c>,
    /// <c>--config-id</c>), also <c>${_INSTANCE}</c>. keepalived's default is the first part of the node name; so is
    /// this one's.
    /// </summary>
    public string ConfigId { get; init; } = Environment.MachineName.Split('.')[0];

    /// <summary>Looks up an environment variable for <c>${_ENV NAME}</c>; null: the process environment.</summary>
    public Func<string, string?>? EnvironmentVariables { get; init; }

    /// <summary>
    /// The file is read again for a reload (keepalived's SIGHUP): a <c>track_file</c>'s <c>init_file ... overwrite</c>
    /// then leaves an existing file alone, as keepalived does ("Don't overwrite a file on reload").
    /// </summary>
    public bool Reload { get; init; }
}
