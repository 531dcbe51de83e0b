using Lvs.Core;
using Lvs.HealthChecks.Tests.Fixtures;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Lvs.HealthChecks.Tests;

public sealed class VirtualServiceHealthCheckTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    private static HealthCheckContext Context(IHealthCheck check) => new() { Registration = new HealthCheckRegistration("lvs", check, HealthStatus.Unhealthy, null) };

    [Fact]
    public async Task CheckHealth_FollowsServersAndQuorum()
    {
        var clock = FakeClock.Create();
        bool bHealthy = true, cHealthy = true;
        await using var monitor = new HealthMonitor(new RecordingSink(), new HealthMonitorOptions { TimeProvider = clock });
        MonitoredVirtualService service = monitor.AddVirtualService(new(VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.1:80"))) { Quorum = 2, SorryServer = InetEndpoint.Parse("10.9.9.9:80") });
        var timing = new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = Second, Retry = 0 };
        monitor.AddRealServer(service, new(InetEndpoint.Parse("10.0.1.1:80")));
        monitor.AddRealServer(service, new(InetEndpoint.Parse("10.0.1.2:80")) { Checks = [new(new DelegateChecker(_ => ValueTask.FromResult(new CheckResult(bHealthy, "b"))), timing)] });
        monitor.AddRealServer(service, new(InetEndpoint.Parse("10.0.1.3:80")) { Checks = [new(new DelegateChecker(_ => ValueTask.FromResult(new CheckResult(cHealthy, "c"))), timing)] });
        var check = new VirtualServiceHealthCheck(service);
        var whole = new HealthMonitorHealthCheck(monitor);
        monitor.Start();

        HealthCheckResult healthy = await check.CheckHealthAsync(Context(check), TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Equal(3, healthy.Data["realServersUp"]);

        bHealthy = false;
        clock.Advance(Second);
        Assert.Equal(HealthStatus.Degraded, (await check.CheckHealthAsync(Context(check), TestContext.Current.CancellationToken)).Status);
        Assert.Equal(HealthStatus.Degraded, (await whole.CheckHealthAsync(Context(whole), TestContext.Current.CancellationToken)).Status);

        cHealthy = false;
        clock.Advance(Second);
        HealthCheckResult lost = await check.CheckHealthAsync(Context(check), TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Unhealthy, lost.Status);
        Assert.Contains("quorum lost, sorry server in use", lost.Description, StringComparison.Ordinal);
        HealthCheckResult overall = await whole.CheckHealthAsync(Context(whole), TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Unhealthy, overall.Status);
        Assert.Equal("1 virtual services, 1 not healthy", overall.Description);
    }
}
