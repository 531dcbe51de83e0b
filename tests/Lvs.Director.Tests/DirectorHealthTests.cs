using Lvs.Core;
using Lvs.HealthChecks;

namespace Lvs.Director.Tests;

/// <summary>Health events change the service table as keepalived changes the kernel's, with the table's configured weight.</summary>
public class DirectorHealthTests
{
    private static readonly CheckTiming Fast = new() { DelayLoop = TimeSpan.FromMilliseconds(100), Retry = 0, DelayBeforeRetry = TimeSpan.FromMilliseconds(100), Rise = 1 };

    private static async Task WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the health event");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FailedServer_TakenOutAndPutBackWithItsConfiguredWeight(bool inhibitOnFailure)
    {
        var table = new ServiceTable();
        var key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.100:80"));
        table.AddService(new VirtualServiceOptions(key) { Scheduler = "wrr" });
        var a = InetEndpoint.Parse("10.1.0.11:80");
        var b = InetEndpoint.Parse("10.1.0.12:80");
        table.AddRealServer(key, new RealServerOptions(a) { Weight = 7 });
        table.AddRealServer(key, new RealServerOptions(b) { Weight = 3 });
        bool healthy = true;
        await using var health = new DirectorHealth(table);
        var service = health.WatchService(key);
        health.WatchRealServer(service, a, [new RealServerCheck(new DelegateChecker(_ => ValueTask.FromResult(healthy ? CheckResult.Healthy("ok") : CheckResult.Unhealthy("down"))), Fast)], inhibitOnFailure);
        health.Start();

        RealServer LiveA() => table.Snapshot.Find(key)!.FindRealServer(a)!.Server;
        healthy = false;
        if (inhibitOnFailure)
        {
            await WaitFor(() => LiveA().Weight == 0);
            Assert.Contains(LiveA(), table.Snapshot.Find(key)!.RealServers);
        }
        else
        {
            await WaitFor(() => !table.Snapshot.Find(key)!.RealServers.Contains(LiveA()));
            Assert.False(LiveA().IsAvailable);
            Assert.False(table.Snapshot.Find(key)!.FindRealServer(a)!.InPool);
        }

        healthy = true;
        await WaitFor(() => LiveA().Weight == 7 && table.Snapshot.Find(key)!.RealServers.Contains(LiveA()));

        // Removed and added back: at the head of the list, as the kernel adds a destination. Inhibited: an edit, in place.
        var list = table.Snapshot.Find(key)!.RealServers;
        Assert.Same(LiveA(), inhibitOnFailure ? list[1] : list[0]);
        Assert.Equal(7, table.Snapshot.Find(key)!.FindRealServer(a)!.Options.Weight);
    }

    [Fact]
    public async Task QuorumLost_SorryServerAddedAndRemovedWhenRegained()
    {
        var table = new ServiceTable();
        var key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.100:80"));
        table.AddService(new VirtualServiceOptions(key) { Scheduler = "rr" });
        var a = InetEndpoint.Parse("10.1.0.11:80");
        table.AddRealServer(key, new RealServerOptions(a) { Weight = 2 });
        var sorry = InetEndpoint.Parse("10.1.0.99:80");
        bool healthy = true;
        await using var health = new DirectorHealth(table);
        var service = health.WatchService(key, new VirtualServiceHealthOptions(key) { Quorum = 1, SorryServer = sorry });
        health.WatchRealServer(service, a, [new RealServerCheck(new DelegateChecker(_ => ValueTask.FromResult(healthy ? CheckResult.Healthy("ok") : CheckResult.Unhealthy("down"))), Fast)]);
        health.Start();

        healthy = false;
        await WaitFor(() => table.Snapshot.Find(key)!.RealServers.Any(s => s.Endpoint == sorry));
        healthy = true;
        await WaitFor(() => table.Snapshot.Find(key)!.RealServers.All(s => s.Endpoint != sorry) && table.Snapshot.Find(key)!.RealServers.Count == 1);
    }

    [Fact]
    public void WatchRealServer_NotInTheTable_Refused()
    {
        var table = new ServiceTable();
        var key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.100:80"));
        table.AddService(new VirtualServiceOptions(key));
        var health = new DirectorHealth(table);
        var service = health.WatchService(key);
        Assert.Throws<InvalidOperationException>(() => health.WatchRealServer(service, InetEndpoint.Parse("10.9.9.9:80"), []));
        Assert.Throws<InvalidOperationException>(() => health.WatchService(VirtualServiceKey.ForAddress(L4Protocol.Udp, InetEndpoint.Parse("10.0.0.100:53"))));
    }
    [Fact]
    public async Task Start_AlphaServer_HeldOutOfThePoolUntilItsCheckPasses()
    {
        // keepalived's ipwrapper.c init_service_rs adds a server at start only if it is alive; with alpha it starts down.
        var table = new ServiceTable();
        var key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.100:80"));
        table.AddService(new VirtualServiceOptions(key) { Scheduler = "rr" });
        var a = InetEndpoint.Parse("10.1.0.11:80");
        table.AddRealServer(key, new RealServerOptions(a) { Weight = 2 });
        var healthy = new TaskCompletionSource();
        await using var health = new DirectorHealth(table);
        var service = health.WatchService(key);
        var timing = Fast with { Alpha = true, Warmup = TimeSpan.Zero };
        health.WatchRealServer(service, a, [new RealServerCheck(new DelegateChecker(async _ => { await healthy.Task; return CheckResult.Healthy("ok"); }), timing)]);
        health.Start();

        Assert.Empty(table.Snapshot.Find(key)!.RealServers);
        Assert.False(table.Snapshot.Find(key)!.FindRealServer(a)!.InPool);

        healthy.SetResult();
        await WaitFor(() => table.Snapshot.Find(key)!.RealServers.Count == 1);
        Assert.Equal(2, table.Snapshot.Find(key)!.RealServers[0].Weight);
    }
    [Fact]
    public async Task SorryServerInhibit_StaysInThePoolWithWeightZeroAndGetsWeightOneWhenTheQuorumIsLost()
    {
        var table = new ServiceTable();
        var key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.100:80"));
        table.AddService(new VirtualServiceOptions(key) { Scheduler = "rr" });
        var a = InetEndpoint.Parse("10.1.0.11:80");
        table.AddRealServer(key, new RealServerOptions(a) { Weight = 2 });
        var sorry = InetEndpoint.Parse("10.1.0.99:80");
        bool healthy = true;
        await using var health = new DirectorHealth(table);
        var service = health.WatchService(key, new VirtualServiceHealthOptions(key) { SorryServer = sorry }, sorryServerInhibit: true);
        health.WatchRealServer(service, a, [new RealServerCheck(new DelegateChecker(_ => ValueTask.FromResult(healthy ? CheckResult.Healthy("ok") : CheckResult.Unhealthy("down"))), Fast)]);
        health.Start();

        RealServer? Sorry() => table.Snapshot.Find(key)!.RealServers.FirstOrDefault(s => s.Endpoint == sorry);
        Assert.Equal(0, Sorry()!.Weight);
        healthy = false;
        await WaitFor(() => Sorry()?.Weight == 1);
        healthy = true;
        await WaitFor(() => Sorry()?.Weight == 0 && table.Snapshot.Find(key)!.RealServers.Count == 2);
    }
}
