using Lvs.Core;
using Lvs.HealthChecks.Tests.Fixtures;

namespace Lvs.HealthChecks.Tests;

/// <summary>The monitor's schedule on the real clock against real sockets.</summary>
public sealed class HealthMonitorSchedulingTests
{
    private static readonly VirtualServiceKey Vip = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.1:80"));

    [Fact]
    public async Task ThreeHundredBlackholedServers_DoNotDelayTheHealthyServersChecks()
    {
        // keepalived has no global limit on checks in flight: a server's schedule never waits for other servers'
        // slow checks. 300 servers whose connects hang for connect_timeout 3 s and one healthy server, all at
        // delay_loop 1 s: the healthy one is still checked every second.
        using var blackhole = new BlackholeTcpServer();
        using var healthy = new TcpTestServer();
        var second = TimeSpan.FromSeconds(1);
        var timing = new CheckTiming { DelayLoop = second, DelayBeforeRetry = second, Warmup = TimeSpan.Zero };
        var sink = new RecordingSink();
        await using var monitor = new HealthMonitor(sink);
        MonitoredVirtualService service = monitor.AddVirtualService(new(Vip));
        for (int i = 0; i < 300; i++)
        {
            // From 127.0.0.2: the hundreds of ephemeral ports these connects hold are not taken on 127.0.0.1, where
            // other tests stop and restart their servers on fixed ports.
            var connection = new CheckConnectionOptions(blackhole.Endpoint) { ConnectTimeout = TimeSpan.FromSeconds(3), BindTo = InetAddress.FromIPv4(127, 0, 0, 2) };
            monitor.AddRealServer(service, new(new InetEndpoint(InetAddress.FromIPv4(10, 0, (byte)(i / 250), (byte)(1 + (i % 250))), 80)) { Checks = [new(new TcpChecker(connection), timing)] });
        }

        var watched = new ScriptedChecker(TimeProvider.System, inner: new TcpChecker(new CheckConnectionOptions(healthy.Endpoint) { ConnectTimeout = TimeSpan.FromSeconds(3) }));
        MonitoredRealServer rs = monitor.AddRealServer(service, new(healthy.Endpoint) { Checks = [new(watched, timing)] });

        monitor.Start();
        await Task.Delay(TimeSpan.FromSeconds(5.5), TestContext.Current.CancellationToken);

        var runs = watched.Runs;
        Assert.True(runs.Count >= 5, $"the healthy server was checked {runs.Count} times in 5.5 s");
        TimeSpan widest = runs.Zip(runs.Skip(1), (a, b) => b.Time - a.Time).Max();
        Assert.True(widest < TimeSpan.FromSeconds(1.75), $"a gap of {widest.TotalSeconds:0.00} s between two checks of the healthy server");
        Assert.All(runs, run => Assert.True(run.Result.IsHealthy, run.Result.Reason));
        Assert.True(rs.IsUp);
    }
}
