using Lvs.TestSupport;

namespace Lvs.Core.Tests;

public class RealServerLoadBlockTests
{
    private static RealServer Server(int index, int weight = 1) =>
        new(new InetEndpoint(InetAddress.FromIPv4(10, 0, (byte)(index >> 8), (byte)index), 80), weight);

    /// <summary>A server's slot summed over the counter planes (what a scan reads).</summary>
    private static int[] SlotOf(RealServerLoadBlock block, int index) =>
        SummedSlots(block).AsSpan(index * RealServerLoadBlock.SlotLength, RealServerLoadBlock.SlotLength).ToArray();

    private static int[] SummedSlots(RealServerLoadBlock block)
    {
        var sums = new int[block.SlotsLength];
        block.CopySummedSlots(sums);
        return sums;
    }


    /// <summary>Starts <paramref name="action"/> on a thread of its own that is packet thread <paramref name="number"/>.</summary>
    private static Task StartOnPacketThread(int number, Action action) =>
        Task.Factory.StartNew(
            () =>
            {
                PacketThread.Current = number;
                try
                {
                    action();
                }
                finally
                {
                    PacketThread.Current = 0;
                }
            },
            TestContext.Current.CancellationToken,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

    /// <summary>One counter of a location's plane <paramref name="plane"/>.</summary>
    private static int PlaneCount(RealServerLoadLocation location, int plane, int offset) =>
        System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(
            ref System.Runtime.CompilerServices.Unsafe.As<RealServerLoadSlot, int>(ref location.Plane(plane)), RealServerLoadBlock.SlotLength)[offset];

    private static int ExpectedState(RealServer server) =>
        server.Weight
        | (server.IsOverloaded ? RealServerLoadBlock.OverloadedFlag : 0)
        | (server.IsAvailable ? 0 : RealServerLoadBlock.UnavailableFlag);

    [Fact]
    public void Attach_MovesCountsWeightAndFlags()
    {
        var a = Server(1, weight: 3);
        var b = Server(2, weight: 7);
        a.AddConnection(active: true);
        a.AddConnection(active: true);
        a.AddConnection(active: false);
        a.AddPersistentConnection();
        b.IsAvailable = false;
        b.AddConnection(active: false);
        b.UpperThreshold = 1;

        var block = RealServerLoadBlock.Attach([a, b]);

        Assert.Equal(2, block.Count);
        Assert.Same(b, block[1]);
        Assert.Equal([2, 1, 1, 3], SlotOf(block, 0));
        Assert.Equal([0, 1, 0, 7 | RealServerLoadBlock.OverloadedFlag | RealServerLoadBlock.UnavailableFlag], SlotOf(block, 1));
        Assert.Equal(2, a.ActiveConnections);
        Assert.Equal(1, a.InactiveConnections);
        Assert.Equal(1, a.PersistentConnections);
        Assert.True(b.IsOverloaded);
    }

    [Fact]
    public void Attach_PadsWithEmptySlots()
    {
        var block = RealServerLoadBlock.Attach([Server(1), Server(2), Server(3)]);
        Assert.Equal(RealServerLoadBlock.CountGranularity * RealServerLoadBlock.SlotLength, block.Slots.Length);
        Assert.All(block.Slots[(3 * RealServerLoadBlock.SlotLength)..].ToArray(), value => Assert.Equal(0, value));
        Assert.Empty(RealServerLoadBlock.Attach([]).Slots.ToArray());
    }

    [Fact]
    public void SlotArrays_KeepTheCountersInUseOffTheCacheLinesOfOtherObjects()
    {
        // Every packet thread increments these counters on each new connection: no other object's bytes may share
        // their cache lines (whatever the array's alignment, 64 bytes of padding on each side guarantee it).
        foreach (var location in new[] { Server(1).LoadLocation, RealServerLoadBlock.Attach([Server(2), Server(3), Server(4)])[2].LoadLocation })
        {
            var slots = location.Slots;
            int used = location.Block is { } block ? (block.Slots.Length / RealServerLoadBlock.SlotLength) : 1;
            int first = RealServerLoadSlot.Padding;
            Assert.True(first * System.Runtime.CompilerServices.Unsafe.SizeOf<RealServerLoadSlot>() >= 64);
            Assert.True((slots.Length - first - used) * System.Runtime.CompilerServices.Unsafe.SizeOf<RealServerLoadSlot>() >= 64);
            Assert.InRange(location.Index, first, first + used - 1);
        }
    }

    [Fact]
    public void CounterAndSettingChanges_WriteTheSlot()
    {
        var server = Server(1, weight: 2);
        var block = RealServerLoadBlock.Attach([Server(0), server]);
        server.AddConnection(active: false);
        server.ChangeConnectionActivity(nowActive: true);
        server.AddConnection(active: false);
        server.AddPersistentConnection();
        server.Weight = 9;
        Assert.Equal([1, 1, 1, 9], SlotOf(block, 1));
        server.UpperThreshold = 2;
        Assert.Equal(9 | RealServerLoadBlock.OverloadedFlag, SlotOf(block, 1)[RealServerLoadBlock.StateOffset]);
        server.RemoveConnection(active: true);
        server.RemoveConnection(active: false);
        server.RemovePersistentConnection();
        server.IsAvailable = false;
        Assert.Equal([0, 0, 0, 9 | RealServerLoadBlock.UnavailableFlag], SlotOf(block, 1));
    }

    [Fact]
    public void Attach_SameListInSameOrder_ReturnsTheSameBlock()
    {
        RealServer[] servers = [Server(1), Server(2), Server(3)];
        var block = RealServerLoadBlock.Attach(servers);
        Assert.Same(block, RealServerLoadBlock.Attach([.. servers]));
        Assert.True(block.IsIntact);
    }

    [Fact]
    public void Attach_AnotherList_AbandonsTheOldBlockAndKeepsCounts()
    {
        RealServer[] servers = [Server(1), Server(2), Server(3)];
        var first = RealServerLoadBlock.Attach(servers);
        servers[2].AddConnection(active: true);
        var second = RealServerLoadBlock.Attach([servers[2], servers[0]]);

        Assert.NotSame(first, second);
        Assert.False(first.IsIntact);
        Assert.True(second.IsIntact);
        Assert.Equal(1, SlotOf(second, 0)[RealServerLoadBlock.ActiveOffset]);
        Assert.Equal(0, SlotOf(first, 2)[RealServerLoadBlock.ActiveOffset]);
        Assert.Equal(1, servers[2].ActiveConnections);

        // servers[1] stayed in the old block, which is still where its counters are.
        servers[1].AddConnection(active: false);
        Assert.Equal(1, servers[1].InactiveConnections);
    }

    [Fact]
    public void Attach_NullOrDuplicate_Throws()
    {
        var server = Server(1);
        Assert.Throws<ArgumentNullException>(() => RealServerLoadBlock.Attach(null!));
        Assert.Throws<ArgumentNullException>(() => RealServerLoadBlock.Attach([server, null!]));
        Assert.Throws<ArgumentException>(() => RealServerLoadBlock.Attach([server, Server(2), server]));
    }

    [Fact]
    public async Task Counters_MovedWhileOtherThreadsUpdate_LoseNothing()
    {
        // Updaters bind, unbind and flip connections on four servers while another thread keeps moving the servers
        // between new blocks (the two orders never match the current block, so every Attach moves all four).
        RealServer[] servers = [Server(1), Server(2), Server(3), Server(4)];
        const int Updaters = 3;
        const int Iterations = 200_000;
        var moving = new Mover(servers, Updaters);
        var mover = moving.Start();
        var updaters = Enumerable.Range(0, Updaters).Select(t => Task.Run(() =>
        {
            moving.WaitUntilMoving();
            for (int i = 0; i < Iterations; i++)
            {
                var server = servers[(i + t) & 3];
                server.AddConnection(active: false);
                server.ChangeConnectionActivity(nowActive: true);
                server.AddConnection(active: true);
                server.RemoveConnection(active: true);
                server.AddPersistentConnection();
                server.AddConnection(active: false);
                server.RemoveConnection(active: false);
            }

            moving.WorkerDone();
        }, TestContext.Current.CancellationToken)).ToArray();

        await Task.WhenAll([.. updaters, mover]);

        // Each iteration leaves one active connection and one template on the server it touched.
        AssertCountsAllInTheCurrentBlock(servers, moving, Updaters * Iterations);
    }

    /// <summary>
    /// After a move test of four servers whose updates left <paramref name="updates"/> active connections and as many
    /// templates, a quarter on each: the mover moved them many times, the counts are exact, and they are all in the
    /// current block's slots (nothing was lost in the blocks left behind).
    /// </summary>
    private static void AssertCountsAllInTheCurrentBlock(RealServer[] servers, Mover moving, int updates)
    {
        Assert.True(moving.Moves > 10, $"only {moving.Moves} moves");
        Assert.Equal(updates, servers.Sum(s => s.ActiveConnections));
        Assert.Equal(updates, servers.Sum(s => s.PersistentConnections));
        Assert.All(servers, s => Assert.Equal(0, s.InactiveConnections));
        Assert.All(servers, s => Assert.Equal(updates / 4, s.ActiveConnections));

        var block = RealServerLoadBlock.Attach(servers);
        for (int i = 0; i < servers.Length; i++)
        {
            Assert.Equal(servers[i].ActiveConnections, SlotOf(block, i)[RealServerLoadBlock.ActiveOffset]);
            Assert.Equal(0, SlotOf(block, i)[RealServerLoadBlock.InactiveOffset]);
            Assert.Equal(servers[i].PersistentConnections, SlotOf(block, i)[RealServerLoadBlock.PersistentOffset]);
        }
    }

    [Fact]
    public async Task State_ChangedWhileMoving_EndsMatchingTheServer()
    {
        RealServer[] servers = [Server(1), Server(2), Server(3), Server(4)];
        var moving = new Mover(servers, workers: 2);
        var mover = moving.Start();
        var weights = Task.Run(() =>
        {
            moving.WaitUntilMoving();
            for (int i = 0; i < 100_000; i++)
            {
                servers[i & 3].Weight = 1 + (i % 17);
                servers[(i + 1) & 3].IsAvailable = (i & 4) == 0;
            }

            moving.WorkerDone();
        }, TestContext.Current.CancellationToken);
        var overloads = Task.Run(() =>
        {
            moving.WaitUntilMoving();
            foreach (var server in servers)
            {
                server.UpperThreshold = 2;
            }

            for (int i = 0; i < 100_000; i++)
            {
                var server = servers[i & 3];
                server.AddConnection(active: true);
                server.AddConnection(active: true);
                server.RemoveConnection(active: true);
                server.RemoveConnection(active: true);
            }

            moving.WorkerDone();
        }, TestContext.Current.CancellationToken);

        await Task.WhenAll(weights, overloads, mover);

        var block = RealServerLoadBlock.Attach(servers);
        for (int i = 0; i < servers.Length; i++)
        {
            Assert.Equal(ExpectedState(servers[i]), SlotOf(block, i)[RealServerLoadBlock.StateOffset]);
        }
    }

    [Fact]
    public void Planes_IsTheProcessorCountRoundedUpToAPowerOfTwo_AtMostEight()
    {
        // PlaneCountTests runs this class in child processes told another processor count: the runtime must honour it.
        if (Environment.GetEnvironmentVariable("DOTNET_PROCESSOR_COUNT") is { Length: > 0 } told)
        {
            Assert.Equal(int.Parse(told, System.Globalization.CultureInfo.InvariantCulture), Environment.ProcessorCount);
        }

        int planes = RealServerLoadBlock.Planes;
        Assert.InRange(planes, 1, 8);
        Assert.True(System.Numerics.BitOperations.IsPow2(planes));
        Assert.True(planes >= Math.Min(Environment.ProcessorCount, 8));
        Assert.True(planes < 2 * Math.Max(Math.Min(Environment.ProcessorCount, 8), 1));
    }

    [Fact]
    public void SlotArrays_KeepEveryPlaneOffTheCacheLinesOfOtherPlanesAndObjects()
    {
        // Each plane is written by other packet threads: between two planes, and before the first and after the last,
        // lie at least 64 bytes of padding, so no plane shares a line with another plane or another object.
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<RealServerLoadSlot>();
        foreach (var (location, used) in new[]
        {
            (Server(1).LoadLocation, 1),
            (RealServerLoadBlock.Attach([Server(2), Server(3), Server(4)])[2].LoadLocation, RealServerLoadBlock.CountGranularity),
            (RealServerLoadBlock.Attach([.. Enumerable.Range(10, 20).Select(i => Server(i))])[19].LoadLocation, 3 * RealServerLoadBlock.CountGranularity),
        })
        {
            // Plane 0's first slot in use is at Padding, in a block and in a private array.
            int start = RealServerLoadSlot.Padding;
            Assert.InRange(location.Index, start, start + used - 1);
            Assert.Equal(used + RealServerLoadSlot.Padding, location.PlaneStride);
            Assert.Equal(RealServerLoadSlot.Padding + (RealServerLoadBlock.Planes * location.PlaneStride), location.Slots.Length);
            for (int plane = 0; plane < RealServerLoadBlock.Planes; plane++)
            {
                int planeStart = start + (plane * location.PlaneStride);
                int previousEnd = plane == 0 ? 0 : planeStart - location.PlaneStride + used;
                int nextStart = plane == RealServerLoadBlock.Planes - 1 ? location.Slots.Length : planeStart + location.PlaneStride;
                Assert.True((planeStart - previousEnd) * size >= 64, $"plane {plane}: {planeStart - previousEnd} slots before");
                Assert.True((nextStart - planeStart - used) * size >= 64, $"plane {plane}: {nextStart - planeStart - used} slots after");
                Assert.True(
                    System.Runtime.CompilerServices.Unsafe.AreSame(
                        ref location.Plane(plane),
                        ref location.Slots[location.Index + (plane * location.PlaneStride)]));
            }

            // Plane numbers wrap at Planes.
            Assert.True(System.Runtime.CompilerServices.Unsafe.AreSame(ref location.Plane(RealServerLoadBlock.Planes), ref location.Slot));
        }
    }

    [Fact]
    public void Counts_FromSeveralPacketThreads_SumExactly()
    {
        const int N = 1000;
        var server = Server(1, weight: 5);
        var block = RealServerLoadBlock.Attach([Server(0), server]);
        for (int thread = 0; thread < 4; thread++)
        {
            PacketThreadRunner.Run(thread, () =>
            {
                for (int i = 0; i < N; i++)
                {
                    server.AddConnection(active: true);
                    server.AddConnection(active: false);
                    server.AddPersistentConnection();
                }
            });
        }

        // Another packet thread number unbinds some of them, and turns some active ones inactive.
        PacketThreadRunner.Run(5, () =>
        {
            for (int i = 0; i < 300; i++)
            {
                server.RemoveConnection(active: true);
                server.RemoveConnection(active: false);
                server.RemovePersistentConnection();
            }

            for (int i = 0; i < 100; i++)
            {
                server.ChangeConnectionActivity(nowActive: false);
            }
        });

        Assert.Equal((4 * N) - 300 - 100, server.ActiveConnections);
        Assert.Equal((4 * N) - 300 + 100, server.InactiveConnections);
        Assert.Equal((4 * N) - 300, server.PersistentConnections);
        Assert.Equal((((4L * N) - 400) << 8) + (4 * N) - 200, server.Overhead);
        Assert.Equal([(4 * N) - 400, (4 * N) - 200, (4 * N) - 300, 5], SlotOf(block, 1));

        // Each plane holds what the packet threads of its number wrote; only plane 0 holds the state word.
        var location = server.LoadLocation;
        int mask = RealServerLoadBlock.Planes - 1;
        for (int plane = 0; plane < RealServerLoadBlock.Planes; plane++)
        {
            int writers = Enumerable.Range(0, 4).Count(t => (t & mask) == plane);
            bool remover = (5 & mask) == plane;
            Assert.Equal((writers * N) - (remover ? 400 : 0), PlaneCount(location, plane, RealServerLoadBlock.ActiveOffset));
            Assert.Equal((writers * N) - (remover ? 200 : 0), PlaneCount(location, plane, RealServerLoadBlock.InactiveOffset));
            Assert.Equal((writers * N) - (remover ? 300 : 0), PlaneCount(location, plane, RealServerLoadBlock.PersistentOffset));
            Assert.Equal(plane == 0 ? 5 : 0, PlaneCount(location, plane, RealServerLoadBlock.StateOffset));
        }
    }

    [Fact]
    public async Task Counts_FromConcurrentPacketThreads_SumExactly()
    {
        // Four packet threads bind at once while a fifth unbinds what it finds: the totals end exact.
        const int N = 100_000;
        var server = Server(1);
        int removed = 0;
        var adders = Enumerable.Range(0, 4).Select(t => StartOnPacketThread(t, () =>
        {
            for (int i = 0; i < N; i++)
            {
                server.AddConnection(active: (i & 1) == 0);
            }
        })).ToArray();
        var remover = StartOnPacketThread(7, () =>
        {
            for (int i = 0; i < N; i++)
            {
                if (server.InactiveConnections > 0)
                {
                    server.RemoveConnection(active: false);
                    removed++;
                }
            }
        });
        await Task.WhenAll([.. adders, remover]);

        Assert.Equal(2 * N, server.ActiveConnections);
        Assert.Equal((2 * N) - removed, server.InactiveConnections);
    }

    [Fact]
    public void NegativeSums_ReadAsZero_AndTheHiddenCountStaysExact()
    {
        // An unbind counted before its bind (two packet threads, or a caller's bug) leaves a sum below 0 for a moment:
        // the counts read 0, and the next bind brings the sum back to exactly 0.
        var server = Server(1);
        PacketThreadRunner.Run(1, () => server.RemoveConnection(active: true));
        Assert.Equal(0, server.ActiveConnections);
        Assert.Equal(0, server.Overhead);
        Assert.Equal(-1, server.LoadLocation.Sum(RealServerLoadBlock.ActiveOffset));
        server.AddConnection(active: true);
        Assert.Equal(0, server.ActiveConnections);
        server.AddConnection(active: true);
        Assert.Equal(1, server.ActiveConnections);
    }

    [Fact]
    public void Overload_BindsAndUnbindsOnDifferentPlanes_FollowsTheSummedTotal()
    {
        var server = Server(1);
        server.UpperThreshold = 4;
        server.LowerThreshold = 3;
        var block = RealServerLoadBlock.Attach([server]);
        PacketThreadRunner.Run(1, () =>
        {
            for (int i = 0; i < 3; i++)
            {
                server.AddConnection(active: true);
            }
        });
        Assert.False(server.IsOverloaded);

        // The fourth connection, bound on plane 0 where the count is 0, reaches the upper threshold of the sum.
        server.AddConnection(active: false);
        Assert.True(server.IsOverloaded);
        Assert.Equal(RealServerLoadBlock.OverloadedFlag | 1, SlotOf(block, 0)[RealServerLoadBlock.StateOffset]);

        // Unbinding on plane 0 leaves it at -1 (or 3 with one plane); the sum, 3, is not below the lower threshold.
        PacketThreadRunner.Run(2 * RealServerLoadBlock.Planes, () => server.RemoveConnection(active: true));
        Assert.True(server.IsOverloaded);

        // Two below the lower threshold clears it.
        server.RemoveConnection(active: true);
        Assert.False(server.IsOverloaded);
        Assert.Equal(1, SlotOf(block, 0)[RealServerLoadBlock.StateOffset]);

        // And binding two on plane 0 (back to 1 there) reaches the upper threshold again.
        server.AddConnection(active: true);
        Assert.False(server.IsOverloaded);
        server.AddConnection(active: true);
        Assert.True(server.IsOverloaded);
        Assert.Equal(3, server.ActiveConnections);
        Assert.Equal(1, server.InactiveConnections);
    }

    [Fact]
    public void Attach_CountsInSeveralPlanes_MovesEveryPlaneExactly()
    {
        RealServer[] servers = [Server(1), Server(2), Server(3)];
        for (int thread = 0; thread < 8; thread++)
        {
            int t = thread;
            PacketThreadRunner.Run(t, () =>
            {
                foreach (var server in servers)
                {
                    for (int i = 0; i <= t; i++)
                    {
                        server.AddConnection(active: true);
                        server.AddPersistentConnection();
                    }

                    server.AddConnection(active: false);
                }
            });
        }

        // Unbinds on one plane of what others bound: that plane goes negative, the sums stay.
        PacketThreadRunner.Run(3, () => servers[1].RemoveConnection(active: true));

        var first = RealServerLoadBlock.Attach(servers);
        var second = RealServerLoadBlock.Attach([servers[2], servers[1]]);
        Assert.Equal([36, 8, 36, 1], SlotOf(first, 0));
        Assert.Equal([0, 0, 0, 1], SlotOf(first, 2));
        Assert.Equal([35, 8, 36, 1], SlotOf(second, 1));
        Assert.Equal([36, 8, 36, 1], SlotOf(second, 0));
        Assert.Equal(35, servers[1].ActiveConnections);
        Assert.Equal(8, servers[1].InactiveConnections);
        Assert.Equal(36, servers[1].PersistentConnections);

        // Every plane moved into the same plane of the new block.
        int mask = RealServerLoadBlock.Planes - 1;
        for (int plane = 0; plane < RealServerLoadBlock.Planes; plane++)
        {
            int active = Enumerable.Range(0, 8).Where(t => (t & mask) == plane).Sum(t => t + 1);
            Assert.Equal(active, PlaneCount(servers[2].LoadLocation, plane, RealServerLoadBlock.ActiveOffset));
            Assert.Equal(active - ((3 & mask) == plane ? 1 : 0), PlaneCount(servers[1].LoadLocation, plane, RealServerLoadBlock.ActiveOffset));
        }
    }

    [Fact]
    public void CopySummedSlots_ChecksTheLength_AndWritesThePaddingSlots()
    {
        var server = Server(1, weight: 4);
        var block = RealServerLoadBlock.Attach([server, Server(2)]);
        PacketThreadRunner.Run(1, () => server.AddConnection(active: true));
        Assert.Equal(RealServerLoadBlock.CountGranularity * RealServerLoadBlock.SlotLength, block.SlotsLength);
        Assert.Equal(block.SlotsLength, block.Slots.Length);
        Assert.Throws<ArgumentException>(() => block.CopySummedSlots(new int[block.SlotsLength - 1]));

        var sums = Enumerable.Repeat(-7, block.SlotsLength + 3).ToArray();
        block.CopySummedSlots(sums);
        Assert.Equal([1, 0, 0, 4, 0, 0, 0, 1], sums[..8]);
        Assert.All(sums[8..block.SlotsLength], value => Assert.Equal(0, value));
        Assert.Equal([-7, -7, -7], sums[block.SlotsLength..]);

        // Plane 0 alone holds the state words, and the whole counts only when there is one plane.
        Assert.Equal(RealServerLoadBlock.Planes == 1 ? 1 : 0, block.Slots[RealServerLoadBlock.ActiveOffset]);
        Assert.Equal(4, block.Slots[RealServerLoadBlock.StateOffset]);

        var empty = RealServerLoadBlock.Attach([]);
        Assert.Equal(0, empty.SlotsLength);
        empty.CopySummedSlots([]);
    }

    [Fact]
    public async Task Counters_MovedWhileSeveralPacketThreadsUpdate_LoseNothing()
    {
        // As Counters_MovedWhileOtherThreadsUpdate_LoseNothing, with updaters of different packet thread numbers that
        // also bind on one number and unbind on another, so that planes go negative while counts move between blocks.
        RealServer[] servers = [Server(1), Server(2), Server(3), Server(4)];
        const int Updaters = 3;
        const int Iterations = 100_000;
        var first = RealServerLoadBlock.Attach(servers);
        var firstLocations = servers.Select(s => s.LoadLocation).ToArray();
        var moving = new Mover(servers, Updaters);
        var mover = moving.Start();
        var updaters = Enumerable.Range(0, Updaters).Select(t => StartOnPacketThread(t + 1, () =>
        {
            moving.WaitUntilMoving();
            for (int i = 0; i < Iterations; i++)
            {
                var server = servers[(i + t) & 3];
                server.AddConnection(active: false);
                server.ChangeConnectionActivity(nowActive: true);
                PacketThread.Current = t + 2;
                server.AddConnection(active: true);
                server.RemoveConnection(active: true);
                server.AddPersistentConnection();
                PacketThread.Current = t;
                server.AddConnection(active: false);
                PacketThread.Current = t + 1;
                server.RemoveConnection(active: false);
            }

            moving.WorkerDone();
        })).ToArray();

        await Task.WhenAll([.. updaters, mover]);

        AssertCountsAllInTheCurrentBlock(servers, moving, Updaters * Iterations);

        // The first block's slots, left long ago, hold nothing in any plane: every plane was drained.
        foreach (var left in firstLocations)
        {
            Assert.Same(first, left.Block);
            for (int plane = 0; plane < RealServerLoadBlock.Planes; plane++)
            {
                Assert.Equal(0, PlaneCount(left, plane, RealServerLoadBlock.ActiveOffset));
                Assert.Equal(0, PlaneCount(left, plane, RealServerLoadBlock.InactiveOffset));
                Assert.Equal(0, PlaneCount(left, plane, RealServerLoadBlock.PersistentOffset));
            }
        }
    }

    /// <summary>
    /// Re-attaches the servers in alternating orders until every worker is done: the two orders never match the current
    /// block, so every attach moves all the servers.
    /// </summary>
    private sealed class Mover(RealServer[] servers, int workers)
    {
        private readonly RealServer[] _reversed = [.. servers.Reverse()];
        private int _running = workers;
        private int _moves;

        public int Moves => Volatile.Read(ref _moves);

        public Task Start() => Task.Run(
            () =>
            {
                while (Volatile.Read(ref _running) > 0)
                {
                    _ = RealServerLoadBlock.Attach((_moves & 1) == 0 ? servers : _reversed);
                    Volatile.Write(ref _moves, _moves + 1);
                }
            },
            TestContext.Current.CancellationToken);

        /// <summary>
        /// Waits until the mover has moved the servers once, so that a worker's updates overlap the moves: a worker
        /// started first could otherwise finish before the mover's thread got a processor (seen with more thread-pool
        /// threads than processors).
        /// </summary>
        public void WaitUntilMoving()
        {
            var wait = default(SpinWait);
            while (Moves == 0)
            {
                wait.SpinOnce();
            }
        }

        public void WorkerDone() => Interlocked.Decrement(ref _running);
    }
}
