namespace Lvs.HealthChecks;

/// <summary>How a script ended: a normal exit with its status, or a signal.</summary>
/// <param name="ExitStatus">The exit status (0 to 255) of a normal exit, else null.</param>
/// <param name="Signal">The signal that ended it, else null.</param>
internal readonly record struct ScriptExit(int? ExitStatus, int? Signal);
