using Lvs.Core;
using Lvs.HealthChecks.Tests.Fixtures;
using Microsoft.Extensions.Time.Testing;

namespace Lvs.HealthChecks.Tests;

public sealed class HealthMonitorTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);
    private static readonly VirtualServiceKey Vip = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.1:80"));

    private static InetEndpoint Rs(int i) => new(InetAddress.FromIPv4(10, 0, 1, (byte)i), 80);

    private static DateTimeOffset At(double seconds) => FakeClock.Epoch + TimeSpan.FromSeconds(seconds);

    [Fact]
    public async Task RealTcpServer_Stops_DownAfterExactlyRetriesThenUpAfterRise()
    {
        FakeTimeProvider clock = FakeClock.Create();
        using var server = new TcpTestServer();
        var checker = new ScriptedChecker(clock, inner: new TcpChecker(new CheckConnectionOptions(server.Endpoint) { ConnectTimeout = TimeSpan.FromSeconds(30) }, clock));
        var timing = new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = 5 * Second, Retry = 3, DelayBeforeRetry = 2 * Second, Rise = 2 };
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        MonitoredRealServer rs = monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(server.Endpoint) { Weight = 3, Checks = [new(checker, timing)] });

        monitor.Start();
        await monitor.IdleAsync();
        await clock.AdvanceAsync(monitor, 5 * Second, Second);
        Assert.True(rs.IsUp);
        Assert.Equal(2, checker.Runs.Count);

        server.Stop();
        // Failures at 10, 12, 14 are the first failure and two retries; the one at 16 is the last retry.
        await clock.AdvanceAsync(monitor, 10 * Second, Second);
        Assert.Empty(sink.Transitions);
        await clock.AdvanceAsync(monitor, Second, Second);
        RealServerStateChange down = Assert.Single(sink.Transitions);
        Assert.False(down.IsUp);
        Assert.Equal(PoolAction.Remove, down.Action);
        Assert.Equal(At(16), down.Time);
        Assert.Contains("ConnectionRefused", down.Reason, StringComparison.Ordinal);
        Assert.Equal([At(0), At(5), At(10), At(12), At(14), At(16)], checker.Runs.Select(run => run.Time));
        Assert.Equal(4, checker.Runs.Count(run => !run.Result.IsHealthy));

        server.Restart();
        // Down: the next check comes after delay_loop (21), the second success of the rise after delay_before_retry (23).
        await clock.AdvanceAsync(monitor, 12 * Second, Second);
        Assert.Equal(2, sink.Transitions.Count);
        RealServerStateChange up = sink.Transitions[1];
        Assert.True(up.IsUp);
        Assert.Equal(PoolAction.Add, up.Action);
        Assert.Equal(3, up.Weight);
        Assert.Equal(At(23), up.Time);
        Assert.Equal([At(21), At(23), At(28)], checker.Runs.Skip(6).Select(run => run.Time));
    }

    [Fact]
    public async Task Flapping_AlternatingResults_NeverChangeState()
    {
        FakeTimeProvider clock = FakeClock.Create();
        var checker = new ScriptedChecker(clock, i => i % 2 == 0 ? CheckResult.Unhealthy("odd") : CheckResult.Healthy("even"));
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(Rs(1)) { Checks = [new(checker, new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = Second, Retry = 1, Rise = 2 })] });

        monitor.Start();
        for (int i = 0; i < 200; i++)
        {
            clock.Advance(Second);
        }

        Assert.True(checker.Runs.Count > 200);
        Assert.Empty(sink.Transitions);
    }

    /// <summary>
    /// For any sequence of results and any retry/rise counts, the monitor changes state exactly where counting
    /// consecutive results says, and never sooner after the previous change than the configuration allows.
    /// </summary>
    [FsCheck.Xunit.Property(MaxTest = 60)]
    public bool Transitions_FollowRetryAndRiseCounts(bool[] results, byte retryByte, byte riseByte, bool alpha)
    {
        int retry = retryByte % 4;
        int rise = 1 + (riseByte % 3);
        var delayLoop = TimeSpan.FromSeconds(10);
        var delayBeforeRetry = TimeSpan.FromSeconds(3);
        var timing = new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = delayLoop, Retry = retry, DelayBeforeRetry = delayBeforeRetry, Rise = rise, Alpha = alpha };

        // The reference: keepalived's counting, written out plainly.
        var expected = new List<(int CheckIndex, bool Up)>();
        bool up = !alpha;
        int failures = 0, successes = 0;
        for (int i = 0; i < results.Length; i++)
        {
            if (up)
            {
                failures = results[i] ? 0 : failures + 1;
                if (failures > retry)
                {
                    up = false;
                    failures = 0;
                    expected.Add((i, false));
                }
            }
            else
            {
                successes = results[i] ? successes + 1 : 0;
                if (successes >= rise)
                {
                    up = true;
                    successes = 0;
                    expected.Add((i, true));
                }
            }
        }

        FakeTimeProvider clock = FakeClock.Create();
        var checker = new ScriptedChecker(clock, i => new CheckResult(i >= results.Length || results[i], $"#{i}"));
        var sink = new RecordingSink();
        var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(Rs(1)) { Checks = [new(checker, timing)] });
        monitor.Start();
        // Synchronous checks complete inside Advance: no waiting needed.
        while (checker.Runs.Count < results.Length)
        {
            clock.Advance(Second);
        }

        monitor.DisposeAsync().AsTask().GetAwaiter().GetResult();
        var runs = checker.Runs;
        var actual = sink.Transitions
            .Select(change => (CheckIndex: int.Parse(change.Reason.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture), Up: change.IsUp))
            .Where(change => change.CheckIndex < results.Length)
            .ToList();
        bool sameTransitions = actual.SequenceEqual(expected);

        // The fastest a server can go down after coming up is delay_loop + retry x delay_before_retry; up after down, delay_loop + (rise - 1) x delay_before_retry.
        bool spacedEnough = true;
        for (int i = 1; i < sink.Transitions.Count; i++)
        {
            TimeSpan gap = sink.Transitions[i].Time - sink.Transitions[i - 1].Time;
            TimeSpan minimum = sink.Transitions[i].IsUp ? delayLoop + ((rise - 1) * delayBeforeRetry) : delayLoop + (retry * delayBeforeRetry);
            spacedEnough &= gap >= minimum;
        }

        bool timesMatchRuns = sink.Transitions.All(change => runs.Any(run => run.Time == change.Time));
        return sameTransitions && spacedEnough && timesMatchRuns;
    }

    [Fact]
    public async Task Alpha_StartsDownAndComesUpOnFirstSuccess()
    {
        FakeTimeProvider clock = FakeClock.Create();
        var checker = new ScriptedChecker(clock, i => i < 2 ? CheckResult.Unhealthy("no") : CheckResult.Healthy("yes"));
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        MonitoredVirtualService service = monitor.AddVirtualService(new(Vip));
        MonitoredRealServer rs = monitor.AddRealServer(service, new(Rs(1)) { Weight = 5, Checks = [new(checker, new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = 2 * Second, Alpha = true })] });
        Assert.False(rs.IsUp);

        monitor.Start();
        Assert.DoesNotContain(sink.ServerChanges, change => change.Reason == "initial state");
        QuorumStateChange initial = Assert.Single(sink.QuorumChanges);
        Assert.False(initial.HasQuorum);

        clock.Advance(2 * Second);
        Assert.Empty(sink.Transitions);
        clock.Advance(2 * Second);
        RealServerStateChange up = Assert.Single(sink.Transitions);
        Assert.Equal((true, PoolAction.Add, 5, At(4)), (up.IsUp, up.Action, up.Weight, up.Time));
        Assert.True(sink.QuorumChanges[^1].HasQuorum);
    }

    [Fact]
    public async Task NoAlpha_InitialStateAddsEveryServer()
    {
        FakeTimeProvider clock = FakeClock.Create();
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        MonitoredVirtualService service = monitor.AddVirtualService(new(Vip));
        monitor.AddRealServer(service, new(Rs(1)) { Weight = 2 });
        monitor.AddRealServer(service, new(Rs(2)) { Weight = 7, Checks = [new(new DelegateChecker(_ => ValueTask.FromResult(CheckResult.Healthy("ok"))), new CheckTiming { Warmup = TimeSpan.Zero })] });

        monitor.Start();

        Assert.Equal([(Rs(1), 2), (Rs(2), 7)], sink.ServerChanges.Select(change => (change.Server.Endpoint, change.Weight)));
        Assert.All(sink.ServerChanges, change => Assert.Equal(PoolAction.Add, change.Action));
        QuorumStateChange quorum = Assert.Single(sink.QuorumChanges);
        Assert.True(quorum.HasQuorum);
        Assert.Equal(9, quorum.LiveWeight);
    }

    [Fact]
    public async Task InhibitOnFailure_SetsWeightZeroAndRestoresConfiguredWeight()
    {
        FakeTimeProvider clock = FakeClock.Create();
        var checker = new ScriptedChecker(clock, i => i is 1 ? CheckResult.Unhealthy("down") : CheckResult.Healthy("up"));
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(Rs(1)) { Weight = 4, InhibitOnFailure = true, Checks = [new(checker, new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = Second, Retry = 0 })] });

        monitor.Start();
        clock.Advance(Second);
        clock.Advance(Second);

        Assert.Equal(
            [(false, PoolAction.SetWeight, 0), (true, PoolAction.SetWeight, 4)],
            sink.Transitions.Select(change => (change.IsUp, change.Action, change.Weight)));
    }

    [Fact]
    public async Task Warmup_FirstCheckAfterTheInjectedRandomDelay()
    {
        FakeTimeProvider clock = FakeClock.Create();
        var checker = new ScriptedChecker(clock, _ => CheckResult.Healthy("ok"));
        var warmup = TimeSpan.FromSeconds(30);
        await using var monitor = new HealthMonitor(new RecordingSink(), new HealthMonitorOptions { TimeProvider = clock, Random = new Random(1234) });
        monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(Rs(1)) { Checks = [new(checker, new CheckTiming { Warmup = warmup })] });
        var expected = TimeSpan.FromTicks((long)(warmup.Ticks * new Random(1234).NextDouble()));
        Assert.True(expected > TimeSpan.Zero && expected < warmup);

        monitor.Start();
        clock.Advance(expected - TimeSpan.FromTicks(1));
        Assert.Empty(checker.Runs);
        clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(FakeClock.Epoch + expected, Assert.Single(checker.Runs).Time);
    }

    [Fact]
    public async Task WeightOffset_AddsToTheConfiguredWeight_ClampedAndDroppedByAFailure()
    {
        FakeTimeProvider clock = FakeClock.Create();
        CheckResult[] script =
        [
            CheckResult.HealthyWithWeightOffset(5, "+5"),
            CheckResult.HealthyWithWeightOffset(-20, "-20"),
            CheckResult.Unhealthy("fault"),
            CheckResult.Healthy("no offset given"),
            CheckResult.HealthyWithWeightOffset(70000, "+70000"),
        ];
        var checker = new ScriptedChecker(clock, i => script[Math.Min(i, script.Length - 1)]);
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        MonitoredRealServer rs = monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(Rs(1)) { Weight = 10, Checks = [new(checker, new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = Second, Retry = 0 })] });

        monitor.Start();
        await monitor.IdleAsync();
        await clock.AdvanceAsync(monitor, 4 * Second, Second);

        Assert.Equal(
            [
                (true, PoolAction.Add, 10),
                (true, PoolAction.SetWeight, 15),
                // 10 - 20: clamped to 0, still in the pool.
                (true, PoolAction.SetWeight, 0),
                // A failure drops the offset: the server comes back with its configured weight.
                (false, PoolAction.Remove, 10),
                (true, PoolAction.Add, 10),
                (true, PoolAction.SetWeight, RealServer.MaxWeight),
            ],
            sink.ServerChanges.Select(change => (change.IsUp, change.Action, change.Weight)));
        Assert.Equal(RealServer.MaxWeight, rs.EffectiveWeight);
    }

    [Fact]
    public async Task MiscDynamic_ExitStatusSetsWeight()
    {
        FakeTimeProvider clock = FakeClock.Create();
        int status = 12;
        var misc = new MiscChecker(new MiscCheckOptions { Path = "exit $(cat \"$STATUS_FILE\")", Dynamic = true }, clock);
        string file = Path.GetTempFileName();
        try
        {
            Environment.SetEnvironmentVariable("STATUS_FILE", file);
            await File.WriteAllTextAsync(file, status.ToString(System.Globalization.CultureInfo.InvariantCulture), TestContext.Current.CancellationToken);
            var sink = new RecordingSink();
            await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
            MonitoredVirtualService service = monitor.AddVirtualService(new(Vip));
            MonitoredRealServer rs = monitor.AddRealServer(service, new(Rs(1)) { Weight = 1, Checks = [new(misc, new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = Second, Retry = 0 })] });

            monitor.Start();
            await monitor.IdleAsync();
            RealServerStateChange weight = Assert.Single(sink.ServerChanges, change => change.Reason.StartsWith("weight", StringComparison.Ordinal));
            Assert.Equal((true, PoolAction.SetWeight, 10), (weight.IsUp, weight.Action, weight.Weight));
            Assert.Equal(10, rs.EffectiveWeight);
            Assert.Equal(10, service.LiveWeight);

            await File.WriteAllTextAsync(file, "1", TestContext.Current.CancellationToken);
            await clock.AdvanceAsync(monitor, Second, Second);
            RealServerStateChange down = Assert.Single(sink.Transitions);
            Assert.Equal((false, PoolAction.Remove), (down.IsUp, down.Action));
            Assert.Equal("exited with status 1", down.Reason);

            await File.WriteAllTextAsync(file, "2", TestContext.Current.CancellationToken);
            await clock.AdvanceAsync(monitor, Second, Second);
            // Status 2 is healthy with weight 0: the server is up, in the pool with no new connections.
            RealServerStateChange up = sink.Transitions[^1];
            Assert.Equal((true, PoolAction.Add, 0), (up.IsUp, up.Action, up.Weight));
        }
        finally
        {
            Environment.SetEnvironmentVariable("STATUS_FILE", null);
            File.Delete(file);
        }
    }

    [Fact]
    public async Task QuorumWithHysteresis_RealServersStopAndStart_SorryServerInAndOut()
    {
        FakeTimeProvider clock = FakeClock.Create();
        using var a = new TcpTestServer();
        using var b = new TcpTestServer();
        using var c = new TcpTestServer();
        var sorry = InetEndpoint.Parse("10.9.9.9:80");
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        // Quorum 4 with hysteresis 1: lost below 3, regained at 5. Each server weighs 2.
        MonitoredVirtualService service = monitor.AddVirtualService(new(Vip) { Quorum = 4, Hysteresis = 1, SorryServer = sorry });
        var timing = new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = Second, Retry = 0 };
        MonitoredRealServer Add(TcpTestServer server) => monitor.AddRealServer(service, new(server.Endpoint) { Weight = 2, Checks = [new(new TcpChecker(new(server.Endpoint) { ConnectTimeout = TimeSpan.FromSeconds(30) }, clock), timing)] });
        MonitoredRealServer ra = Add(a), rb = Add(b), rc = Add(c);

        monitor.Start();
        await monitor.IdleAsync();
        Assert.True(Assert.Single(sink.QuorumChanges).HasQuorum);
        sink.Clear();

        a.Stop();
        await clock.AdvanceAsync(monitor, Second, Second);
        // 4 left: not below 3, quorum holds.
        Assert.Equal([(ra, false, PoolAction.Remove)], sink.ServerChanges.Select(change => (change.Server, change.IsUp, change.Action)));
        Assert.Empty(sink.QuorumChanges);
        Assert.True(service.HasQuorum);
        sink.Clear();

        b.Stop();
        await clock.AdvanceAsync(monitor, Second, Second);
        // 2 left: quorum lost. b is removed, the live c is taken out, then the sorry server goes in.
        Assert.Equal(
            [(rb, false, PoolAction.Remove), (rc, true, PoolAction.Remove)],
            sink.ServerChanges.Select(change => (change.Server, change.IsUp, change.Action)));
        QuorumStateChange lost = Assert.Single(sink.QuorumChanges);
        Assert.Equal((false, 2L, PoolAction.Add), (lost.HasQuorum, lost.LiveWeight, lost.SorryServerAction));
        Assert.IsType<QuorumStateChange>(sink.Events[^1]);
        Assert.True(service.SorryServerActive);
        sink.Clear();

        a.Restart();
        await clock.AdvanceAsync(monitor, Second, Second);
        // 4 live: below quorum + hysteresis, still lost; a is up but the pool is left to the sorry server.
        Assert.Equal([(ra, true, PoolAction.None)], sink.ServerChanges.Select(change => (change.Server, change.IsUp, change.Action)));
        Assert.Empty(sink.QuorumChanges);
        Assert.True(service.SorryServerActive);
        sink.Clear();

        b.Restart();
        await clock.AdvanceAsync(monitor, Second, Second);
        // 6 live: regained. The sorry server leaves first, then every live server is added back.
        QuorumStateChange regained = Assert.Single(sink.QuorumChanges);
        Assert.Equal((true, 6L, PoolAction.Remove), (regained.HasQuorum, regained.LiveWeight, regained.SorryServerAction));
        int quorumIndex = sink.Events.ToList().IndexOf(regained);
        var adds = sink.Events.Skip(quorumIndex + 1).OfType<RealServerStateChange>().Select(change => (change.Server, change.Action, change.Weight)).ToList();
        Assert.Equal([(ra, PoolAction.Add, 2), (rb, PoolAction.Add, 2), (rc, PoolAction.Add, 2)], adds);
        Assert.False(service.SorryServerActive);
    }

    [Fact]
    public async Task AlphaWithSorryServer_StartsOnSorryServerAndHandsOverOnFirstUp()
    {
        FakeTimeProvider clock = FakeClock.Create();
        var checker = new ScriptedChecker(clock, i => new CheckResult(i >= 1, "script"));
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        MonitoredVirtualService service = monitor.AddVirtualService(new(Vip) { SorryServer = InetEndpoint.Parse("10.9.9.9:80") });
        MonitoredRealServer rs = monitor.AddRealServer(service, new(Rs(1)) { Weight = 2, InhibitOnFailure = true, Checks = [new(checker, new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = Second, Alpha = true })] });

        monitor.Start();
        // Inhibited and down: in the pool at weight 0; quorum not met: the sorry server goes in.
        Assert.Equal([(rs, PoolAction.Add, 0)], sink.ServerChanges.Select(change => (change.Server, change.Action, change.Weight)));
        Assert.Equal(PoolAction.Add, Assert.Single(sink.QuorumChanges).SorryServerAction);
        sink.Clear();

        clock.Advance(Second);
        // Up while the sorry server stands in: no pool change; then quorum is regained, the sorry server leaves and rs gets its weight.
        Assert.Collection(
            sink.Events,
            e => Assert.Equal((true, PoolAction.None), (((RealServerStateChange)e).IsUp, ((RealServerStateChange)e).Action)),
            e => Assert.Equal((true, PoolAction.Remove), (((QuorumStateChange)e).HasQuorum, ((QuorumStateChange)e).SorryServerAction)),
            e => Assert.Equal((PoolAction.SetWeight, 2), (((RealServerStateChange)e).Action, ((RealServerStateChange)e).Weight)));
    }

    [Fact]
    public async Task RealHttpServer_Returns503_DownAfterRetriesThenBack()
    {
        FakeTimeProvider clock = FakeClock.Create();
        await using var server = await KestrelTestServer.StartAsync();
        int status = 200;
        server.Handler = context =>
        {
            context.Response.StatusCode = status;
            return Task.CompletedTask;
        };
        using var http = new HttpGetChecker(new CheckConnectionOptions(server.Endpoint) { ConnectTimeout = TimeSpan.FromSeconds(30) }, new HttpGetCheckOptions { Urls = [new("/health")] }, clock);
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(server.Endpoint) { Checks = [new(http, new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = 3 * Second, Retry = 1, DelayBeforeRetry = Second })] });
        monitor.Start();
        await monitor.IdleAsync();

        status = 503;
        await clock.AdvanceAsync(monitor, 4 * Second, Second);
        RealServerStateChange down = Assert.Single(sink.Transitions);
        Assert.Equal((false, At(4), "/health: status 503"), (down.IsUp, down.Time, down.Reason));

        status = 200;
        await clock.AdvanceAsync(monitor, 3 * Second, Second);
        Assert.Equal((true, At(7)), (sink.Transitions[^1].IsUp, sink.Transitions[^1].Time));
        Assert.Equal(4, server.Requests); // t = 0, 3, 4 (the retry), 7
    }

    [Fact]
    public async Task SinkThrows_ChecksGoOn()
    {
        FakeTimeProvider clock = FakeClock.Create();
        var checker = new ScriptedChecker(clock, _ => CheckResult.Unhealthy("down"));
        await using var monitor = new HealthMonitor(new ThrowingSink(), new HealthMonitorOptions { TimeProvider = clock });
        monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(Rs(1)) { Checks = [new(checker, new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = Second, Retry = 0 })] });

        monitor.Start();
        await clock.AdvanceAsync(monitor, 5 * Second, Second);

        Assert.Equal(6, checker.Runs.Count);
    }

    [Fact]
    public async Task CheckerThrows_CountsAsFailure()
    {
        FakeTimeProvider clock = FakeClock.Create();
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(Rs(1)) { Checks = [new(new DelegateChecker(_ => throw new InvalidOperationException("bug")), new CheckTiming { Warmup = TimeSpan.Zero, Retry = 0 })] });

        monitor.Start();

        RealServerStateChange down = Assert.Single(sink.Transitions);
        Assert.Contains("bug", down.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SeveralCheckers_ServerUpOnlyWhenAllAreUp()
    {
        FakeTimeProvider clock = FakeClock.Create();
        bool firstHealthy = true, secondHealthy = true;
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        var timing = new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = Second, Retry = 0 };
        MonitoredRealServer rs = monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(Rs(1))
        {
            Checks =
            [
                new(new DelegateChecker(_ => ValueTask.FromResult(new CheckResult(firstHealthy, "first"))), timing),
                new(new DelegateChecker(_ => ValueTask.FromResult(new CheckResult(secondHealthy, "second"))), timing),
            ],
        });
        monitor.Start();

        firstHealthy = false;
        clock.Advance(Second);
        secondHealthy = false;
        clock.Advance(Second);
        firstHealthy = true;
        clock.Advance(Second);
        Assert.False(rs.IsUp);
        secondHealthy = true;
        clock.Advance(Second);

        Assert.Equal([false, true], sink.Transitions.Select(change => change.IsUp));
        Assert.Equal(["first", "second"], sink.Transitions.Select(change => change.Reason));
    }

    [Fact]
    public async Task RemoveRealServer_StopsItsChecksAndUpdatesQuorum()
    {
        FakeTimeProvider clock = FakeClock.Create();
        var checker = new ScriptedChecker(clock, _ => CheckResult.Healthy("ok"));
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        MonitoredVirtualService service = monitor.AddVirtualService(new(Vip) { Quorum = 1 });
        MonitoredRealServer rs = monitor.AddRealServer(service, new(Rs(1)) { Checks = [new(checker, new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = Second })] });
        monitor.Start();

        monitor.RemoveRealServer(rs);
        await clock.AdvanceAsync(monitor, 10 * Second, Second);

        Assert.Single(checker.Runs);
        Assert.False(sink.QuorumChanges[^1].HasQuorum);
        Assert.Empty(service.RealServers);
    }

    [Fact]
    public async Task RemoveVirtualService_StopsItsServersChecksAndReportsNothingMore()
    {
        FakeTimeProvider clock = FakeClock.Create();
        var checker = new ScriptedChecker(clock, _ => CheckResult.Unhealthy("down"));
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        MonitoredVirtualService service = monitor.AddVirtualService(new(Vip) { Quorum = 1 });
        monitor.AddRealServer(service, new(Rs(1)) { Checks = [new(checker, new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = Second, Retry = 0 })] });
        monitor.Start();
        int reported = sink.ServerChanges.Count + sink.QuorumChanges.Count;

        monitor.RemoveVirtualService(service);
        await clock.AdvanceAsync(monitor, 10 * Second, Second);

        Assert.Empty(monitor.VirtualServices);
        Assert.Empty(service.RealServers);
        Assert.True(checker.Runs.Count <= 1);
        Assert.Equal(reported, sink.ServerChanges.Count + sink.QuorumChanges.Count);
    }

    [Fact]
    public async Task AddRealServerAfterStart_ReportsAndChecksIt()
    {
        FakeTimeProvider clock = FakeClock.Create();
        var checker = new ScriptedChecker(clock, _ => CheckResult.Healthy("ok"));
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        MonitoredVirtualService service = monitor.AddVirtualService(new(Vip) { Quorum = 1 });
        monitor.Start();
        Assert.False(service.HasQuorum);

        monitor.AddRealServer(service, new(Rs(1)) { Checks = [new(checker, new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = Second })] });
        await clock.AdvanceAsync(monitor, 2 * Second, Second);

        Assert.Equal(PoolAction.Add, Assert.Single(sink.ServerChanges).Action);
        Assert.True(service.HasQuorum);
        Assert.Equal(3, checker.Runs.Count);
    }

    [Fact]
    public async Task Dispose_StopsChecks()
    {
        FakeTimeProvider clock = FakeClock.Create();
        var checker = new ScriptedChecker(clock, _ => CheckResult.Healthy("ok"));
        var monitor = new HealthMonitor(new RecordingSink(), new HealthMonitorOptions { TimeProvider = clock });
        monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(Rs(1)) { Checks = [new(checker, new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = Second })] });
        monitor.Start();

        clock.Advance(Second);
        Assert.Equal(2, checker.Runs.Count);
        await monitor.DisposeAsync();
        for (int i = 0; i < 10; i++)
        {
            clock.Advance(Second);
        }

        Assert.Equal(2, checker.Runs.Count);
    }

    [Fact]
    public async Task SlowChecks_AreNotLimited_EveryDueCheckRunsAtOnce()
    {
        // keepalived has no global limit on checks in flight: 300 checks due together all run together (the old
        // shared limit of 256 held the rest back, and with them every healthy server behind them).
        var clock = FakeClock.Create();
        int inFlight = 0, maximum = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async ValueTask<CheckResult> Slow(CancellationToken ct)
        {
            int now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref maximum, now);
            await release.Task.WaitAsync(ct);
            Interlocked.Decrement(ref inFlight);
            return CheckResult.Healthy("ok");
        }

        await using var monitor = new HealthMonitor(new RecordingSink(), new HealthMonitorOptions { TimeProvider = clock });
        MonitoredVirtualService service = monitor.AddVirtualService(new(Vip));
        for (int i = 0; i < 300; i++)
        {
            monitor.AddRealServer(service, new(new InetEndpoint(InetAddress.FromIPv4(10, 0, (byte)(1 + (i / 250)), (byte)(1 + (i % 250))), 80)) { Checks = [new(new DelegateChecker(Slow), new CheckTiming { Warmup = TimeSpan.Zero })] });
        }

        monitor.Start();
        Assert.Equal(300, monitor.PendingChecks);
        Assert.Equal(300, Volatile.Read(ref inFlight));
        release.SetResult();
        await monitor.IdleAsync();

        Assert.Equal(300, maximum);
    }

    [Fact]
    public async Task MaxConcurrentMiscChecks_BoundsScriptsInFlight()
    {
        // Processes are the one resource limited: MISC_CHECK scripts wait for a slot.
        var clock = FakeClock.Create();
        string directory = Directory.CreateTempSubdirectory("misc-limit-").FullName;
        try
        {
            await using var monitor = new HealthMonitor(new RecordingSink(), new HealthMonitorOptions { TimeProvider = clock, MaxConcurrentMiscChecks = 3 });
            MonitoredVirtualService service = monitor.AddVirtualService(new(Vip));
            for (int i = 0; i < 10; i++)
            {
                var misc = new MiscChecker(new MiscCheckOptions { Path = $"touch {directory}/{i}; while [ ! -e {directory}/go ]; do sleep 0.02; done", Timeout = TimeSpan.FromSeconds(60) }, clock);
                monitor.AddRealServer(service, new(Rs(i + 1)) { Checks = [new(misc, new CheckTiming { Warmup = TimeSpan.Zero })] });
            }

            monitor.Start();
            await TcpCheckerTests.WaitForAsync(() => Directory.GetFiles(directory).Length >= 3);
            await Task.Delay(300, TestContext.Current.CancellationToken);
            Assert.Equal(3, Directory.GetFiles(directory).Length);
            Assert.Equal(10, monitor.PendingChecks);

            await File.WriteAllTextAsync(Path.Combine(directory, "go"), "", TestContext.Current.CancellationToken);
            await monitor.IdleAsync();

            Assert.Equal(11, Directory.GetFiles(directory).Length);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task ThrowingLogger_CheckLoopNeverDies_ErrorsAreCounted()
    {
        // A check loop can never die silently: an exception from the logger (here on every state change) is
        // caught, counted, and the checks go on.
        FakeTimeProvider clock = FakeClock.Create();
        var checker = new ScriptedChecker(clock, i => i % 2 == 0 ? CheckResult.Unhealthy("down") : CheckResult.Healthy("up"));
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock, Logger = new ThrowingLogger() });
        monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(Rs(1)) { Checks = [new(checker, new CheckTiming { DelayLoop = Second, Retry = 0, Warmup = TimeSpan.Zero })] });

        monitor.Start();
        await clock.AdvanceAsync(monitor, 9 * Second, Second);

        Assert.Equal(10, checker.Runs.Count);
        Assert.Equal(10, sink.Transitions.Count);
        Assert.True(monitor.UnexpectedErrors >= 10, $"{monitor.UnexpectedErrors} errors counted");
    }

    [Fact]
    public async Task CheckerThrows_IsCountedAsUnexpectedError()
    {
        FakeTimeProvider clock = FakeClock.Create();
        await using var monitor = new HealthMonitor(new RecordingSink(), new HealthMonitorOptions { TimeProvider = clock });
        monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(Rs(1)) { Checks = [new(new DelegateChecker(_ => throw new InvalidOperationException("bug")), new CheckTiming { DelayLoop = Second, Warmup = TimeSpan.Zero })] });

        monitor.Start();
        await clock.AdvanceAsync(monitor, 2 * Second, Second);

        Assert.Equal(3, monitor.UnexpectedErrors);
    }

    [Fact]
    public async Task MiscDynamic_ExitZero_RestoresTheConfiguredWeight()
    {
        // check_misc.c: exit 0 sets the weight back to the configured one (rs->iweight), while up and on recovery.
        FakeTimeProvider clock = FakeClock.Create();
        string file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "12", TestContext.Current.CancellationToken);
            var misc = new MiscChecker(new MiscCheckOptions { Path = $"exit $(cat {file})", Dynamic = true }, clock);
            var sink = new RecordingSink();
            await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
            MonitoredVirtualService service = monitor.AddVirtualService(new(Vip));
            MonitoredRealServer rs = monitor.AddRealServer(service, new(Rs(1)) { Weight = 4, Checks = [new(misc, new CheckTiming { DelayLoop = Second, Retry = 0, Warmup = TimeSpan.Zero })] });

            monitor.Start();
            await monitor.IdleAsync();
            Assert.Equal(10, rs.EffectiveWeight);

            await File.WriteAllTextAsync(file, "0", TestContext.Current.CancellationToken);
            await clock.AdvanceAsync(monitor, Second, Second);
            Assert.Equal(4, rs.EffectiveWeight);
            RealServerStateChange restored = sink.ServerChanges[^1];
            Assert.Equal((true, PoolAction.SetWeight, 4), (restored.IsUp, restored.Action, restored.Weight));

            await File.WriteAllTextAsync(file, "12", TestContext.Current.CancellationToken);
            await clock.AdvanceAsync(monitor, Second, Second);
            await File.WriteAllTextAsync(file, "1", TestContext.Current.CancellationToken);
            await clock.AdvanceAsync(monitor, Second, Second);
            Assert.False(rs.IsUp);
            await File.WriteAllTextAsync(file, "0", TestContext.Current.CancellationToken);
            await clock.AdvanceAsync(monitor, Second, Second);

            RealServerStateChange up = sink.Transitions[^1];
            Assert.Equal((true, PoolAction.Add, 4), (up.IsUp, up.Action, up.Weight));
            Assert.Equal(4, service.LiveWeight);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task LdirectordMapping_FailureCount3CheckInterval500ms_DetectsIn1500ms()
    {
        // docs/health-checks.md: checkinterval 0.5 -> DelayLoop and DelayBeforeRetry 0.5 s; failurecount 3 -> Retry 2.
        // ldirectord checks every checkinterval and removes the server at the third failure in a row: 1.5 s.
        FakeTimeProvider clock = FakeClock.Create();
        using var server = new TcpTestServer();
        var interval = TimeSpan.FromMilliseconds(500);
        var tcp = new TcpChecker(new CheckConnectionOptions(server.Endpoint) { ConnectTimeout = TimeSpan.FromSeconds(30) }, clock);
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink, new HealthMonitorOptions { TimeProvider = clock });
        monitor.AddRealServer(monitor.AddVirtualService(new(Vip)), new(server.Endpoint)
        {
            InhibitOnFailure = true,
            Checks = [new(tcp, new CheckTiming { DelayLoop = interval, DelayBeforeRetry = interval, Retry = 3 - 1, Warmup = TimeSpan.Zero })],
        });
        monitor.Start();
        await monitor.IdleAsync();

        server.Stop();
        await clock.AdvanceAsync(monitor, TimeSpan.FromMilliseconds(1000), interval);
        Assert.Empty(sink.Transitions);
        await clock.AdvanceAsync(monitor, interval, interval);

        RealServerStateChange down = Assert.Single(sink.Transitions);
        Assert.Equal(At(1.5), down.Time);
        // ldirectord's quiescent defaults to yes: the mapping sets InhibitOnFailure, so the server stays with weight 0.
        Assert.Equal((PoolAction.SetWeight, 0), (down.Action, down.Weight));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    private sealed class ThrowingSink : IRealServerHealthSink
    {
        public void OnRealServerStateChanged(RealServerStateChange change) => throw new InvalidOperationException("sink bug");

        public void OnQuorumStateChanged(QuorumStateChange change) => throw new InvalidOperationException("sink bug");
    }

    private sealed class ThrowingLogger : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            throw new InvalidOperationException("logger bug");
    }
}
