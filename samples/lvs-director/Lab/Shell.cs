using System.Diagnostics;

namespace Lvs.Samples.Director.Lab;

/// <summary>Runs the lab's set-up commands (<c>ip</c>, <c>sysctl</c>) and fails with their output when they fail.</summary>
public static class Shell
{
    /// <summary>Runs a command to completion.</summary>
    /// <param name="file">The program.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <returns>Its standard output.</returns>
    /// <exception cref="InvalidOperationException">It exited with a non-zero status.</exception>
    public static string Run(string file, params string[] arguments)
    {
        var (status, output, error) = TryRun(file, arguments);
        if (status != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {status}: {error.Trim()}{output.Trim()}");
        }

        return output;
    }

    /// <summary>Runs a command to completion, whatever its status.</summary>
    /// <param name="file">The program.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <returns>Its exit status, standard output and standard error.</returns>
    public static (int Status, string Output, string Error) TryRun(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, output.Result, error.Result);
    }
}
