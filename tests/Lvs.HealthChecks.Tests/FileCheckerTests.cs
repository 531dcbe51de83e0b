using System.Text;
using Lvs.Core;
using Lvs.HealthChecks.Tests.Fixtures;

namespace Lvs.HealthChecks.Tests;

/// <summary>keepalived's FILE_CHECK: the number in a file, read as strtol reads it, decides the check or moves the weight.</summary>
public sealed class FileCheckerTests : IDisposable
{
    private static readonly VirtualServiceKey Vip = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.1:80"));
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private readonly string _directory = Directory.CreateTempSubdirectory("lvs-filecheck-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static InetEndpoint Rs(int i) => new(InetAddress.FromIPv4(10, 0, 1, (byte)i), 80);

    private string PathOf(string name = "state") => Path.Combine(_directory, name);

    private string Write(string text, string name = "state")
    {
        string path = PathOf(name);
        File.WriteAllText(path, text);
        return path;
    }

    public static TheoryData<string, int> Numbers => new()
    {
        { "0", 0 },
        { "12", 12 },
        { "  \t\n\v\f\r 42\n", 42 },
        { "+7", 7 },
        { "-7", -7 },
        { "0x1F", 31 },
        { "0X1f\n", 31 },
        { "-0x10", -16 },
        { "017", 15 },
        { "-017", -15 },
        { "08", 0 },
        { "0x", 0 },
        { "0xg", 0 },
        { "12abc", 12 },
        { "1.5", 1 },
        { "abc", 0 },
        { "", 0 },
        { "- 5", 0 },
        { "+-5", 0 },
        { "2147483647", int.MaxValue },
        { "-2147483648", int.MinValue },
        { "0x7fffffff", int.MaxValue },
        { "000000000000000000000000000000001", 1 },
    };

    [Theory]
    [MemberData(nameof(Numbers))]
    public void TryParseValue_ReadsAsStrtolBase0(string text, int expected)
    {
        Assert.True(FileChecker.TryParseValue(Encoding.ASCII.GetBytes(text), out int value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("2147483648")]
    [InlineData("-2147483649")]
    [InlineData("0x80000000")]
    [InlineData("99999999999999999999999999")]
    [InlineData("-99999999999999999999999999")]
    public void TryParseValue_OutsideInt32_IsRefused(string text) =>
        Assert.False(FileChecker.TryParseValue(Encoding.ASCII.GetBytes(text), out _));

    [Fact]
    public async Task Check_OutOfRangeNumber_KeepsThePreviousValue()
    {
        var checker = new FileChecker(new FileCheckOptions { Path = Write("5"), Weight = 2 });
        Assert.Equal(5, checker.Value);

        Write("99999999999");
        CheckResult result = await checker.CheckAsync(TestContext.Current.CancellationToken);

        Assert.Equal(5, checker.Value);
        Assert.Equal((true, (int?)10), (result.IsHealthy, result.WeightOffset));
        Assert.Contains("invalid number '99999999999' ignored", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_OnlyTheFirst127BytesAreRead()
    {
        // keepalived's 128-byte buffer: the 128th digit is never read.
        var checker = new FileChecker(new FileCheckOptions { Path = Write(new string(' ', 126) + "12"), Weight = 1 });

        Assert.Equal(1, checker.Value);
        Assert.Equal(1, (await checker.CheckAsync(TestContext.Current.CancellationToken)).WeightOffset);
    }

    [Theory]
    [InlineData("0", false, true)]
    [InlineData("1", false, false)]
    [InlineData("-3", false, false)]
    [InlineData("0", true, false)]
    [InlineData("1", true, true)]
    [InlineData("junk", false, true)]
    public async Task Check_WeightZero_NonZeroIsAFaultReverseTheOpposite(string text, bool reverse, bool healthy)
    {
        var checker = new FileChecker(new FileCheckOptions { Path = Write(text), Weight = 0, Reverse = reverse });

        CheckResult result = await checker.CheckAsync(TestContext.Current.CancellationToken);

        Assert.Equal(healthy, result.IsHealthy);
        Assert.Equal(healthy, checker.InitialResult.IsHealthy);
        Assert.Equal(healthy ? 0 : null, result.WeightOffset);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Check_MissingOrEmptyFile_IsZero(bool reverse)
    {
        var missing = new FileChecker(new FileCheckOptions { Path = PathOf("missing"), Weight = 0, Reverse = reverse });
        var empty = new FileChecker(new FileCheckOptions { Path = Write(string.Empty, "empty"), Weight = 0, Reverse = reverse });

        Assert.Equal(!reverse, (await missing.CheckAsync(TestContext.Current.CancellationToken)).IsHealthy);
        Assert.Equal(!reverse, (await empty.CheckAsync(TestContext.Current.CancellationToken)).IsHealthy);
        Assert.Equal(0, missing.Value);
    }

    [Fact]
    public async Task Check_FileDeletedAfterANumber_IsZeroAgain()
    {
        var checker = new FileChecker(new FileCheckOptions { Path = Write("4"), Weight = 3 });
        Assert.Equal(12, checker.InitialResult.WeightOffset);

        File.Delete(PathOf());

        Assert.Equal(0, (await checker.CheckAsync(TestContext.Current.CancellationToken)).WeightOffset);
        Assert.Equal(0, checker.Value);
    }

    [Theory]
    [InlineData("3", 10, false, 30)]
    [InlineData("3", 10, true, -30)]
    [InlineData("-1", 100, false, -100)]
    [InlineData("-1", 100, true, 100)]
    [InlineData("0", 100, false, 0)]
    [InlineData("2147483647", 2, false, int.MaxValue)]
    [InlineData("-2147483647", 1, false, -2147483647)]
    public async Task Check_NonZeroWeight_HealthyWithValueTimesWeight(string text, int weight, bool reverse, int offset)
    {
        var checker = new FileChecker(new FileCheckOptions { Path = Write(text), Weight = weight, Reverse = reverse });

        CheckResult result = await checker.CheckAsync(TestContext.Current.CancellationToken);

        Assert.True(result.IsHealthy);
        Assert.Equal(offset, result.WeightOffset);
    }

    [Theory]
    [InlineData("-2147483648", 1, false)]
    [InlineData("2147483647", 2, true)]
    [InlineData("-1073741824", 2, false)]
    public async Task Check_ProductAtOrBelowIntMin_IsAFault(string text, int weight, bool reverse)
    {
        var checker = new FileChecker(new FileCheckOptions { Path = Write(text), Weight = weight, Reverse = reverse });

        CheckResult result = await checker.CheckAsync(TestContext.Current.CancellationToken);

        Assert.False(result.IsHealthy);
        Assert.Null(result.WeightOffset);
    }

    [Fact]
    public void Options_WeightOutOfRange_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FileCheckOptions { Path = "x", Weight = RealServer.MaxWeight + 1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new FileCheckOptions { Path = "x", Weight = -RealServer.MaxWeight - 1 });
        Assert.Throws<ArgumentException>(() => new FileCheckOptions { Path = " " });
        Assert.Equal(1, new FileCheckOptions { Path = "x" }.Weight);
    }

    [Fact]
    public void Timing_FileCheck_NoRetryNoWarmup()
    {
        var checker = new FileChecker(new FileCheckOptions { Path = PathOf() });

        CheckTiming timing = CheckTiming.For(checker);

        Assert.Equal((0, TimeSpan.Zero, CheckTiming.DefaultDelayLoop), (timing.Retry, timing.Warmup, timing.DelayLoop));
    }

    [Fact]
    public async Task Monitor_FileSaysFaultAtStart_ServerNeverEntersThePool()
    {
        string path = Write("1");
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = FakeClock.Create() });
        MonitoredVirtualService service = monitor.AddVirtualService(new(Vip));
        // alpha off: any other checker would start up; the file's state wins.
        var check = new RealServerCheck(new FileChecker(new FileCheckOptions { Path = path, Weight = 0 }), new CheckTiming { DelayLoop = Hour, Warmup = TimeSpan.Zero });
        Assert.False(check.StartsUp);
        MonitoredRealServer rs = monitor.AddRealServer(service, new(Rs(1)) { Weight = 5, Checks = [check] });
        Assert.False(rs.IsUp);

        monitor.Start();
        await monitor.IdleAsync();

        Assert.Empty(sink.ServerChanges);
        Assert.False(rs.IsUp);
        Assert.Equal(0, service.LiveWeight);

        int seen = sink.ServerChanges.Count;
        File.WriteAllText(path, "0");
        RealServerStateChange up = await WaitForAsync(sink, seen, change => change.IsUp);
        Assert.Equal((PoolAction.Add, 5), (up.Action, up.Weight));
    }

    [Fact]
    public async Task Monitor_FileSaysFaultAtStart_InhibitedServerEntersWithWeightZero()
    {
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = FakeClock.Create() });
        var checker = new FileChecker(new FileCheckOptions { Path = Write("0"), Weight = 0, Reverse = true });
        monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(Rs(1)) { Weight = 5, InhibitOnFailure = true, Checks = [new(checker)] });

        monitor.Start();
        await monitor.IdleAsync();

        RealServerStateChange initial = Assert.Single(sink.ServerChanges);
        Assert.Equal((false, PoolAction.Add, 0, "initial state"), (initial.IsUp, initial.Action, initial.Weight, initial.Reason));
    }

    [Fact]
    public async Task Monitor_FileWrittenRenamedDeleted_ReachesTheSinkWithoutWaitingForDelayLoop()
    {
        // The monitor's clock never moves: only the file's change notification can make these checks run.
        string path = Write("0");
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = FakeClock.Create() });
        var checker = new FileChecker(new FileCheckOptions { Path = path, Weight = 0 });
        MonitoredRealServer rs = monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(Rs(1)) { Weight = 3, Checks = [new(checker, CheckTiming.For(checker) with { DelayLoop = Hour })] });
        monitor.Start();
        await monitor.IdleAsync();
        Assert.True(rs.IsUp);

        // Written in place.
        int seen = sink.ServerChanges.Count;
        File.WriteAllText(path, "1\n");
        RealServerStateChange down = await WaitForAsync(sink, seen, change => !change.IsUp);
        Assert.Equal(PoolAction.Remove, down.Action);
        Assert.Contains("reads 1: fault", down.Reason, StringComparison.Ordinal);

        // Deleted: 0.
        seen = sink.ServerChanges.Count;
        File.Delete(path);
        Assert.Equal(PoolAction.Add, (await WaitForAsync(sink, seen, change => change.IsUp)).Action);

        // Renamed into place (the atomic way to write it).
        seen = sink.ServerChanges.Count;
        string temporary = Write("7", "state.tmp");
        File.Move(temporary, path);
        await WaitForAsync(sink, seen, change => !change.IsUp);

        // Renamed away: 0.
        seen = sink.ServerChanges.Count;
        File.Move(path, PathOf("elsewhere"));
        await WaitForAsync(sink, seen, change => change.IsUp);
        Assert.Equal([false, true, false, true], sink.Transitions.Select(change => change.IsUp));
    }

    [Fact]
    public async Task Monitor_FileRewrittenInPlace_IsNotReadBeforeItsWriterClosesIt()
    {
        // keepalived watches IN_CLOSE_WRITE: a truncated file whose writer has not written yet must not read as 0.
        string path = Write("1");
        string other = Write("0", "other");
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = FakeClock.Create() });
        var reversed = new FileChecker(new FileCheckOptions { Path = path, Weight = 0, Reverse = true });
        var witness = new FileChecker(new FileCheckOptions { Path = other, Weight = 0 });
        MonitoredVirtualService service = monitor.AddVirtualService(new(Vip));
        MonitoredRealServer rs = monitor.AddRealServer(service, new(Rs(1)) { Checks = [new(reversed, CheckTiming.For(reversed) with { DelayLoop = Hour })] });
        monitor.AddRealServer(service, new(Rs(2)) { Checks = [new(witness, CheckTiming.For(witness) with { DelayLoop = Hour })] });
        monitor.Start();
        await monitor.IdleAsync();
        Assert.True(rs.IsUp);

        int seen = sink.ServerChanges.Count;
        using (var stream = new FileStream(path, FileMode.Create, FileAccess.Write))
        {
            // Truncated (0, a fault when reversed) and still open: the witness's event, queued after the truncation,
            // shows that the truncation woke nothing.
            File.WriteAllText(other, "1");
            RealServerStateChange down = await WaitForAsync(sink, seen, change => !change.IsUp);
            Assert.Equal(Rs(2), down.Server.Endpoint);
            stream.Write("1\n"u8);
        }

        seen = sink.ServerChanges.Count;
        File.WriteAllText(other, "0");
        await WaitForAsync(sink, seen, change => change.IsUp);
        Assert.True(rs.IsUp);
        Assert.Equal([Rs(2), Rs(2)], sink.Transitions.Select(change => change.Server.Endpoint));
    }

    [Fact]
    public async Task Monitor_WeightOffsets_MoveTheWeightClampedAndKeepTheServerInThePool()
    {
        // keepalived: effective weight = weight + value * W, applied through real_weight (0 .. 65535).
        string path = Write("-1");
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = FakeClock.Create() });
        var checker = new FileChecker(new FileCheckOptions { Path = path, Weight = 100 });
        MonitoredVirtualService service = monitor.AddVirtualService(new(Vip));
        MonitoredRealServer rs = monitor.AddRealServer(service, new(Rs(1)) { Weight = 50, Checks = [new(checker, CheckTiming.For(checker) with { DelayLoop = Hour })] });

        monitor.Start();
        await monitor.IdleAsync();
        RealServerStateChange initial = Assert.Single(sink.ServerChanges);
        // 50 - 100: in the pool, drained, not removed.
        Assert.Equal((true, PoolAction.Add, 0), (initial.IsUp, initial.Action, initial.Weight));
        Assert.True(rs.IsUp);

        int seen = sink.ServerChanges.Count;
        File.WriteAllText(path, "1");
        RealServerStateChange up = await WaitForAsync(sink, seen, change => change.Weight == 150);
        Assert.Equal((true, PoolAction.SetWeight), (up.IsUp, up.Action));
        Assert.Equal(150, service.LiveWeight);

        seen = sink.ServerChanges.Count;
        File.WriteAllText(path, "100000");
        Assert.Equal(PoolAction.SetWeight, (await WaitForAsync(sink, seen, change => change.Weight == RealServer.MaxWeight)).Action);

        seen = sink.ServerChanges.Count;
        File.WriteAllText(path, "0");
        Assert.Equal(PoolAction.SetWeight, (await WaitForAsync(sink, seen, change => change.Weight == 50)).Action);
        Assert.Empty(sink.Transitions);
    }

    [Fact]
    public async Task Monitor_TwoFileChecks_TheirOffsetsAdd_AFaultDropsItsOwn()
    {
        string a = Write("2", "a");
        string b = Write("3", "b");
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = FakeClock.Create() });
        var first = new FileChecker(new FileCheckOptions { Path = a, Weight = 10 });
        var second = new FileChecker(new FileCheckOptions { Path = b, Weight = 1 });
        MonitoredRealServer rs = monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(Rs(1))
        {
            Weight = 1,
            InhibitOnFailure = true,
            Checks = [new(first, CheckTiming.For(first) with { DelayLoop = Hour }), new(second, CheckTiming.For(second) with { DelayLoop = Hour })],
        });
        Assert.Equal(24, rs.EffectiveWeight);

        monitor.Start();
        await monitor.IdleAsync();
        Assert.Equal(24, Assert.Single(sink.ServerChanges).Weight);

        // b at INT_MIN: its checker is in FAULT and its offset goes; the server is down (weight 0, inhibited).
        int seen = sink.ServerChanges.Count;
        File.WriteAllText(b, "-2147483648");
        RealServerStateChange down = await WaitForAsync(sink, seen, change => !change.IsUp);
        Assert.Equal((PoolAction.SetWeight, 0), (down.Action, down.Weight));
        Assert.Equal(21, rs.EffectiveWeight);

        seen = sink.ServerChanges.Count;
        File.WriteAllText(b, "4");
        RealServerStateChange up = await WaitForAsync(sink, seen, change => change.IsUp && change.Reason != "initial state");
        Assert.Equal((PoolAction.SetWeight, 25), (up.Action, up.Weight));
    }

    [Fact]
    public async Task Monitor_RemovedServer_StopsWatchingItsFile()
    {
        string path = Write("0");
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = FakeClock.Create() });
        var checker = new FileChecker(new FileCheckOptions { Path = path, Weight = 0 });
        MonitoredVirtualService service = monitor.AddVirtualService(new(Vip));
        MonitoredRealServer removed = monitor.AddRealServer(service, new(Rs(1)) { Checks = [new(checker, CheckTiming.For(checker) with { DelayLoop = Hour })] });
        // A second server on another file of the same directory shows when the directory's events have been delivered.
        string other = Write("0", "other");
        var witness = new FileChecker(new FileCheckOptions { Path = other, Weight = 0 });
        monitor.AddRealServer(service, new(Rs(2)) { Checks = [new(witness, CheckTiming.For(witness) with { DelayLoop = Hour })] });
        monitor.Start();
        await monitor.IdleAsync();

        monitor.RemoveRealServer(removed);
        int seen = sink.ServerChanges.Count;
        File.WriteAllText(path, "1");
        File.WriteAllText(other, "1");
        await WaitForAsync(sink, seen, change => !change.IsUp);

        Assert.Equal([Rs(2)], sink.Transitions.Select(change => change.Server.Endpoint));
        Assert.True(removed.IsUp);
    }

    /// <summary>
    /// A tracked file that is a FIFO: keepalived opens it with O_NONBLOCK, so with no writer it reads nothing and the
    /// value is 0; an ordinary open would wait for a writer, and creating the checker (at configuration load) or
    /// checking would never return. With a writer that has written a number, it is read.
    /// </summary>
    [Fact]
    public async Task Check_FifoWithNoWriter_ReadsZeroWithoutBlocking()
    {
        string path = PathOf("fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", path))
        {
            await mkfifo.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var checker = await Task.Run(() => new FileChecker(new FileCheckOptions { Path = path, Weight = 3 }), TestContext.Current.CancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(0, checker.Value);
        CheckResult result = await checker.CheckAsync(TestContext.Current.CancellationToken).AsTask()
            .WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.True(result.IsHealthy);
        Assert.Equal(0, result.WeightOffset);

        // A writer that keeps the FIFO open with a number in it (opened for reading too, so that its open does not wait for
        // a reader): the next read takes the number.
        await using var writer = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        writer.Write("4\n"u8);
        writer.Flush();
        result = await checker.CheckAsync(TestContext.Current.CancellationToken).AsTask()
            .WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(12, result.WeightOffset);
    }

    /// <summary>Waits (at most 10 s) for a server event that matches; the file watch must deliver it long before.</summary>
    /// <remarks>Only events after <paramref name="seen"/> (the count before the change was made) count.</remarks>
    private static async Task<RealServerStateChange> WaitForAsync(RecordingSink sink, int seen, Func<RealServerStateChange, bool> match)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            RealServerStateChange? found = sink.ServerChanges.Skip(seen).FirstOrDefault(match);
            if (found is not null)
            {
                return found;
            }

            Assert.True(DateTime.UtcNow < deadline, "the file change did not reach the sink within 10 s");
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
    }
}
