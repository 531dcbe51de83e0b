using Lvs.Samples.Director;

namespace Lvs.Hosting.Tests;

public sealed class LvsDirectorCliTests : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"lvs-cli-{Guid.NewGuid():N}.rules");

    public void Dispose() => File.Delete(_file);

    [Fact]
    public async Task List_RulesFile_PrintsIpvsadmListing()
    {
        await File.WriteAllTextAsync(_file, "-A -t 10.0.0.100:80 -s wrr\n-a -t 10.0.0.100:80 -r 10.1.0.11:8080 -m -w 2\n-a -t 10.0.0.100:80 -r 10.1.0.12:8080 -m -w 1\n-A -u 10.0.0.100:53 -s rr\n-a -u 10.0.0.100:53 -r 10.1.0.11:53 -g -w 1\n", TestContext.Current.CancellationToken);
        var (code, output, error) = await Run("list", "--rules", _file);

        Assert.Equal(0, code);
        Assert.Empty(error);
        Assert.Equal(
            """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
            TCP  10.0.0.100:80 wrr
              -> 10.1.0.11:8080               Masq    2      0          0         
              -> 10.1.0.12:8080               Masq    1      0          0         
            UDP  10.0.0.100:53 rr
              -> 10.1.0.11:53                 Route   1      0          0         

            """.ReplaceLineEndings("\n"),
            output);
    }

    [Fact]
    public async Task List_RulesFileWithErrors_PrintsFileLineMessageAndFails()
    {
        await File.WriteAllTextAsync(_file, "-A -t 10.0.0.100:80 -s wrr\n-a -t 10.0.0.100:80 -r 10.1.0.11:8080 -m -w nine\n", TestContext.Current.CancellationToken);
        var (code, output, error) = await Run("list", "--rules", _file);

        Assert.NotEqual(0, code);
        Assert.Empty(output);
        Assert.StartsWith($"{_file}:2: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_RulesFileWithErrors_PrintsFileLineMessageAndFails()
    {
        await File.WriteAllTextAsync(_file, "-A -t 10.0.0.100:80 -s nosuch\n-A -t 10.0.0.100\n", TestContext.Current.CancellationToken);
        var (code, _, error) = await Run("run", "--rules", _file, "--interface", "lvs-test-none", "--duration", "1");

        Assert.NotEqual(0, code);
        Assert.Contains($"{_file}:2: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_UnknownHostAnswer_NamesItAndFails()
    {
        await File.WriteAllTextAsync(_file, "-A -t 10.0.0.100:80 -s rr\n", TestContext.Current.CancellationToken);
        var (code, _, error) = await Run("run", "--rules", _file, "--interface", "lvs-test-none", "--duration", "1", "--no-host-answer", "echo", "--no-host-answer", "rst");

        Assert.NotEqual(0, code);
        Assert.Contains("host answer 'rst': not one the director gives", error, StringComparison.Ordinal);
        Assert.DoesNotContain("'echo'", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_PartitionConnections_IsAnOptionOfRun()
    {
        await File.WriteAllTextAsync(_file, "-A -t 10.0.0.100:80 -s rr\n", TestContext.Current.CancellationToken);
        var (_, help, _) = await Run("run", "--help");
        var (code, _, error) = await Run("run", "--rules", _file, "--interface", "lvs-test-none", "--duration", "1", "--workers", "2", "--partition-connections");

        Assert.Contains("--partition-connections", help, StringComparison.Ordinal);
        Assert.NotEqual(0, code);
        Assert.Contains("lvs-test-none", error, StringComparison.Ordinal);
        Assert.DoesNotContain("partition-connections", error, StringComparison.Ordinal);
    }

    /// <summary>The scheduler options of run are accepted (the run then fails on the missing interface alone), and a bad value is named.</summary>
    [Theory]
    [InlineData("--mh-kernel")]
    [InlineData("--rr-per-thread")]
    [InlineData("--wrr-per-thread")]
    [InlineData("--counts-refresh-picks", "64")]
    public async Task Run_SchedulerOptions_AreOptionsOfRun(params string[] option)
    {
        await File.WriteAllTextAsync(_file, "-A -t 10.0.0.100:80 -s wlc\n", TestContext.Current.CancellationToken);
        var (_, help, _) = await Run("run", "--help");
        var (code, _, error) = await Run(["run", "--rules", _file, "--interface", "lvs-test-none", "--duration", "1", "--workers", "2", .. option]);

        Assert.Contains(option[0], help, StringComparison.Ordinal);
        Assert.NotEqual(0, code);
        Assert.Contains("lvs-test-none", error, StringComparison.Ordinal);
        Assert.DoesNotContain(option[0].TrimStart('-'), error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_NegativeCountsRefreshPicks_IsAnError()
    {
        await File.WriteAllTextAsync(_file, "-A -t 10.0.0.100:80 -s wlc\n", TestContext.Current.CancellationToken);
        var (code, _, error) = await Run("run", "--rules", _file, "--interface", "lvs-test-none", "--duration", "1", "--counts-refresh-picks", "-1");

        Assert.NotEqual(0, code);
        Assert.Contains("OtherThreadCountsRefreshPicks must be at least 0 (is -1)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_AcceptSourceRoute_IsAnOptionOfRun()
    {
        await File.WriteAllTextAsync(_file, "-A -t 10.0.0.100:80 -s rr\n", TestContext.Current.CancellationToken);
        var (_, help, _) = await Run("run", "--help");
        var (code, _, error) = await Run("run", "--rules", _file, "--interface", "lvs-test-none", "--duration", "1", "--accept-source-route");

        Assert.Contains("--accept-source-route", help, StringComparison.Ordinal);
        Assert.NotEqual(0, code);
        Assert.Contains("lvs-test-none", error, StringComparison.Ordinal);
        Assert.DoesNotContain("accept-source-route", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_Simulate_SaysItIsASimulationAndShowsEachMethodsWrrShares()
    {
        var (code, output, error) = await Run("demo", "--simulate", "--requests", "60");

        Assert.Equal(0, code);
        Assert.Empty(error);
        Assert.StartsWith("SIMULATION", output, StringComparison.Ordinal);
        Assert.Contains("sudo dotnet run --project samples/lvs-director -- demo", output, StringComparison.Ordinal);
        foreach (var method in new[] { "NAT", "FULLNAT", "DR", "TUN" })
        {
            int start = output.IndexOf($"== {method} (simulated) ==", StringComparison.Ordinal);
            Assert.True(start >= 0, output);
            int end = output.IndexOf("\n== ", start + 3, StringComparison.Ordinal);
            var section = output[start..(end < 0 ? output.Length : end)];

            // wrr 1:2:3 over 60 new flows: 10, 20 and 30, in the distribution and in the --stats table's Conns.
            Assert.Matches(@"10\.1\.0\.11:80 +1 +10 ", section);
            Assert.Matches(@"10\.1\.0\.12:80 +2 +20 ", section);
            Assert.Matches(@"10\.1\.0\.13:80 +3 +30 ", section);
            Assert.Matches(@"TCP  10\.0\.0\.100:80 +60 +60 ", section);
        }
    }

    private static async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = await LvsDirectorCli.InvokeAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
