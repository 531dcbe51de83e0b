using Lvs.HealthChecks.Tests.Fixtures;

namespace Lvs.HealthChecks.Tests;

public sealed class MiscCheckerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(0, false, true, null)]
    [InlineData(1, false, false, null)]
    [InlineData(2, false, false, null)]
    [InlineData(255, false, false, null)]
    [InlineData(0, true, true, null)]
    [InlineData(1, true, false, null)]
    [InlineData(2, true, true, 0)]
    [InlineData(12, true, true, 10)]
    [InlineData(255, true, true, 253)]
    public async Task Check_ExitStatus_MapsAsKeepalived(int status, bool dynamic, bool healthy, int? weight)
    {
        var checker = new MiscChecker(new MiscCheckOptions { Path = $"exit {status}", Dynamic = dynamic });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.Equal((healthy, weight), (result.IsHealthy, result.Weight));
        Assert.Equal(result, MiscChecker.MapExitStatus(status, dynamic));
    }

    [Fact]
    public async Task Check_CommandWithArguments_RunsThroughTheShell()
    {
        var checker = new MiscChecker(new MiscCheckOptions { Path = "test \"a b\" = 'a b'" });

        Assert.True((await checker.CheckAsync(Ct)).IsHealthy);
    }

    [Fact]
    public async Task Check_MissingCommand_IsUnhealthy()
    {
        var checker = new MiscChecker(new MiscCheckOptions { Path = "/nonexistent/check-script" });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.False(result.IsHealthy);
        Assert.Equal("exited with status 127", result.Reason);
    }

    [Fact]
    public async Task Check_RunsPastMiscTimeout_IsKilledAndUnhealthy()
    {
        var clock = FakeClock.Create();
        string marker = Path.Combine(Path.GetTempPath(), $"misc-{Guid.NewGuid():N}");
        var checker = new MiscChecker(new MiscCheckOptions { Path = $"echo $$ > {marker}; exec sleep 60", Timeout = TimeSpan.FromSeconds(3) }, clock);
        try
        {
            Task<CheckResult> check = checker.CheckAsync(Ct).AsTask();
            await TcpCheckerTests.WaitForAsync(() => File.Exists(marker) && new FileInfo(marker).Length > 0);
            Assert.False(check.IsCompleted);
            clock.Advance(TimeSpan.FromSeconds(3));
            CheckResult result = await check.WaitAsync(TimeSpan.FromSeconds(30), Ct);

            Assert.Equal(CheckResult.Unhealthy("timed out after 3s"), result);
            int pid = int.Parse(File.ReadAllText(marker).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            await TcpCheckerTests.WaitForAsync(() => !Directory.Exists($"/proc/{pid}") || File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(marker);
        }
    }
}
