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

    [Fact]
    public async Task Check_Dynamic_ScriptKilledBySignal_IsUnhealthyNotAWeight()
    {
        // A signal is a failure (check_misc.c WIFSIGNALED), even though a shell would report it as status 137.
        var checker = new MiscChecker(new MiscCheckOptions { Path = "kill -KILL $$", Dynamic = true });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.False(result.IsHealthy, result.Reason);
        Assert.Null(result.Weight);
        Assert.Contains("signal 9", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_Dynamic_ScriptExits137_SetsWeight135()
    {
        // Only a normal exit sets a weight: the same number as an exit status is a weight.
        var checker = new MiscChecker(new MiscCheckOptions { Path = "exit 137", Dynamic = true });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.Equal((true, (int?)135), (result.IsHealthy, result.Weight));
    }

    [Fact]
    public void Constructor_MissingMiscPath_IsAConfigurationError()
    {
        var e = Assert.Throws<ArgumentException>(() => new MiscChecker(new MiscCheckOptions { Path = "/nonexistent/check-script --flag", Dynamic = true }));

        Assert.Contains("/nonexistent/check-script", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_MissingCommandOnPath_IsAConfigurationError()
    {
        Assert.Throws<ArgumentException>(() => new MiscChecker(new MiscCheckOptions { Path = "no-such-check-command-lvs arg" }));
    }

    [Fact]
    public void Constructor_NotExecutableMiscPath_IsAConfigurationError()
    {
        string script = Path.Combine(Path.GetTempPath(), $"misc-{Guid.NewGuid():N}.sh");
        File.WriteAllText(script, "#!/bin/sh\nexit 0\n");
        try
        {
            var e = Assert.Throws<ArgumentException>(() => new MiscChecker(new MiscCheckOptions { Path = script, Dynamic = true }));
            Assert.Contains("not executable", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(script);
        }
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Check_Dynamic_ScriptRemovedAfterLoad_IsUnhealthyNotWeight125()
    {
        string script = Path.Combine(Path.GetTempPath(), $"misc-{Guid.NewGuid():N}.sh");
        File.WriteAllText(script, "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var checker = new MiscChecker(new MiscCheckOptions { Path = script, Dynamic = true });
        Assert.True((await checker.CheckAsync(Ct)).IsHealthy);
        File.Delete(script);

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.False(result.IsHealthy, result.Reason);
        Assert.Null(result.Weight);
    }

    [Fact]
    public async Task Check_PastMiscTimeout_SigtermFirstThenSigkillTwoSecondsLater()
    {
        var clock = FakeClock.Create();
        string marker = Path.Combine(Path.GetTempPath(), $"misc-{Guid.NewGuid():N}");
        // SIGTERM ignored (and the ignoring inherited by sleep): only the SIGKILL 2 s later ends it.
        var checker = new MiscChecker(new MiscCheckOptions { Path = $"trap '' TERM; echo $$ > {marker}; exec sleep 60", Timeout = TimeSpan.FromSeconds(3) }, clock);
        try
        {
            Task<CheckResult> check = checker.CheckAsync(Ct).AsTask();
            await TcpCheckerTests.WaitForAsync(() => File.Exists(marker) && new FileInfo(marker).Length > 0);
            int pid = int.Parse(File.ReadAllText(marker).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            clock.Advance(TimeSpan.FromSeconds(3));
            await Task.Delay(300, Ct);
            Assert.True(IsRunning(pid), "the script was killed at the timeout: SIGTERM comes first");
            Assert.False(check.IsCompleted);

            clock.Advance(TimeSpan.FromSeconds(2));
            CheckResult result = await check.WaitAsync(TimeSpan.FromSeconds(30), Ct);

            Assert.Equal(CheckResult.Unhealthy("timed out after 3s"), result);
            Assert.False(IsRunning(pid));
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task Check_PastMiscTimeout_ScriptReceivesSigterm()
    {
        var clock = FakeClock.Create();
        string marker = Path.Combine(Path.GetTempPath(), $"misc-{Guid.NewGuid():N}");
        var checker = new MiscChecker(new MiscCheckOptions { Path = $"trap 'echo TERM > {marker}; exit 0' TERM; echo started > {marker}; while :; do sleep 0.05; done", Timeout = TimeSpan.FromSeconds(3) }, clock);
        try
        {
            Task<CheckResult> check = checker.CheckAsync(Ct).AsTask();
            await TcpCheckerTests.WaitForAsync(() => File.Exists(marker) && new FileInfo(marker).Length > 0);
            clock.Advance(TimeSpan.FromSeconds(3));
            CheckResult result = await check.WaitAsync(TimeSpan.FromSeconds(30), Ct);

            Assert.Equal(CheckResult.Unhealthy("timed out after 3s"), result);
            Assert.Equal("TERM", File.ReadAllText(marker).Trim());
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task Check_MiscTimeoutZero_MeansDelayLoop()
    {
        // misc_timeout 0 (the default) is the checker's delay_loop, as check_misc.c does.
        var clock = FakeClock.Create();
        string marker = Path.Combine(Path.GetTempPath(), $"misc-{Guid.NewGuid():N}");
        var misc = new MiscChecker(new MiscCheckOptions { Path = $"echo started > {marker}; exec sleep 60", Timeout = TimeSpan.Zero }, clock);
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        monitor.AddRealServer(monitor.AddVirtualService(new(Lvs.Core.VirtualServiceKey.ForAddress(Lvs.Core.L4Protocol.Tcp, Lvs.Core.InetEndpoint.Parse("10.0.0.1:80")))), new(Lvs.Core.InetEndpoint.Parse("10.0.1.1:80"))
        {
            Checks = [new(misc, new CheckTiming { DelayLoop = TimeSpan.FromSeconds(7), Retry = 0, Warmup = TimeSpan.Zero })],
        });
        try
        {
            monitor.Start();
            await TcpCheckerTests.WaitForAsync(() => File.Exists(marker) && new FileInfo(marker).Length > 0);
            clock.Advance(TimeSpan.FromSeconds(6));
            await Task.Delay(200, Ct);
            Assert.Empty(sink.Transitions);
            Assert.Equal(1, monitor.PendingChecks);
            clock.Advance(TimeSpan.FromSeconds(1));
            await monitor.IdleAsync();

            RealServerStateChange down = Assert.Single(sink.Transitions);
            Assert.Equal((false, "timed out after 7s"), (down.IsUp, down.Reason));
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task Check_TwentyScriptsTimingOutAtOnce_KillingDoesNotBlockTheTimerThread()
    {
        var clock = FakeClock.Create();
        string directory = Directory.CreateTempSubdirectory("misc-").FullName;
        try
        {
            var checks = new List<Task<CheckResult>>();
            for (int i = 0; i < 20; i++)
            {
                var checker = new MiscChecker(new MiscCheckOptions { Path = $"echo $$ > {directory}/{i}; exec sleep 60", Timeout = TimeSpan.FromSeconds(3) }, clock);
                checks.Add(checker.CheckAsync(Ct).AsTask());
            }

            await TcpCheckerTests.WaitForAsync(() => Directory.GetFiles(directory).Count(file => new FileInfo(file).Length > 0) == 20);
            var stopwatch = System.Diagnostics.Stopwatch.StartNew();
            // The timeouts fire on this thread, inside Advance: the kills must be quick signals, not waits.
            clock.Advance(TimeSpan.FromSeconds(3));
            TimeSpan blocked = stopwatch.Elapsed;
            CheckResult[] results = await Task.WhenAll(checks).WaitAsync(TimeSpan.FromSeconds(30), Ct);

            Assert.True(blocked < TimeSpan.FromMilliseconds(500), $"20 timeouts held the timer thread {blocked.TotalMilliseconds:0} ms");
            Assert.All(results, result => Assert.Equal("timed out after 3s", result.Reason));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static bool IsRunning(int pid) =>
        Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Check_Dynamic_ScriptWithMissingInterpreter_IsUnhealthyNotWeight125()
    {
        // The file is there and executable, but cannot be executed: keepalived's execve fails; a shell would exit 127.
        string script = WriteScript("#!/nonexistent/interpreter\nexit 0\n");
        try
        {
            var checker = new MiscChecker(new MiscCheckOptions { Path = $"{script} --port 80", Dynamic = true });

            CheckResult result = await checker.CheckAsync(Ct);

            Assert.False(result.IsHealthy, result.Reason);
            Assert.Null(result.Weight);
            Assert.StartsWith("cannot run", result.Reason, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(script);
        }
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Check_Dynamic_ScriptFileKilledBySignal_IsUnhealthy()
    {
        string script = WriteScript("#!/bin/sh\nkill -TERM $$\nsleep 5\n");
        try
        {
            var checker = new MiscChecker(new MiscCheckOptions { Path = $"'{script}' a \"b c\"", Dynamic = true });

            CheckResult result = await checker.CheckAsync(Ct);

            Assert.Equal(CheckResult.Unhealthy("killed by signal 15"), result);
        }
        finally
        {
            File.Delete(script);
        }
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Check_PlainCommand_GetsItsArgumentsAsAShellWouldSplitThem()
    {
        string output = Path.Combine(Path.GetTempPath(), $"misc-{Guid.NewGuid():N}");
        string script = WriteScript($"#!/bin/sh\nprintf '%s|' \"$@\" > {output}\nexit 12\n");
        try
        {
            var checker = new MiscChecker(new MiscCheckOptions { Path = $"{script} one 'two words' \"three\" four\\ five", Dynamic = true });

            CheckResult result = await checker.CheckAsync(Ct);

            Assert.Equal((true, (int?)10), (result.IsHealthy, result.Weight));
            Assert.Equal("one|two words|three|four five|", File.ReadAllText(output));
        }
        finally
        {
            File.Delete(script);
            File.Delete(output);
        }
    }

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static string WriteScript(string text)
    {
        string script = Path.Combine(Path.GetTempPath(), $"misc-{Guid.NewGuid():N}.sh");
        File.WriteAllText(script, text);
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return script;
    }

    [Fact]
    public async Task Check_AssignmentBeforeTheCommand_IsNotTakenForAProgram()
    {
        var checker = new MiscChecker(new MiscCheckOptions { Path = "CHECK_DIR=/nonexistent/dir exit 0" });

        Assert.True((await checker.CheckAsync(Ct)).IsHealthy);
    }
}
