using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace Lvs.HealthChecks;

/// <summary>
/// keepalived's <c>MISC_CHECK</c>: runs a command; exit status 0 is healthy, 1 is unhealthy, and with
/// <see cref="MiscCheckOptions.Dynamic"/> 2 to 255 is healthy with weight status - 2 (keepalived's check_misc.c).
/// A command still running after <see cref="MiscCheckOptions.Timeout"/> is killed with its children and fails.
/// </summary>
public sealed class MiscChecker : IHealthChecker
{
    private readonly MiscCheckOptions _options;
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates an external-command checker.</summary>
    /// <param name="options">The command, its timeout and whether its exit status sets the weight.</param>
    /// <param name="timeProvider">The clock for the timeout; the system clock when null.</param>
    public MiscChecker(MiscCheckOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Path);
        _options = options;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Maps an exit status to a result as keepalived's check_misc.c does.</summary>
    /// <param name="status">The exit status, 0 to 255.</param>
    /// <param name="dynamic">keepalived's <c>misc_dynamic</c>.</param>
    /// <returns>The result.</returns>
    public static CheckResult MapExitStatus(int status, bool dynamic) => status switch
    {
        0 => CheckResult.Healthy("exited with status 0"),
        >= 2 and <= 255 when dynamic => CheckResult.HealthyWithWeight(status - 2, string.Create(CultureInfo.InvariantCulture, $"exited with status {status}: weight {status - 2}")),
        _ => CheckResult.Unhealthy(string.Create(CultureInfo.InvariantCulture, $"exited with status {status}")),
    };

    /// <inheritdoc />
    public async ValueTask<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(_options.Path);
        using var deadline = new CheckDeadline(_options.Timeout, _timeProvider, cancellationToken);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("The process did not start.");
        }
        catch (Win32Exception e)
        {
            return CheckResult.Unhealthy($"could not run: {e.Message}");
        }

        using (process)
        {
            try
            {
                await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Kill(process);
                if (deadline.TimedOut)
                {
                    return CheckResult.Unhealthy($"timed out after {_options.Timeout.TotalSeconds:0.###}s");
                }

                throw;
            }

            // A command killed by a signal shows as 128 + signal through the shell; keepalived counts a signal as a failure too.
            return MapExitStatus(process.ExitCode, _options.Dynamic);
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited between the timeout and the kill.
        }
    }
}
