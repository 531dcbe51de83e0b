using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Lvs.TestSupport;

/// <summary>
/// Runs a test assembly's tests again in a child process that sees another processor count
/// (<c>DOTNET_PROCESSOR_COUNT</c>), so that they run with as many counter planes and round-robin reservation planes
/// (<c>PacketThread.Planes</c>: the processor count rounded up to a power of two, at most 8) as a machine of that size
/// gives: the test machine's own count exercises only one plane count. Compiled into the Core, Scheduling,
/// ConnectionTracking and Director test projects (tests/Shared).
/// </summary>
internal static partial class PlaneCountRun
{
    /// <summary>
    /// Runs every test of the assembly holding <paramref name="caller"/> but <paramref name="caller"/>'s own class in a
    /// child process with <paramref name="processorCount"/> processors, and fails unless every one passed.
    /// </summary>
    /// <param name="caller">The test class that asks (left out of the child's run, which would otherwise start itself again).</param>
    /// <param name="processorCount">The processor count the child sees.</param>
    public static void RunAssemblyWith(Type caller, int processorCount)
    {
        string assembly = caller.Assembly.Location;
        string appHost = Path.ChangeExtension(assembly, null);
        var start = new ProcessStartInfo(File.Exists(appHost) ? appHost : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (!File.Exists(appHost))
        {
            start.ArgumentList.Add(assembly);
        }

        foreach (string argument in new[] { "-class-", caller.FullName!, "-noLogo", "-noColor" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DOTNET_PROCESSOR_COUNT"] = processorCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var child = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {start.FileName}.");
        var error = child.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        string output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        string all = output + error.GetAwaiter().GetResult();

        var summary = Summary().Match(all);
        Assert.True(summary.Success, $"No summary from the child run:\n{all}");
        int total = int.Parse(summary.Groups["total"].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(total > 0, $"The child ran no test:\n{all}");
        Assert.True(
            child.ExitCode == 0 && summary.Groups["failed"].Value == "0" && summary.Groups["errors"].Value == "0" && summary.Groups["skipped"].Value == "0",
            $"With {processorCount} processors (exit code {child.ExitCode}):\n{all}");
    }

    [GeneratedRegex(@"Total: (?<total>\d+), Errors: (?<errors>\d+), Failed: (?<failed>\d+), Skipped: (?<skipped>\d+)")]
    private static partial Regex Summary();
}
