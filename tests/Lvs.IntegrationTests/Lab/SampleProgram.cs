using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Lvs.IntegrationTests.Lab;


/// <summary>
/// A sample program (<c>lvs-director</c>, <c>lvs-tunnel-agent</c>) built beside the tests, run in a namespace as its own
/// process; its output is kept for the test's messages, and it is stopped with SIGTERM as a user's Ctrl-C would.
/// </summary>
public sealed class SampleProgram : IDisposable
{
    private const int SigTerm = 15;
    private const int SigHup = 1;
    private const int SigInt = 2;
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _gate = new();

    private SampleProgram(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Everything the program printed so far.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Whether it has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Starts a sample in a namespace.</summary>
    /// <param name="lab">The lab (which kills it at dispose if still running).</param>
    /// <param name="ns">The namespace.</param>
    /// <param name="project">The sample's folder and assembly name under samples/ (<c>lvs-director</c>).</param>
    /// <param name="arguments">Its arguments.</param>
    /// <returns>The running program.</returns>
    public static SampleProgram Start(NetworkLab lab, NetNamespace ns, string project, params string[] arguments) =>
        new(lab.Start(ns, "dotnet", [PathOf(project), .. arguments]));

    /// <summary>Starts a sample in the test's own namespace (<c>lvs-director demo</c> builds its namespaces itself).</summary>
    /// <param name="project">The sample's name.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <returns>The running program.</returns>
    public static SampleProgram StartHere(string project, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(PathOf(project));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return new(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"));
    }

    /// <summary>The built assembly of a sample (the tests' project reference builds it first, in the same configuration).</summary>
    /// <param name="project">The sample's name.</param>
    /// <returns>The path of its dll.</returns>
    public static string PathOf(string project)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Lvs.Core.sln")))
        {
            directory = directory.Parent;
        }

        if (directory is null)
        {
            throw new InvalidOperationException($"cannot find the repository above {AppContext.BaseDirectory}");
        }

        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        var path = Path.Combine(directory.FullName, "samples", project, "bin", configuration, "net10.0", project + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"{project} is not built at {path}", path);
    }

    /// <summary>Waits until the output holds a text.</summary>
    /// <param name="text">The text.</param>
    /// <param name="timeout">The longest wait.</param>
    /// <returns>A task.</returns>
    /// <exception cref="TimeoutException">It did not appear (the output is in the message).</exception>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline || _process.HasExited)
            {
                throw new TimeoutException($"'{text}' did not appear (exited: {_process.HasExited}). Output:\n{Output}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Waits for the program to exit by itself.</summary>
    /// <param name="timeout">The longest wait.</param>
    /// <returns>The exit status.</returns>
    /// <exception cref="TimeoutException">It still runs (the output is in the message).</exception>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            throw new TimeoutException($"still running after {timeout}. Output:\n{Output}");
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Sends SIGINT, as Ctrl-C in a terminal.</summary>
    public void Interrupt() => Signal(SigInt);

    /// <summary>Sends SIGHUP (reload).</summary>
    public void Reload() => Signal(SigHup);

    /// <summary>Sends SIGTERM and waits for the exit.</summary>
    /// <param name="timeout">The longest wait.</param>
    /// <returns>The exit status.</returns>
    public int Stop(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            Signal(SigTerm);
        }

        if (!_process.WaitForExit(timeout))
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"did not stop within {timeout} of SIGTERM. Output:\n{Output}");
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    private void Signal(int signal)
    {
        if (kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _ = _output.AppendLine(line);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
