using Lvs.Core;
using Lvs.Scheduling;

namespace Lvs.Director.Tests;

/// <summary>The table's scheduler options reach every service's scheduler, which sees the servers in the kernel's list order.</summary>
public class ServiceTableSchedulerOptionsTests
{
    private static readonly VirtualServiceKey Key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("192.0.2.1:80"));

    [Fact]
    public void MaglevKernelCompatible_ReachesTheScheduler_WhichTakesTheServersInTheKernelsListOrder()
    {
        var options = new SchedulerOptions { MaglevKernelCompatible = true };
        var table = new ServiceTable(schedulerOptions: options);
        table.AddService(new VirtualServiceOptions(Key) { Scheduler = "mh" });
        string[] added = ["10.1.0.1:80", "10.1.0.2:80", "10.1.0.3:8080", "10.1.0.4:80"];
        foreach (var endpoint in added)
        {
            table.AddRealServer(Key, new RealServerOptions(InetEndpoint.Parse(endpoint)) { Method = ForwardingMethod.Nat });
        }

        var service = table.Snapshot.Find(Key)!;
        var mh = Assert.IsType<MaglevHashingScheduler>(service.Scheduler);
        Assert.Equal(4093, mh.TableSize);

        // ipvsadm adds each destination at the head of the list: the kernel builds its table from the last one added.
        var kernel = new MaglevHashingScheduler(options);
        var listOrder = added.Reverse().Select(e => service.RealServers.Single(s => s.Endpoint == InetEndpoint.Parse(e))).ToArray();
        kernel.UpdateServers(listOrder);
        var addOrder = new MaglevHashingScheduler(options);
        addOrder.UpdateServers([.. listOrder.Reverse()]);
        AssertPicksAs(kernel, mh, addOrder, 20000, "the list order");
    }

    /// <summary>
    /// RoundRobinRunsPerThread reaches an rr service's scheduler: with it, the first picks of packet threads 0 and 1 each
    /// start a run of their own (three servers: A from positions 0-31, C from 32-63); without it they share one sequence
    /// (A, B).
    /// </summary>
    [Theory]
    [InlineData(false, "AB")]
    [InlineData(true, "AC")]
    public void RoundRobinRunsPerThread_ReachesTheScheduler(bool runsPerThread, string expected) =>
        Assert.Equal(
            PacketThread.Planes == 1 ? "AB" : expected,
            FirstPicksOfThreads0And1(new SchedulerOptions { RoundRobinRunsPerThread = runsPerThread }, "rr", servers: 3));

    /// <summary>
    /// WeightedRoundRobinPositionPerThread reaches a wrr service's scheduler: with it, the first picks of two packet
    /// thread numbers both start wrr's sequence (equal weights: A, A); without it they share one (A, B).
    /// </summary>
    [Theory]
    [InlineData(false, "AB")]
    [InlineData(true, "AA")]
    public void WeightedRoundRobinPositionPerThread_ReachesTheScheduler(bool perThread, string expected) =>
        Assert.Equal(
            PacketThread.Planes == 1 ? "AB" : expected,
            FirstPicksOfThreads0And1(new SchedulerOptions { WeightedRoundRobinPositionPerThread = perThread }, "wrr", servers: 2));

    /// <summary>
    /// The first picks of packet threads 0 and 1 of a service of <paramref name="scheduler"/> over 10.1.0.1 to 10.1.0.n,
    /// added last first: a new server goes to the head of the list, so 10.1.0.1 is A, 10.1.0.2 B, 10.1.0.3 C.
    /// </summary>
    private static string FirstPicksOfThreads0And1(SchedulerOptions options, string scheduler, int servers)
    {
        var table = new ServiceTable(schedulerOptions: options);
        table.AddService(new VirtualServiceOptions(Key) { Scheduler = scheduler });
        for (int i = servers; i >= 1; i--)
        {
            table.AddRealServer(Key, new RealServerOptions(InetEndpoint.Parse($"10.1.0.{i}:80")) { Method = ForwardingMethod.Nat });
        }

        var picker = table.Snapshot.Find(Key)!.Scheduler;
        int saved = PacketThread.Current;
        try
        {
            string picks = string.Empty;
            foreach (int thread in new[] { 0, 1 })
            {
                PacketThread.Current = thread;
                picks += (char)('A' + picker.Pick(default)!.Endpoint.Address.ToIPAddress().GetAddressBytes()[3] - 1);
            }

            return picks;
        }
        finally
        {
            PacketThread.Current = saved;
        }
    }

    /// <summary>
    /// OtherThreadCountsRefreshPicks reaches the services whose scheduler scans the counts: another packet thread's
    /// connections on the server picked first reach the next pick at once without it, and only after the view's picks
    /// with it (on one counter plane every thread shares the plane, so at once either way).
    /// </summary>
    [Theory]
    [InlineData("wlc", 0)]
    [InlineData("wlc", 3)]
    [InlineData("lc", 3)]
    [InlineData("nq", 3)]
    public void OtherThreadCountsRefreshPicks_ReachesTheScheduler(string name, int refreshPicks)
    {
        var table = new ServiceTable(schedulerOptions: new SchedulerOptions { OtherThreadCountsRefreshPicks = refreshPicks });
        table.AddService(new VirtualServiceOptions(Key) { Scheduler = name });
        foreach (var endpoint in new[] { "10.1.0.2:80", "10.1.0.1:80" })
        {
            table.AddRealServer(Key, new RealServerOptions(InetEndpoint.Parse(endpoint)) { Method = ForwardingMethod.Nat });
        }

        var service = table.Snapshot.Find(Key)!;
        int saved = PacketThread.Current;
        try
        {
            PacketThread.Current = 1;
            var first = service.Scheduler.Pick(default)!;
            Assert.Equal(InetEndpoint.Parse("10.1.0.1:80"), first.Endpoint); // the head of the list: the last one added
            PacketThread.Current = 2;
            for (int i = 0; i < 1000; i++)
            {
                first.AddConnection(active: true);
            }

            PacketThread.Current = 1;
            string picks = string.Concat(Enumerable.Range(0, refreshPicks + 1).Select(_ => service.Scheduler.Pick(default) == first ? "A" : "B"));
            int stale = refreshPicks != 0 && PacketThread.Planes > 1 ? refreshPicks - 1 : 0;
            Assert.Equal(new string('A', stale) + new string('B', refreshPicks + 1 - stale), picks);
        }
        finally
        {
            PacketThread.Current = saved;
        }
    }

    /// <summary>An IPv4 service with IPv6 tunnel destinations: the kernel's mh folds their addresses as IPv4 (by the service's family).</summary>
    [Fact]
    public void MaglevKernelCompatible_TunnelDestinationsOfTheOtherFamily_FoldedByTheServicesFamily()
    {
        var options = new SchedulerOptions { MaglevKernelCompatible = true };
        var table = new ServiceTable(schedulerOptions: options);
        table.AddService(new VirtualServiceOptions(Key) { Scheduler = "mh" });
        foreach (var endpoint in (string[])["[2001:db8:1::1]:80", "[2001:db8:2::2]:80", "[2001:db8:3::3]:80"])
        {
            table.AddRealServer(Key, new RealServerOptions(InetEndpoint.Parse(endpoint)) { Method = ForwardingMethod.Tunnel });
        }

        var service = table.Snapshot.Find(Key)!;
        var asIPv4 = new MaglevHashingScheduler(new SchedulerOptions { MaglevKernelCompatible = true, ServiceAddressFamily = System.Net.Sockets.AddressFamily.InterNetwork });
        asIPv4.UpdateServers(service.RealServers);
        var byOwnFamily = new MaglevHashingScheduler(options);
        byOwnFamily.UpdateServers(service.RealServers);
        AssertPicksAs(asIPv4, service.Scheduler, byOwnFamily, 2000, "the fold");
    }

    [Fact]
    public void SortServersByEndpoint_ReachesTheScheduler()
    {
        var table = new ServiceTable(schedulerOptions: new SchedulerOptions { SortServersByEndpoint = true });
        table.AddService(new VirtualServiceOptions(Key) { Scheduler = "sh" });
        string[] added = ["10.1.0.3:80", "10.1.0.1:80", "10.1.0.4:80", "10.1.0.2:80"];
        foreach (var endpoint in added)
        {
            table.AddRealServer(Key, new RealServerOptions(InetEndpoint.Parse(endpoint)) { Method = ForwardingMethod.Nat });
        }

        var service = table.Snapshot.Find(Key)!;
        var sorted = new SourceHashingScheduler(new SchedulerOptions { SortServersByEndpoint = true });
        sorted.UpdateServers([.. service.RealServers.Reverse()]);
        var listOrder = new SourceHashingScheduler();
        listOrder.UpdateServers(service.RealServers);
        AssertPicksAs(sorted, service.Scheduler, listOrder, 20000, "the order");
    }

    /// <summary>
    /// <paramref name="actual"/> picks what <paramref name="expected"/> picks for every one of <paramref name="clients"/>
    /// clients, and <paramref name="alternative"/> (without the setting under test) differs for some, so that the check
    /// means something.
    /// </summary>
    private static void AssertPicksAs(IScheduler expected, IScheduler actual, IScheduler alternative, uint clients, string what)
    {
        int differs = 0;
        for (uint client = 0; client < clients; client++)
        {
            var flow = new FlowKey(L4Protocol.Tcp, InetAddress.FromIPv4(0x0A00_0000u + (client * 7919)), 40000, InetAddress.FromIPv4(192, 0, 2, 1), 80);
            Assert.Same(expected.Pick(flow), actual.Pick(flow));
            differs += expected.Pick(flow) == alternative.Pick(flow) ? 0 : 1;
        }

        Assert.True(differs > 0, $"{what} must matter for this check to mean anything");
    }
}
