using FsCheck;
using FsCheck.Fluent;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public class DestinationHashingSchedulerTests
{
    [Fact]
    public void Pick_HashesTheDestination_NotTheClient()
    {
        var servers = WithWeights(1, 1, 1);
        var dh = new DestinationHashingScheduler();
        dh.UpdateServers(servers);

        // Destination 10.0.0.1 hashes to bucket 39 (see the sh test); buckets cycle A B C, so 39 mod 3 = 0 is A, and
        // 10.0.0.3 (bucket 235, 235 mod 3 = 1) is B, for every client.
        var picks = Enumerable.Range(0, 50).Select(c => dh.Pick(Flow((uint)c, 1000, destination: 0x0A000001))).Distinct();
        Assert.Equal([servers[0]], picks);
        Assert.Same(servers[1], dh.Pick(Flow(9, 1000, destination: 0x0A000003)));
    }

    [Fact]
    public void Pick_ByDefault_FillsTheTableInTheGivenListOrderAsTheKernel()
    {
        // ip_vs_dh_reassign walks svc->destinations in the kernel's list order (the last added first): with the list
        // C, B, A destination 10.0.0.1 (bucket 39, 39 mod 3 = 0) goes to C and 10.0.0.3 (bucket 235) to B. The old
        // code sorted by address and answered A and B (issue 16).
        var servers = WithWeights(1, 1, 1);
        var list = new ServerList();
        foreach (var server in servers)
        {
            list.Add(server);
        }

        var dh = new DestinationHashingScheduler();
        dh.UpdateServers(list);
        Assert.Same(servers[2], dh.Pick(Flow(9, 1000, destination: 0x0A000001)));
        Assert.Same(servers[1], dh.Pick(Flow(9, 1000, destination: 0x0A000003)));

        var sorted = new DestinationHashingScheduler(new SchedulerOptions { SortServersByEndpoint = true });
        sorted.UpdateServers(list);
        Assert.Same(servers[0], sorted.Pick(Flow(9, 1000, destination: 0x0A000001)));
    }

    [Fact]
    public void Pick_IgnoresWeightsInTheTable_ButRefusesQuiesced()
    {
        var servers = WithWeights(1, 9);
        var dh = new DestinationHashingScheduler();
        dh.UpdateServers(servers);
        var counts = new int[2];
        for (uint d = 0; d < 256; d++)
        {
            counts[Array.IndexOf(servers, dh.Pick(Flow(1, 1000, destination: d)))]++;
        }

        Assert.Equal([128, 128], counts);
        servers[0].Weight = 0;
        Assert.Null(dh.Pick(Flow(1, 1000, destination: 0)));
    }

    [FsCheck.Xunit.Property]
    public Property Pick_SortServersByEndpoint_IsAPureFunctionOfDestinationAndServerSet()
    {
        var gen = Gen.Choose(1, 40).SelectMany(n => Gen.Shuffle(Enumerable.Range(0, n)));
        return Prop.ForAll(gen.ToArbitrary(), Gen.Choose(0, int.MaxValue).ToArbitrary(), (order, destination) =>
        {
            var servers = WithWeights([.. order.Select(_ => 1)]);
            var options = new SchedulerOptions { SortServersByEndpoint = true };
            var a = new DestinationHashingScheduler(options);
            var b = new DestinationHashingScheduler(options);
            a.UpdateServers(servers);
            b.UpdateServers([.. order.Select(i => servers[i])]);
            var flow = Flow(7, 1000, (uint)destination);
            return a.Pick(flow) == b.Pick(flow) && a.Pick(flow) == a.Pick(Flow(8, 2000, (uint)destination));
        });
    }
}
