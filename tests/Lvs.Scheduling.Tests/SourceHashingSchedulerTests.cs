using FsCheck;
using FsCheck.Fluent;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public class SourceHashingSchedulerTests
{
    private static SourceHashingScheduler Create(SchedulerFlags flags = SchedulerFlags.None, int bits = 8, bool sorted = false) =>
        new(new SchedulerOptions { Flags = flags, HashTableBits = bits, SortServersByEndpoint = sorted });

    [Fact]
    public void Pick_ByDefault_FillsTheTableInTheGivenListOrderAsTheKernel()
    {
        // ip_vs_sh_reassign walks svc->destinations, where every added server went to the head: added A, B, C the
        // kernel's list is C, B, A, and bucket 39 (client 10.0.0.1, see above; 39 mod 3 = 0) holds C, bucket 235 (10.0.0.3)
        // holds B. The old code sorted by address and answered A and B (issue 16).
        var servers = WithWeights(1, 1, 1);
        var kernelOrder = ServerList.InKernelOrder(servers);
        Assert.Equal([servers[2], servers[1], servers[0]], kernelOrder);
        var sh = Create();
        sh.UpdateServers(kernelOrder);
        Assert.Same(servers[2], sh.Pick(Flow(0x0A000001)));
        Assert.Same(servers[1], sh.Pick(Flow(0x0A000003)));

        // Sorted on request: the order given no longer matters.
        var sorted = Create(sorted: true);
        sorted.UpdateServers(kernelOrder);
        Assert.Same(servers[0], sorted.Pick(Flow(0x0A000001)));
    }

    [Fact]
    public void Pick_NewObjectsWithTheSameEndpointsInTheSameOrder_MapEveryClientAlike()
    {
        var servers = WithWeights(2, 1, 3);
        var sh = Create();
        sh.UpdateServers(servers);
        var before = Enumerable.Range(0, 256).Select(c => sh.Pick(Flow((uint)c))!.Endpoint).ToArray();
        sh.UpdateServers(WithWeights(2, 1, 3));
        Assert.Equal(before, Enumerable.Range(0, 256).Select(c => sh.Pick(Flow((uint)c))!.Endpoint));
    }

    [Fact]
    public void Pick_KernelBucket_ForAKnownClient()
    {
        // hash_32(0x0A000001, 8) = (0x0A000001 * 0x61C88647 mod 2^32) >> 24 = 0x27C88647 >> 24 = 39. Weights 1 and 2
        // fill the 256 buckets as A B B A B B ..., so bucket 39 (39 mod 3 = 0) is A; client 10.0.0.3 gives
        // 0xEB5992D5 >> 24 = 235, and 235 mod 3 = 1 is B.
        var servers = WithWeights(1, 2);
        var sh = Create();
        sh.UpdateServers(servers);
        Assert.Equal(39u, KernelBucketHash.Hash32(0x0A000001, 8));
        Assert.Same(servers[0], sh.Pick(Flow(0x0A000001)));
        Assert.Same(servers[1], sh.Pick(Flow(0x0A000003)));
    }

    [Fact]
    public void Pick_BucketsFollowTheWeights()
    {
        var servers = WithWeights(1, 3, 0);
        var sh = Create();
        sh.UpdateServers(servers);
        var counts = new int[3];
        for (uint client = 0; client < 256; client++)
        {
            // Consecutive clients times the golden ratio visit every bucket once.
            var pick = sh.Pick(Flow(client));
            if (pick is not null)
            {
                counts[Array.IndexOf(servers, pick)]++;
            }
        }

        // 256 buckets in rounds of 1 + 3 + 1 (weight 0 still takes one bucket, never picked): 51 rounds and one A.
        Assert.Equal([52, 153, 0], counts);
    }

    [Fact]
    public void Pick_Unschedulable_NullWithoutFallback_AnotherServerWithIt()
    {
        var servers = WithWeights(1, 1, 1);
        var plain = Create();
        var fallback = Create(SchedulerFlags.Fallback);
        plain.UpdateServers(servers);
        fallback.UpdateServers(servers);
        var flow = Flow(0x0A000001);
        var home = plain.Pick(flow)!;
        home.Weight = 0;
        Assert.Null(plain.Pick(flow));
        var moved = fallback.Pick(flow);
        Assert.NotNull(moved);
        Assert.NotSame(home, moved);
        Assert.Same(moved, fallback.Pick(flow));
    }

    [Fact]
    public void Pick_PortFlag_SpreadsOneClientsPorts()
    {
        var servers = WithWeights(1, 1, 1, 1);
        var plain = Create();
        var port = Create(SchedulerFlags.Port);
        plain.UpdateServers(servers);
        port.UpdateServers(servers);
        var byAddress = Enumerable.Range(0, 64).Select(p => plain.Pick(Flow(0x0A000001, (ushort)(1024 + p)))).Distinct();
        var byPort = Enumerable.Range(0, 64).Select(p => port.Pick(Flow(0x0A000001, (ushort)(1024 + p)))).Distinct();
        Assert.Single(byAddress);
        Assert.Equal(4, byPort.Count());
    }

    [Fact]
    public void Pick_Ipv6Client_FoldsTheAddress()
    {
        var servers = WithWeights(1, 1, 1);
        var sh = Create();
        sh.UpdateServers(servers);
        var client = Lvs.Core.InetAddress.Parse("2001:db8::1");
        var flow = new Lvs.Core.FlowKey(Lvs.Core.L4Protocol.Tcp, client, 1000, Lvs.Core.InetAddress.Parse("2001:db8::80"), 80);
        uint folded = 0x20010db8u ^ 0u ^ 0u ^ 1u;
        Assert.Same(servers[KernelBucketHash.Hash32(folded, 8) % 3], sh.Pick(flow));
    }

    [Fact]
    public void Constructor_BitsOutOfRange_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Create(bits: 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Create(bits: 21));
    }

    [FsCheck.Xunit.Property]
    public Property Pick_SortServersByEndpoint_IsAPureFunctionOfClientAndServerSet()
    {
        var gen = Gen.ArrayOf(Gen.Choose(1, 5)).Where(w => w.Length is > 0 and < 40)
            .SelectMany(w => Gen.Shuffle(Enumerable.Range(0, w.Length)).Select(order => (w, order)));
        return Prop.ForAll(gen.ToArbitrary(), Gen.Choose(0, int.MaxValue).ToArbitrary(), (input, client) =>
        {
            var (weights, order) = input;
            var servers = WithWeights(weights);
            var a = Create(SchedulerFlags.Port, sorted: true);
            var b = Create(SchedulerFlags.Port, sorted: true);
            a.UpdateServers(servers);
            b.UpdateServers([.. order.Select(i => servers[i])]);
            var flow = Flow((uint)client, (ushort)client);
            return a.Pick(flow) == b.Pick(flow) && a.Pick(flow) == a.Pick(flow);
        });
    }
}
