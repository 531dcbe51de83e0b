using System.Runtime.CompilerServices;
using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public class RoundRobinSchedulerTests
{
    [Fact]
    public void Pick_ThreeServers_CyclesInListOrder()
    {
        var servers = WithWeights(1, 5, 2);
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers);
        Assert.Equal("ABCABCA", Letters(servers, rr.PickMany(7)));
    }

    [Fact]
    public void Pick_SingleServer_AlwaysIt()
    {
        var servers = WithWeights(3);
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers);
        Assert.Equal("AAAA", Letters(servers, rr.PickMany(4)));
    }

    [Fact]
    public void Pick_AllWeightsZero_ReturnsNull()
    {
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(WithWeights(0, 0, 0));
        Assert.Null(rr.Pick(default));
    }

    [Fact]
    public void Pick_NoServers_ReturnsNull()
    {
        Assert.Null(new RoundRobinScheduler().Pick(default));
    }

    [Fact]
    public void Pick_QuiescedOverloadedAndUnavailable_AreSkipped()
    {
        var servers = WithWeights(1, 0, 1, 1, 1);
        servers[2].Overloaded();
        servers[3].IsAvailable = false;
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers);
        Assert.Equal("AEAEA", Letters(servers, rr.PickMany(5)));
    }

    [Fact]
    public void UpdateServers_NewObjectsWithTheSameEndpoints_KeepThePosition()
    {
        // The position follows the last picked server by endpoint, its identity within the service: a list rebuilt as
        // new objects continues the cycle instead of restarting at the head (issue 16).
        var servers = WithWeights(1, 1, 1, 1);
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers);
        Assert.Equal("AB", Letters(servers, rr.PickMany(2)));
        var renewed = WithWeights(1, 1, 1, 1);
        rr.UpdateServers(renewed);
        Assert.Equal("CDAB", Letters(renewed, rr.PickMany(4)));
    }

    [Fact]
    public void UpdateServers_ServerRemovedMidCycle_ContinuesAfterItsPredecessor()
    {
        var servers = WithWeights(1, 1, 1, 1);
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers);
        Assert.Equal("AB", Letters(servers, rr.PickMany(2)));

        // B was picked last and goes away: the kernel moves the position back to A, so C comes next.
        rr.UpdateServers([servers[0], servers[2], servers[3]]);
        Assert.Equal("CDACD", Letters(servers, rr.PickMany(5)));
    }

    [Fact]
    public void UpdateServers_ServerAddedMidCycle_JoinsTheCycle()
    {
        var servers = WithWeights(1, 1, 1, 1);
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers[..3]);
        Assert.Equal("AB", Letters(servers, rr.PickMany(2)));
        rr.UpdateServers(servers);
        Assert.Equal("CDABCD", Letters(servers, rr.PickMany(6)));
    }

    [Fact]
    public void UpdateServers_FirstServerRemovedAfterPick_RestartsAtHead()
    {
        var servers = WithWeights(1, 1, 1);
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers);
        Assert.Equal("A", Letters(servers, rr.PickMany(1)));
        rr.UpdateServers(servers[1..]);
        Assert.Equal("BCB", Letters(servers, rr.PickMany(3)));
    }

    [FsCheck.Xunit.Property]
    public Property Pick_FullPeriods_EachSchedulableServerEqually()
    {
        var gen = Gen.ArrayOf(Gen.Choose(0, 5)).Where(w => w.Length > 0);
        return Prop.ForAll(gen.ToArbitrary(), Gen.Choose(1, 4).ToArbitrary(), (weights, periods) =>
        {
            var servers = WithWeights(weights);
            var rr = new RoundRobinScheduler();
            rr.UpdateServers(servers);
            int live = weights.Count(w => w > 0);
            var picks = rr.PickMany(live * periods);
            return servers.All(s => picks.Count(p => p == s) == (s.Weight > 0 ? periods : 0))
                && (live > 0 || picks.All(p => p is null));
        });
    }

    [FsCheck.Xunit.Property(MaxTest = 1000)]
    public Property Pick_OneThread_FollowsTheKernelsSequenceThroughStateChangesAndUpdates()
    {
        // One thread (any packet thread number) against the kernel's rr: a position, the next schedulable server in list
        // order, unchanged when none is; on an update the position follows the server picked last, or its nearest
        // surviving predecessor. Lists of up to 45 servers, so that runs are sometimes longer than 32 (one per server),
        // and picks of up to 80 at once, so that they cross several runs.
        // Operations: 0 picks, 1 toggles weight 0, 2 toggles overload, 3 toggles availability, 4 removes a server,
        // 5 adds one at a place, 6 rebuilds the list from new objects with the same endpoints.
        var op = Gen.Frequency((5, Gen.Constant(0)), (1, Gen.Choose(1, 6))).SelectMany(kind => Gen.Choose(0, 1000).Select(arg => (kind, arg)));
        var gen = from count in Gen.Frequency((4, Gen.Choose(1, 8)), (1, Gen.Choose(9, 45)))
                  from thread in Gen.Choose(0, 20)
                  from ops in Gen.ArrayOf(op)
                  select (count, thread, ops);
        return Prop.ForAll(gen.ToArbitrary(), input =>
        {
            var (count, thread, ops) = input;
            int saved = PacketThread.Current;
            PacketThread.Current = thread;
            try
            {
                var list = Enumerable.Range(0, count).Select(i => Create(i)).ToList();
                int nextIndex = count;
                var rr = new RoundRobinScheduler();
                var kernel = new KernelRoundRobin();
                rr.UpdateServers(list);
                kernel.UpdateServers(list);
                foreach (var (kind, arg) in ops)
                {
                    var server = list.Count == 0 ? null : list[arg % list.Count];
                    switch (kind)
                    {
                        case 0:
                            for (int i = 0; i < 1 + (arg % 80); i++)
                            {
                                var expected = kernel.Pick();
                                var actual = rr.Pick(default);
                                if (expected != actual)
                                {
                                    return false.Label($"pick {i} of op {kind}/{arg}: {actual} instead of {expected}");
                                }
                            }

                            break;
                        case 1 when server is not null:
                            server.Weight = server.Weight == 0 ? 1 : 0;
                            break;
                        case 2 when server is not null:
                            if (server.IsOverloaded)
                            {
                                server.UpperThreshold = 0;
                            }
                            else
                            {
                                server.Overloaded();
                            }

                            break;
                        case 3 when server is not null:
                            server.IsAvailable = !server.IsAvailable;
                            break;
                        case 4 when server is not null:
                            list.Remove(server);
                            break;
                        case 5:
                            list.Insert(arg % (list.Count + 1), Create(nextIndex++));
                            break;
                        case 6:
                            list = [.. list.Select(s => new RealServer(s.Endpoint, s.Weight) { IsAvailable = s.IsAvailable })];
                            break;
                    }

                    if (kind >= 4)
                    {
                        rr.UpdateServers(list);
                        kernel.UpdateServers(list);
                    }
                }

                return true.ToProperty();
            }
            finally
            {
                PacketThread.Current = saved;
            }
        });
    }

    [Fact]
    public void Pick_OneThreadOverManyRuns_CyclesExactly()
    {
        // 5 servers, runs of 32: 1000 picks cross 31 runs and still go A B C D E in turn.
        var servers = WithWeights(1, 1, 1, 1, 1);
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers);
        Assert.Equal(RoundRobinScheduler.MinRunLength, rr.RunLength);
        string expected = string.Concat(Enumerable.Repeat("ABCDE", 200));
        Assert.Equal(expected, Letters(servers, rr.PickMany(1000)));
    }

    [Fact]
    public void RunLength_AtLeastTheServerCount()
    {
        var rr = new RoundRobinScheduler();
        rr.UpdateServers([.. Enumerable.Range(0, 100).Select(i => Create(i))]);
        Assert.Equal(100, rr.RunLength);
    }

    [Fact]
    public void Pick_NothingSchedulable_ReturnsNullAndRecoversWhenAServerIs()
    {
        var servers = WithWeights(1, 1, 1, 1);
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers);
        Assert.Equal("AB", Letters(servers, rr.PickMany(2)));
        foreach (var server in servers)
        {
            server.Weight = 0;
        }

        // Many picks, so that they use up runs: each finds nothing in a whole cycle.
        Assert.All(rr.PickMany(100), Assert.Null);
        servers[0].Weight = 1;
        Assert.Equal("AAA", Letters(servers, rr.PickMany(3)));

        // The position did not move while nothing was schedulable: after B comes C, as in the kernel.
        servers[3].Weight = 1;
        servers[2].Weight = 1;
        servers[1].Weight = 1;
        Assert.Equal("BCDAB", Letters(servers, rr.PickMany(5)));
    }

    [Fact]
    public void Pick_NothingSchedulableFromTheHead_KeepsTheHeadForTheNextUpdate()
    {
        // The kernel's position stays at the list head while nothing is schedulable; an update then restarts at the new
        // head, not after the last server.
        var servers = WithWeights(0, 0, 0, 1);
        servers[3].IsAvailable = false;
        var rr = new RoundRobinScheduler();
        rr.UpdateServers(servers[..3]);
        Assert.Null(rr.Pick(default));
        servers[0].Weight = 1;
        rr.UpdateServers([servers[0], servers[1], servers[2], servers[3]]);
        servers[3].IsAvailable = true;
        Assert.Equal("ADA", Letters(servers, rr.PickMany(3)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pick_ConcurrentThreadsWithTheirOwnNumbers_BalancedAndNoPositionLostOrTakenTwice(bool runsPerThread)
    {
        // With runs per thread each thread takes its picks from runs of its own plane; by default all take them from the
        // one plane. Over the picks of threads that have all returned, the positions handed out are consecutive and each
        // plane holds at most one partial run, which covers each server within one of its share: each server's count is
        // within (planes holding a run) + 1 of the mean, exclusive.
        const int Threads = 4;
        const int PicksPerThread = 30_000;
        var servers = WithWeights(1, 1, 1, 1, 1);
        var rr = new RoundRobinScheduler(new SchedulerOptions { RoundRobinRunsPerThread = runsPerThread });
        rr.UpdateServers(servers);
        var counts = new int[servers.Length];
        PacketThreads.Run(Threads, t => t, _ =>
        {
            for (int i = 0; i < PicksPerThread; i++)
            {
                var pick = rr.Pick(default);
                Assert.NotNull(pick);
                Interlocked.Increment(ref counts[Array.IndexOf(servers, pick)]);
            }
        });

        int planes = runsPerThread ? Math.Min(Threads, RoundRobinScheduler.PlaneCount) : 1;
        Assert.Equal(Threads * PicksPerThread, counts.Sum());
        Assert.Equal(rr.PositionsHandedOut, counts.Sum() + rr.PositionsOutstanding);
        double mean = counts.Sum() / (double)servers.Length;
        Assert.All(counts, c => Assert.True(Math.Abs(c - mean) < planes + 1, $"{string.Join(", ", counts)}: more than {planes} + 1 from {mean}"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pick_ConcurrentThreadsWithTheSameNumber_ShareOnePlaneCorrectly(bool runsPerThread)
    {
        // Four threads of packet thread number 3 share one plane: the one refilling it claims it, the others take single
        // positions from the shared count meanwhile. Every pick is a schedulable server, no position is lost or taken
        // twice, and with one plane each server is within 2 of the mean, exclusive.
        const int Threads = 4;
        const int PicksPerThread = 30_000;
        var servers = WithWeights(1, 1, 1, 1, 1, 1, 1);
        var rr = new RoundRobinScheduler(new SchedulerOptions { RoundRobinRunsPerThread = runsPerThread });
        rr.UpdateServers(servers);
        var counts = new int[servers.Length];
        PacketThreads.Run(Threads, _ => 3, _ =>
        {
            for (int i = 0; i < PicksPerThread; i++)
            {
                var pick = rr.Pick(default);
                Assert.NotNull(pick);
                Assert.True(pick.IsSchedulable);
                Interlocked.Increment(ref counts[Array.IndexOf(servers, pick)]);
            }
        });

        Assert.Equal(Threads * PicksPerThread, counts.Sum());
        Assert.Equal(rr.PositionsHandedOut, counts.Sum() + rr.PositionsOutstanding);
        double mean = counts.Sum() / (double)servers.Length;
        Assert.All(counts, c => Assert.True(Math.Abs(c - mean) < 2, $"{string.Join(", ", counts)}: 2 or more from {mean}"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pick_ConcurrentThreadsOneSchedulableServer_NeverNull(bool runsPerThread)
    {
        // 40 servers, only the 17th schedulable: a thread's positions jump where another thread's run was taken, so a
        // whole cycle of its own positions may miss the server; a scan of the list then gives it another cycle, which
        // its own run (at least one cycle long) completes.
        var servers = Enumerable.Range(0, 40).Select(i => Create(i, i == 17 ? 1 : 0)).ToArray();
        var rr = new RoundRobinScheduler(new SchedulerOptions { RoundRobinRunsPerThread = runsPerThread });
        rr.UpdateServers(servers);
        int nulls = 0;
        PacketThreads.Run(RoundRobinScheduler.PlaneCount, t => t, _ =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                var pick = rr.Pick(default);
                if (pick != servers[17])
                {
                    Interlocked.Increment(ref nulls);
                }
            }
        });
        Assert.Equal(0, nulls);
    }

    /// <summary>
    /// By default packet threads of different numbers share the kernel's one sequence: alternate picks of numbers 0 and 1
    /// over three servers go A, B, C, A, B, C. With runs per thread each number walks the sequence from its own run (its
    /// first run starts where the shared count stood: number 0 takes positions 0-31, number 1 positions 32-63), so the
    /// picks interleave two sequences; with one plane (one processor) the option changes nothing.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pick_ThreadsOfDifferentNumbers_ShareOneSequenceByDefault(bool runsPerThread)
    {
        var servers = WithWeights(1, 1, 1);
        var rr = new RoundRobinScheduler(new SchedulerOptions { RoundRobinRunsPerThread = runsPerThread });
        rr.UpdateServers(servers);
        string picks = string.Empty;
        int saved = PacketThread.Current;
        try
        {
            for (int i = 0; i < 6; i++)
            {
                PacketThread.Current = i & 1;
                picks += Letters(servers, [rr.Pick(default)]);
            }
        }
        finally
        {
            PacketThread.Current = saved;
        }

        // Number 1's run starts at position 32: server 32 mod 3 = 2 (C), then A, B.
        Assert.Equal(runsPerThread && RoundRobinScheduler.PlaneCount > 1 ? "ACBACB" : "ABCABC", picks);
    }

    [Fact]
    public void Plane_HasSixtyFourBytesOfPaddingOnEachSide()
    {
        // Each packet thread writes its plane on every pick: neighbouring planes must not share its cache line.
        var plane = default(RoundRobinScheduler.Plane);
        ref byte start = ref Unsafe.As<RoundRobinScheduler.Plane, byte>(ref plane);
        long first = Unsafe.ByteOffset(ref start, ref Unsafe.As<long, byte>(ref plane.State));
        long second = Unsafe.ByteOffset(ref start, ref Unsafe.As<long, byte>(ref plane.RunTicket));
        Assert.True(Math.Min(first, second) >= 64);
        Assert.True(Unsafe.SizeOf<RoundRobinScheduler.Plane>() - Math.Max(first, second) - sizeof(long) >= 64);
    }

    [Fact]
    public void PlaneCount_PowerOfTwoUpToEight()
    {
        Assert.InRange(RoundRobinScheduler.PlaneCount, 1, 8);
        Assert.Equal(0, RoundRobinScheduler.PlaneCount & (RoundRobinScheduler.PlaneCount - 1));
    }

    /// <summary>The kernel's <c>ip_vs_rr.c</c>, one pick at a time: the reference for one thread's sequence.</summary>
    private sealed class KernelRoundRobin
    {
        private List<RealServer> _servers = [];
        private int _position = -1;

        public void UpdateServers(List<RealServer> servers)
        {
            int position = -1;
            for (int i = _position; i >= 0 && position < 0; i--)
            {
                position = servers.FindIndex(s => s.Endpoint == _servers[i].Endpoint);
            }

            _servers = [.. servers];
            _position = position;
        }

        public RealServer? Pick()
        {
            int i = _position;
            for (int step = 0; step < _servers.Count; step++)
            {
                i = i + 1 >= _servers.Count ? 0 : i + 1;
                if (_servers[i].IsSchedulable)
                {
                    _position = i;
                    return _servers[i];
                }
            }

            return null;
        }
    }
}
