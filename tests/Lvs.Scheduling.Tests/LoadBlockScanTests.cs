using System.Runtime.Intrinsics.X86;
using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;
using Lvs.TestSupport;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public class LoadBlockScanTests
{
    /// <summary>Few distinct weights and loads, so that many servers tie.</summary>
    private static readonly Gen<ServerSpec> Ties =
        from weight in Gen.Choose(0, 2)
        from active in Gen.Choose(0, 3)
        from inactive in Gen.Choose(0, 2)
        from overloaded in Gen.Frequency((1, Gen.Constant(true)), (9, Gen.Constant(false)))
        from available in Gen.Frequency((1, Gen.Constant(false)), (9, Gen.Constant(true)))
        select new ServerSpec(weight, active, inactive, overloaded, available);

    /// <summary>
    /// One to 1100 servers (mostly not a multiple of the vector width): the general generator, one where loads tie
    /// often, or one with no idle server (so that nq scans to the end).
    /// </summary>
    private static readonly Arbitrary<ServerSpec[]> Lists =
        (from count in Gen.Choose(1, 1100)
         from kind in Gen.Choose(0, 2)
         from specs in Gen.ArrayOf(kind == 1 ? Ties : ServerSpec.Generator, count)
         select kind == 2 ? [.. specs.Select(s => s with { Active = s.Active + 1 })] : specs).ToArbitrary();

    private static RealServer? At(RealServerLoadBlock block, int index) => index < 0 ? null : block[index];

    private static bool AnyBelowHalfWeightReference(RealServer[] servers) =>
        servers.Any(s => (long)s.ActiveConnections * 2 < s.Weight);

    [FsCheck.Xunit.Property(MaxTest = 60)]
    public Property VectorAndScalarScans_MatchTheBruteForceReference() =>
        Prop.ForAll(Lists, specs =>
        {
            var servers = ServerSpec.Build(specs);
            var block = RealServerLoadBlock.Attach(servers);
            var slots = block.Slots;
            int count = block.Count;

            int lc = LoadBlockScan.LeastConnectionScalar(slots, count);
            int wlc = LoadBlockScan.WeightedScalar(slots, count, expectedDelay: false, idleWins: false);
            int sed = LoadBlockScan.WeightedScalar(slots, count, expectedDelay: true, idleWins: false);
            int nq = LoadBlockScan.WeightedScalar(slots, count, expectedDelay: true, idleWins: true);
            int ovf = LoadBlockScan.WeightedOverflowScalar(slots, count);
            bool below = LoadBlockScan.AnyBelowHalfWeightScalar(slots, count);
            bool scalarExact =
                At(block, lc) == LeastConnectionFamilyReference.LeastConnection(servers)
                && At(block, wlc) == LeastConnectionFamilyReference.WeightedLeastConnection(servers)
                && At(block, sed) == LeastConnectionFamilyReference.ShortestExpectedDelay(servers)
                && At(block, nq) == LeastConnectionFamilyReference.NeverQueue(servers)
                && At(block, ovf) == LeastConnectionFamilyReference.WeightedOverflow(servers)
                && below == AnyBelowHalfWeightReference(servers);

            // The generated counts are all in the vector scans' exact range, so they must agree, index for index.
            bool vectorExact = !Avx2.IsSupported || (
                LoadBlockScan.LeastConnectionVector(slots) == lc
                && LoadBlockScan.WeightedLeastConnectionVector(slots) == wlc
                && LoadBlockScan.ShortestExpectedDelayVector(slots) == sed
                && LoadBlockScan.NeverQueueVector(slots) == nq
                && LoadBlockScan.WeightedOverflowVector(slots) == ovf
                && LoadBlockScan.AnyBelowHalfWeightVector(slots) == below);
            return scalarExact.Label("scalar").And(vectorExact.Label("vector"));
        });

    [FsCheck.Xunit.Property(MaxTest = 40)]
    public Property Picks_AtUpTo1100Servers_MatchTheBruteForceReference() =>
        Prop.ForAll(Lists, specs =>
        {
            var servers = ServerSpec.Build(specs);
            var lc = new LeastConnectionScheduler();
            var wlc = new WeightedLeastConnectionScheduler();
            var sed = new ShortestExpectedDelayScheduler();
            var nq = new NeverQueueScheduler();
            var ovf = new WeightedOverflowScheduler();
            foreach (var scheduler in new IScheduler[] { lc, wlc, sed, nq, ovf })
            {
                scheduler.UpdateServers(servers);
            }

            return lc.Pick(default) == LeastConnectionFamilyReference.LeastConnection(servers)
                && wlc.Pick(default) == LeastConnectionFamilyReference.WeightedLeastConnection(servers)
                && sed.Pick(default) == LeastConnectionFamilyReference.ShortestExpectedDelay(servers)
                && nq.Pick(default) == LeastConnectionFamilyReference.NeverQueue(servers)
                && ovf.Pick(default) == LeastConnectionFamilyReference.WeightedOverflow(servers);
        });

    /// <summary>
    /// Servers whose load / weight ratios differ by less than single precision can tell apart (about 2^-14 relative):
    /// the vector scans' single-precision screen must not drop the exact winner.
    /// </summary>
    private static readonly Arbitrary<(int Weight, int Delta)[]> NearTies =
        (from count in Gen.Choose(1, 40)
         from servers in Gen.ArrayOf(
             from weight in Gen.Choose(2000, 4000)
             from delta in Gen.Choose(-3, 3)
             select (weight, delta),
             count)
         select servers).ToArbitrary();

    [FsCheck.Xunit.Property(MaxTest = 30)]
    public Property VectorScans_NearlyEqualRatios_MatchTheScalarScans() =>
        Prop.ForAll(NearTies, specs =>
        {
            // wlc: overhead = 3 x weight x 256 + delta; sed: active + 1 = 3 x weight + delta.
            var wlcServers = specs.Select((s, i) => Create(i, s.Weight).WithConnections(active: 3 * s.Weight, inactive: 3 + s.Delta)).ToArray();
            var sedServers = specs.Select((s, i) => Create(i, s.Weight).WithConnections(active: (3 * s.Weight) + s.Delta - 1, inactive: 0)).ToArray();
            var wlc = RealServerLoadBlock.Attach(wlcServers);
            var sed = RealServerLoadBlock.Attach(sedServers);
            int wlcScalar = LoadBlockScan.WeightedScalar(wlc.Slots, wlc.Count, expectedDelay: false, idleWins: false);
            int sedScalar = LoadBlockScan.WeightedScalar(sed.Slots, sed.Count, expectedDelay: true, idleWins: false);
            return (At(wlc, wlcScalar) == LeastConnectionFamilyReference.WeightedLeastConnection(wlcServers)
                && At(sed, sedScalar) == LeastConnectionFamilyReference.ShortestExpectedDelay(sedServers)
                && (!Avx2.IsSupported || (LoadBlockScan.WeightedLeastConnectionVector(wlc.Slots) == wlcScalar
                    && LoadBlockScan.ShortestExpectedDelayVector(sed.Slots) == sedScalar
                    && LoadBlockScan.NeverQueueVector(sed.Slots) == sedScalar))).ToProperty();
        });

    [Fact]
    public void Scans_TieAcrossLanes_FirstInListOrderWins()
    {
        // After the transpose, slot 2 sits in an earlier lane than slot 1: the tie must still go to slot 1.
        var servers = WithWeights(2, 1, 1, 1, 1, 1, 1, 1, 1);
        servers[0].WithConnections(active: 5, inactive: 0);
        foreach (var server in servers.Skip(1))
        {
            server.WithConnections(active: 1, inactive: 1);
        }

        var block = RealServerLoadBlock.Attach(servers);
        Assert.Equal(1, LoadBlockScan.LeastConnection(block));
        Assert.Equal(1, LoadBlockScan.WeightedLeastConnection(block));
        Assert.Equal(1, LoadBlockScan.ShortestExpectedDelay(block, idleWins: false));
        Assert.Equal(1, LoadBlockScan.ShortestExpectedDelay(block, idleWins: true));
        Assert.Equal(1, LoadBlockScan.WeightedOverflow(block)); // server 0 is over its weight
    }

    [Fact]
    public void Scans_IdleServerInALaterStep_NeverQueueTakesTheFirst()
    {
        var servers = Enumerable.Range(0, 21).Select(i => Create(i).WithConnections(active: i is 13 or 17 ? 0 : 3, inactive: 0)).ToArray();
        servers[13].Weight = 0;
        var block = RealServerLoadBlock.Attach(servers);
        Assert.Equal(17, LoadBlockScan.ShortestExpectedDelay(block, idleWins: true));
        if (Avx2.IsSupported)
        {
            Assert.Equal(17, LoadBlockScan.NeverQueueVector(block.Slots));
        }
    }

    [Fact]
    public void Scans_CountsOutsideTheVectorRange_FallBackToTheExactScan()
    {
        // 2^22 active connections: the lc overhead no longer fits 32 bits, the vector scans step aside.
        var servers = WithWeights(1, 1, 3);
        servers[0].WithConnections(active: (1 << 22) + 1, inactive: 0);
        servers[1].WithConnections(active: 1 << 22, inactive: 300);
        servers[2].WithConnections(active: 3 << 22, inactive: 0);
        var block = RealServerLoadBlock.Attach(servers);
        if (Avx2.IsSupported)
        {
            Assert.Equal(LoadBlockScan.OutOfRange, LoadBlockScan.LeastConnectionVector(block.Slots));
            Assert.Equal(LoadBlockScan.OutOfRange, LoadBlockScan.WeightedLeastConnectionVector(block.Slots));
        }

        Assert.Same(LeastConnectionFamilyReference.LeastConnection(servers), At(block, LoadBlockScan.LeastConnection(block)));
        Assert.Same(LeastConnectionFamilyReference.WeightedLeastConnection(servers), At(block, LoadBlockScan.WeightedLeastConnection(block)));
        Assert.Same(LeastConnectionFamilyReference.ShortestExpectedDelay(servers), At(block, LoadBlockScan.ShortestExpectedDelay(block, idleWins: false)));
    }

    [Fact]
    public void Scans_NegativeCount_SameAsTheObjectScan()
    {
        // A connection removed twice by a caller's bug leaves -1: not a load the vector arithmetic accepts, so the
        // scalar scan answers, as the object scan would.
        var servers = WithWeights(1, 1, 2);
        servers[1].RemoveConnection(active: true);
        servers[2].WithConnections(active: 1, inactive: 0);
        var block = RealServerLoadBlock.Attach(servers);
        if (Avx2.IsSupported)
        {
            Assert.Equal(LoadBlockScan.OutOfRange, LoadBlockScan.ShortestExpectedDelayVector(block.Slots));
        }

        Assert.Same(WeightedLeastLoad.Select<ExpectedDelayLoad>(servers), At(block, LoadBlockScan.ShortestExpectedDelay(block, idleWins: false)));
        Assert.Same(WeightedLeastLoad.Select<ConnectionOverheadLoad>(servers), At(block, LoadBlockScan.WeightedLeastConnection(block)));
    }


    /// <summary>
    /// Builds the servers with each one's connections spread over packet threads 0 to 3 (so over every counter plane
    /// there is, up to four), plus connections bound on one thread and unbound on another, which leave planes negative.
    /// </summary>
    private static RealServer[] BuildSpread(ServerSpec[] specs)
    {
        var servers = specs.Select((spec, i) => Create(i, spec.Weight)).ToArray();
        for (int thread = 0; thread < 4; thread++)
        {
            int t = thread;
            PacketThreadRunner.Run(t, () =>
            {
                for (int i = 0; i < servers.Length; i++)
                {
                    servers[i].WithConnections(Share(specs[i].Active, (t + i) & 3), Share(specs[i].Inactive, (t + (2 * i)) & 3));
                    int churn = i % 3;
                    if ((i & 3) == t)
                    {
                        servers[i].WithConnections(active: churn, inactive: churn);
                    }

                    if (((i + 1) & 3) == t)
                    {
                        for (int k = 0; k < churn; k++)
                        {
                            servers[i].RemoveConnection(active: true);
                            servers[i].RemoveConnection(active: false);
                        }
                    }
                }
            });
        }

        for (int i = 0; i < servers.Length; i++)
        {
            if (specs[i].Overloaded)
            {
                servers[i].Overloaded();
            }

            servers[i].IsAvailable = specs[i].Available;
        }

        return servers;

        static int Share(int count, int part) => (count / 4) + (part < count % 4 ? 1 : 0);
    }

    [FsCheck.Xunit.Property(MaxTest = 30)]
    public Property Scans_LoadSpreadOverPlanes_MatchTheBruteForceReference() =>
        Prop.ForAll(Lists, specs =>
        {
            var servers = BuildSpread(specs);
            var block = RealServerLoadBlock.Attach(servers);
            // (Overloaded gives a server with no connection one inactive connection.)
            bool countsExact = servers.Zip(specs).All(p =>
                p.First.ActiveConnections == p.Second.Active
                && p.First.InactiveConnections == p.Second.Inactive + (p.Second.Overloaded && p.Second.Active + p.Second.Inactive == 0 ? 1 : 0));
            bool scansExact =
                At(block, LoadBlockScan.LeastConnection(block)) == LeastConnectionFamilyReference.LeastConnection(servers)
                && At(block, LoadBlockScan.WeightedLeastConnection(block)) == LeastConnectionFamilyReference.WeightedLeastConnection(servers)
                && At(block, LoadBlockScan.ShortestExpectedDelay(block, idleWins: false)) == LeastConnectionFamilyReference.ShortestExpectedDelay(servers)
                && At(block, LoadBlockScan.ShortestExpectedDelay(block, idleWins: true)) == LeastConnectionFamilyReference.NeverQueue(servers)
                && At(block, LoadBlockScan.WeightedOverflow(block)) == LeastConnectionFamilyReference.WeightedOverflow(servers)
                && LoadBlockScan.AnyBelowHalfWeight(block) == AnyBelowHalfWeightReference(servers);
            return countsExact.Label("counts").And(scansExact.Label("scans"));
        });

    [Theory]
    [InlineData(2)]
    [InlineData(20)]
    [InlineData(100)]
    [InlineData(300)]
    public void Scans_LoadSpreadOverPlanes_PickByTheSums(int count)
    {
        // A (weight 4) has 5 active connections: 8 bound on packet thread 1, 3 unbound on packet thread 0, so its plane 0
        // reads -3. B (weight 2) has 1, on plane 0. The others are busy. Read from plane 0 alone A would look idle and
        // win every scan; summed, B wins: lc 256 < 1280, wlc 128 < 320, sed and nq 1 < 1.5, ovf (A is over its weight),
        // and no server is below half its weight.
        var servers = Enumerable.Range(0, count).Select(i => Create(i, weight: i switch { 0 => 4, 1 => 2, _ => 1 })).ToArray();
        PacketThreadRunner.Run(1, () => servers[0].WithConnections(active: 8, inactive: 0));
        PacketThreadRunner.Run(0, () =>
        {
            for (int i = 0; i < 3; i++)
            {
                servers[0].RemoveConnection(active: true);
            }

            servers[1].WithConnections(active: 1, inactive: 0);
            foreach (var server in servers.Skip(2))
            {
                server.WithConnections(active: 10, inactive: 0);
            }
        });

        var block = RealServerLoadBlock.Attach(servers);
        Assert.Equal(5, servers[0].ActiveConnections);
        Assert.Equal(RealServerLoadBlock.Planes == 1 ? 5 : -3, block.Slots[RealServerLoadBlock.ActiveOffset]);
        var sums = new int[block.SlotsLength];
        block.CopySummedSlots(sums);
        Assert.Equal([5, 0, 0, 4], sums[..RealServerLoadBlock.SlotLength]);

        for (int round = 0; round < 2; round++)
        {
            Assert.Equal(1, LoadBlockScan.LeastConnection(block));
            Assert.Equal(1, LoadBlockScan.WeightedLeastConnection(block));
            Assert.Equal(1, LoadBlockScan.ShortestExpectedDelay(block, idleWins: false));
            Assert.Equal(1, LoadBlockScan.ShortestExpectedDelay(block, idleWins: true));
            Assert.Equal(1, LoadBlockScan.WeightedOverflow(block));
            Assert.False(LoadBlockScan.AnyBelowHalfWeight(block));
        }

        foreach (var scheduler in new IScheduler[]
        {
            new LeastConnectionScheduler(), new WeightedLeastConnectionScheduler(), new ShortestExpectedDelayScheduler(),
            new NeverQueueScheduler(), new WeightedOverflowScheduler(),
        })
        {
            scheduler.UpdateServers(servers);
            Assert.Same(servers[1], scheduler.Pick(default));
        }

        // B's connection unbound on packet thread 1 leaves B idle (1 on plane 0, -1 on plane 1): nq takes it at once,
        // and it is below half its weight.
        PacketThreadRunner.Run(1, () => servers[1].RemoveConnection(active: true));
        Assert.Equal(0, servers[1].ActiveConnections);
        Assert.Equal(1, LoadBlockScan.ShortestExpectedDelay(block, idleWins: true));
        Assert.Equal(1, LoadBlockScan.LeastConnection(block));
        Assert.True(LoadBlockScan.AnyBelowHalfWeight(block));
    }

    [Fact]
    public void Scans_SummedIntoABuffer_AllocateNothingPerPick()
    {
        // 100 servers: above the stack buffer, so the thread's buffer is used (grown once, by the first scans).
        var servers = Enumerable.Range(0, 100).Select(i => Create(i, weight: 1 + (i % 5))).ToArray();
        PacketThreadRunner.Run(1, () =>
        {
            foreach (var server in servers)
            {
                server.WithConnections(active: server.Weight, inactive: 1);
            }
        });
        var block = RealServerLoadBlock.Attach(servers);
        var small = RealServerLoadBlock.Attach(servers[..10]);
        int expected = LoadBlockScan.WeightedLeastConnection(block) + LoadBlockScan.LeastConnection(small);
        long before = GC.GetAllocatedBytesForCurrentThread();
        int sum = 0;
        for (int i = 0; i < 100; i++)
        {
            sum += LoadBlockScan.WeightedLeastConnection(block) + LoadBlockScan.LeastConnection(small);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(100 * expected, sum);
    }

    [Fact]
    public void Pick_ServersMovedToAnotherBlock_ScansTheObjects()
    {
        var servers = WithWeights(1, 2, 3, 4);
        servers[3].WithConnections(active: 9, inactive: 0);
        var wlc = new WeightedLeastConnectionScheduler();
        wlc.UpdateServers(servers);

        // Another scheduler with another list takes servers 1 and 3 into its block: wlc's block is stale now.
        var other = new LeastConnectionScheduler();
        other.UpdateServers([servers[3], servers[1]]);
        servers[1].WithConnections(active: 0, inactive: 1);
        servers[2].WithConnections(active: 1, inactive: 0);

        Assert.Same(LeastConnectionFamilyReference.WeightedLeastConnection(servers), wlc.Pick(default));
        Assert.Same(servers[1], other.Pick(default));
        servers[1].Weight = 0;
        Assert.Same(LeastConnectionFamilyReference.WeightedLeastConnection(servers), wlc.Pick(default));
        Assert.Same(servers[3], other.Pick(default));
    }
}
