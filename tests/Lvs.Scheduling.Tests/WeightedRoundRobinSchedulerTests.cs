using Lvs.Core;
using FsCheck;
using FsCheck.Fluent;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public class WeightedRoundRobinSchedulerTests
{
    private static WeightedRoundRobinScheduler Create(bool stepping = false, bool perThread = false) =>
        new(new SchedulerOptions { MaxWeightedRoundRobinPeriod = stepping ? 0 : 1 << 20, WeightedRoundRobinPositionPerThread = perThread });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pick_Weights432_GivesTheKernelSequence(bool stepping)
    {
        var servers = WithWeights(4, 3, 2);
        var wrr = Create(stepping);
        wrr.UpdateServers(servers);
        Assert.Equal(!stepping, wrr.UsesPeriodTable);
        Assert.Equal("AABABCABC" + "AABABCABC" + "AAB", Letters(servers, wrr.PickMany(21)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pick_GcdAboveOne_StepsByTheGcd(bool stepping)
    {
        // 8, 6, 4 step by 2 from 7 (the kernel's mw - (di - 1)) and give the same sequence as 4, 3, 2.
        var servers = WithWeights(8, 6, 4);
        var wrr = Create(stepping);
        wrr.UpdateServers(servers);
        Assert.Equal("AABABCABCAABABCABC", Letters(servers, wrr.PickMany(18)));
    }

    [Theory]
    [InlineData(false, new[] { 3, 2, 1 }, 3, 6, "AAB-AABABC")]
    [InlineData(true, new[] { 3, 2, 1 }, 3, 6, "AAB-AABABC")]
    [InlineData(false, new[] { 3, 2, 1 }, 0, 6, "-AABABC")]
    [InlineData(true, new[] { 3, 2, 1 }, 0, 6, "-AABABC")]
    [InlineData(false, new[] { 4, 3, 2 }, 4, 9, "AABA-AABABCABC")]
    [InlineData(true, new[] { 4, 3, 2 }, 4, 9, "AABA-AABABCABC")]
    [InlineData(false, new[] { 2, 1 }, 2, 4, "AA-BAAB")]
    [InlineData(true, new[] { 2, 1 }, 2, 4, "AA-BAAB")]
    [InlineData(false, new[] { 1, 1, 1 }, 2, 4, "AB-CABC")]
    [InlineData(true, new[] { 1, 1, 1 }, 2, 4, "AB-CABC")]
    public void Pick_AfterAPickThatFoundNoServer_ContinuesFromWhereTheKernelsScanStopped(
        bool stepping, int[] weights, int before, int after, string expected)
    {
        // ip_vs_wrr_schedule moves its mark even when it fails: a scan that starts above the last pass (or at the list
        // head) runs down to it, wraps to the maximum weight and stops at the head; a scan that starts in the last
        // pass after a server stops back at that server. Issue 16's vector: weights 3, 2, 1, three picks, all
        // overloaded, one pick, cleared, six picks: A A B - A A B A B C (the old code resumed at C: AAB-CAABAB).
        var servers = WithWeights(weights);
        var wrr = Create(stepping);
        wrr.UpdateServers(servers);
        var picks = new List<RealServer?>(wrr.PickMany(before));
        foreach (var server in servers)
        {
            server.Overloaded();
        }

        picks.Add(wrr.Pick(default));
        foreach (var server in servers)
        {
            server.UpperThreshold = 0;
        }

        picks.AddRange(wrr.PickMany(after));
        Assert.Equal(expected, Letters(servers, picks));
    }

    [Fact]
    public void Pick_Weights21_GivesAAB()
    {
        var servers = WithWeights(2, 1);
        var wrr = Create();
        wrr.UpdateServers(servers);
        Assert.Equal("AABAAB", Letters(servers, wrr.PickMany(6)));
    }

    [Fact]
    public void Pick_SingleServer_AlwaysIt()
    {
        var servers = WithWeights(7);
        var wrr = Create();
        wrr.UpdateServers(servers);
        Assert.Equal("AAAAA", Letters(servers, wrr.PickMany(5)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pick_AllWeightsZero_ReturnsNull(bool stepping)
    {
        var wrr = Create(stepping);
        wrr.UpdateServers(WithWeights(0, 0));
        Assert.Null(wrr.Pick(default));
        Assert.Null(Create(stepping).Pick(default));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UpdateServers_ServerRemovedMidCycle_RestartsAtHeadInTheCurrentPass(bool stepping)
    {
        var servers = WithWeights(4, 3, 2);
        var wrr = Create(stepping);
        wrr.UpdateServers(servers);
        Assert.Equal("AABA", Letters(servers, wrr.PickMany(4)));

        // The last pick was in the pass at weight 2; without C the list restarts there: A B, then A B at 1, then 4, 3, 2...
        wrr.UpdateServers(servers[..2]);
        Assert.Equal("ABAB" + "AABABAB" + "AAB", Letters(servers, wrr.PickMany(14)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UpdateServers_ServerAddedMidCycle_JoinsAtTheCurrentPass(bool stepping)
    {
        var servers = WithWeights(4, 3, 2);
        var wrr = Create(stepping);
        wrr.UpdateServers(servers[..2]);
        Assert.Equal("AAB", Letters(servers, wrr.PickMany(3)));

        // Pass at weight 3 restarts from the head (A B; C is below 3), then 2 and 1 include C.
        wrr.UpdateServers(servers);
        Assert.Equal("AB" + "ABC" + "ABC" + "AABABCABC", Letters(servers, wrr.PickMany(17)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UpdateServers_NewObjectsWithTheSameEndpointsAndWeights_KeepThePosition(bool stepping)
    {
        // Nothing changed for the kernel (no add_dest, del_dest or upd_dest would run), so the mark stays: the period
        // A A B A B C A B C goes on after its fourth pick instead of restarting at the head (issue 16).
        var servers = WithWeights(4, 3, 2);
        var wrr = Create(stepping);
        wrr.UpdateServers(servers);
        Assert.Equal("AABA", Letters(servers, wrr.PickMany(4)));
        var renewed = WithWeights(4, 3, 2);
        wrr.UpdateServers(renewed);
        Assert.Equal("BCABC" + "AABABCABC", Letters(renewed, wrr.PickMany(14)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ServerEdited_NothingChanged_RestartsAtTheListHeadKeepingTheCurrentWeight(bool stepping)
    {
        // ipvsadm -e with the same weight still runs upd_dest: ip_vs_wrr_dest_changed puts the mark at the list head
        // with cw kept (2 after A | A B | A), so the pass at 2 is scanned again from A: A B C, then A B C, then the period.
        var servers = WithWeights(4, 3, 2);
        var wrr = Create(stepping);
        wrr.UpdateServers(servers);
        Assert.Equal("AABA", Letters(servers, wrr.PickMany(4)));
        wrr.ServerEdited(servers[1]);
        Assert.Equal("ABCABC" + "AABABCABC", Letters(servers, wrr.PickMany(15)));

        // A server that is not in the list is not the scheduler's: nothing moves.
        Assert.Equal("A", Letters(servers, wrr.PickMany(1)));
        wrr.ServerEdited(TestServers.Create(99, 4));
        Assert.Equal("ABABCABC", Letters(servers, wrr.PickMany(8)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ServerEdited_RightAfterTheWeightChangeWasApplied_DoesNotBuildAgain(bool stepping)
    {
        // ServiceTable.EditRealServer applies a changed weight with UpdateServers and then calls ServerEdited: the
        // snapshot UpdateServers built is already the kernel's upd_dest state, so it is kept, not built twice.
        var servers = WithWeights(4, 3, 2);
        var wrr = Create(stepping);
        wrr.UpdateServers(servers);
        Assert.Equal("AABA", Letters(servers, wrr.PickMany(4)));
        servers[1].Weight = 4;
        wrr.UpdateServers(servers);
        var built = wrr.CurrentSnapshot;
        wrr.ServerEdited(servers[1]);
        Assert.Same(built, wrr.CurrentSnapshot);

        // The picks that follow are those of a scheduler that built once.
        var reference = Create(stepping);
        var copies = WithWeights(4, 3, 2);
        reference.UpdateServers(copies);
        _ = reference.PickMany(4);
        copies[1].Weight = 4;
        reference.UpdateServers(copies);
        Assert.Equal(Letters(copies, reference.PickMany(20)), Letters(servers, wrr.PickMany(20)));

        // Once a pick has moved it, an edit builds again (restarts at the head), and so does a weight changed behind
        // the scheduler's back.
        wrr.ServerEdited(servers[1]);
        Assert.NotSame(built, wrr.CurrentSnapshot);
        var rebuilt = wrr.CurrentSnapshot;
        servers[2].Weight = 1;
        wrr.ServerEdited(servers[2]);
        Assert.NotSame(rebuilt, wrr.CurrentSnapshot);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UpdateServers_GcdGrows_RoundsTheCurrentWeightOntoTheNewGrid(bool stepping)
    {
        var servers = WithWeights(4, 3);
        var wrr = Create(stepping);
        wrr.UpdateServers(servers);
        Assert.Equal("AA", Letters(servers, wrr.PickMany(2)));

        // cw = 3; new weights 4, 2 have gcd 2 and mw 3, so cw = 3 / 2 * 2 + 1 = 3: pass 3 is A, pass 1 is A B.
        servers[1].Weight = 2;
        wrr.UpdateServers(servers);
        Assert.Equal("AABAAB", Letters(servers, wrr.PickMany(6)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pick_OverloadedServer_IsSkippedInItsPass(bool stepping)
    {
        var servers = WithWeights(4, 3, 2);
        servers[1].Overloaded();
        var wrr = Create(stepping);
        wrr.UpdateServers(servers);
        Assert.Equal("AAACAC" + "AAACAC", Letters(servers, wrr.PickMany(12)));
    }

    [Fact]
    public void Pick_LiveQuiesce_IsHonouredBeforeTheUpdate()
    {
        var servers = WithWeights(2, 1);
        var wrr = Create();
        wrr.UpdateServers(servers);
        servers[0].Weight = 0;
        Assert.Equal("BBB", Letters(servers, wrr.PickMany(3)));
    }

    [Fact]
    public void UpdateServers_HugePeriod_UsesTheSteppingAlgorithm()
    {
        // 1000 servers with weights 64536..65535: the period (sum / gcd) is about 65 million entries.
        var servers = Enumerable.Range(0, 1000).Select(i => TestServers.Create(i, 65535 - i)).ToArray();
        var wrr = new WeightedRoundRobinScheduler();
        wrr.UpdateServers(servers);
        Assert.False(wrr.UsesPeriodTable);

        // The first pass (current weight 65535) holds only the heaviest server; the second adds the next one, and so on.
        var picks = wrr.PickMany(6);
        Assert.Equal([servers[0], servers[0], servers[1], servers[0], servers[1], servers[2]], picks);
    }

    [FsCheck.Xunit.Property(MaxTest = 200)]
    public Property Pick_FullPeriod_EachServerGetsItsWeightShare()
    {
        var gen = Gen.ArrayOf(Gen.Choose(0, 12)).Where(w => w.Length > 0);
        return Prop.ForAll(gen.ToArbitrary(), weights =>
        {
            var servers = WithWeights(weights);
            var wrr = Create();
            wrr.UpdateServers(servers);
            int gcd = weights.Where(w => w > 0).Aggregate(0, Gcd);
            if (gcd == 0)
            {
                return wrr.Pick(default) is null;
            }

            int period = weights.Sum() / gcd;
            var picks = wrr.PickMany(period * 2);
            return servers.All(s => picks.Count(p => p == s) == 2 * s.Weight / gcd);
        });
    }

    [FsCheck.Xunit.Property(MaxTest = 200)]
    public Property Pick_TableAndKernelStepping_AgreeThroughUpdatesAndOverloads()
    {
        // Operations: 0 picks, 1 re-weights a server then updates, 2 toggles a server's overload, 3 drops the last server.
        var op = Gen.Choose(0, 3).SelectMany(kind => Gen.Choose(0, 30).Select(arg => (kind, arg)));
        var gen = Gen.ArrayOf(Gen.Choose(0, 9)).Where(w => w.Length > 0)
            .SelectMany(w => Gen.ArrayOf(op).Select(ops => (w, ops)));
        return Prop.ForAll(gen.ToArbitrary(), input =>
        {
            var (weights, ops) = input;
            string table = Run(WithWeights(weights), Create(stepping: false), ops);
            string stepping = Run(WithWeights(weights), Create(stepping: true), ops);
            return (table == stepping).Label($"{table} != {stepping}");
        });

        static string Run(RealServer[] servers, WeightedRoundRobinScheduler wrr, (int Kind, int Arg)[] ops)
        {
            var list = servers.ToList();
            wrr.UpdateServers(list);
            var result = new System.Text.StringBuilder();
            foreach (var (kind, arg) in ops)
            {
                switch (kind)
                {
                    case 0:
                        result.Append(Letters(servers, wrr.PickMany(1 + (arg % 7))));
                        break;
                    case 1:
                        servers[arg % servers.Length].Weight = arg % 10;
                        wrr.UpdateServers(list);
                        break;
                    case 2:
                        var server = servers[arg % servers.Length];
                        if (server.IsOverloaded)
                        {
                            server.UpperThreshold = 0;
                        }
                        else
                        {
                            server.Overloaded();
                        }

                        break;
                    default:
                        if (list.Count > 1)
                        {
                            list.RemoveAt(list.Count - 1);
                            wrr.UpdateServers(list);
                        }

                        break;
                }

                result.Append('|');
            }

            return result.ToString();
        }
    }

    /// <summary>
    /// By default one position serves every thread, as the kernel's one mark: threads of different numbers picking at
    /// once take each position of the sequence once, so picks that make whole periods together give exactly the
    /// weights' shares, though neither thread's own picks do (4 and 5 past whole periods: with a position per thread,
    /// A would get two more).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pick_ConcurrentThreadsOfDifferentNumbers_ByDefault_ShareTheOneSequence(bool stepping)
    {
        const int Periods = 2500;
        var servers = WithWeights(4, 3, 2);
        var wrr = Create(stepping);
        wrr.UpdateServers(servers);
        var counts = new int[servers.Length];
        PacketThreads.Run(2, t => t, t =>
        {
            foreach (var pick in wrr.PickMany((9 * Periods) + (t == 0 ? 4 : 5)))
            {
                Interlocked.Increment(ref counts[Array.IndexOf(servers, pick)]);
            }
        });

        int periods = (2 * Periods) + 1;
        Assert.Equal([4 * periods, 3 * periods, 2 * periods], counts);
    }

    /// <summary>
    /// With <see cref="SchedulerOptions.WeightedRoundRobinPositionPerThread"/> every packet thread number walks the
    /// sequence on its own, with the period table or the kernel's stepping loop: threads of distinct numbers (one per plane) picking at once each get exactly the kernel's
    /// sequence, as a thread alone does.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pick_PositionPerThread_ConcurrentThreadsWithTheirOwnNumbers_EachGetsTheKernelsSequence(bool stepping)
    {
        const int Periods = 2000;
        var servers = WithWeights(4, 3, 2);
        var wrr = Create(stepping, perThread: true);
        wrr.UpdateServers(servers);
        var sequences = new string[PacketThread.Planes];
        PacketThreads.Run(sequences.Length, t => t, t => sequences[t] = Letters(servers, wrr.PickMany(9 * Periods)));

        string expected = string.Concat(Enumerable.Repeat("AABABCABC", Periods));
        Assert.All(sequences, sequence => Assert.Equal(expected, sequence));
    }

    /// <summary>
    /// Threads of one number share their plane's position, advanced by compare-and-swap: every position of the period is
    /// handed out once, so whole periods give each server exactly its weight's share, and no pick is null.
    /// </summary>
    [Fact]
    public void Pick_PositionPerThread_ConcurrentThreadsWithTheSameNumber_HandOutEachPositionOnce()
    {
        const int Threads = 4;
        const int PicksPerThread = 9 * 2500;
        var servers = WithWeights(4, 3, 2);
        var wrr = Create(perThread: true);
        wrr.UpdateServers(servers);
        var counts = new int[servers.Length];
        PacketThreads.Run(Threads, _ => 3, _ =>
        {
            foreach (var pick in wrr.PickMany(PicksPerThread))
            {
                Assert.NotNull(pick);
                Interlocked.Increment(ref counts[Array.IndexOf(servers, pick)]);
            }
        });

        int periods = Threads * PicksPerThread / 9;
        Assert.Equal([4 * periods, 3 * periods, 2 * periods], counts);
    }

    /// <summary>
    /// An update that keeps the position takes it from the plane that moved most (a thread alone's own, the kernel's
    /// mark); every thread continues from there.
    /// </summary>
    [Fact]
    public void UpdateServers_PositionPerThread_AfterPicksOfSeveralNumbers_EveryThreadContinuesFromTheBusiestPlane()
    {
        var servers = WithWeights(4, 3, 2);
        var wrr = Create(perThread: true);
        wrr.UpdateServers(servers);
        int saved = PacketThread.Current;
        try
        {
            PacketThread.Current = 1;
            Assert.Equal("AABA", Letters(servers, wrr.PickMany(4)));
            PacketThread.Current = 0;
            string first = Letters(servers, wrr.PickMany(1));

            var renewed = WithWeights(4, 3, 2);
            wrr.UpdateServers(renewed);

            // With one plane (one processor) both numbers share it: five picks so far, the sixth is C.
            bool shared = PacketThread.Planes == 1;
            Assert.Equal(shared ? "B" : "A", first);
            Assert.Equal(shared ? "C" : "B", Letters(renewed, wrr.PickMany(1)));
            PacketThread.Current = 1;
            Assert.Equal(shared ? "A" : "B", Letters(renewed, wrr.PickMany(1)));
        }
        finally
        {
            PacketThread.Current = saved;
        }
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
