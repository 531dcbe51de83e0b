namespace Lvs.Core.Tests;

public class RealServerLoadBlockTests
{
    private static RealServer Server(int index, int weight = 1) =>
        new(new InetEndpoint(InetAddress.FromIPv4(10, 0, (byte)(index >> 8), (byte)index), 80), weight);

    private static int[] SlotOf(RealServerLoadBlock block, int index) =>
        block.Slots.Slice(index * RealServerLoadBlock.SlotLength, RealServerLoadBlock.SlotLength).ToArray();

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
        Assert.True(moving.Moves > 10, $"only {moving.Moves} moves");
        Assert.Equal(Updaters * Iterations, servers.Sum(s => s.ActiveConnections));
        Assert.Equal(Updaters * Iterations, servers.Sum(s => s.PersistentConnections));
        Assert.All(servers, s => Assert.Equal(0, s.InactiveConnections));
        Assert.All(servers, s => Assert.Equal(Updaters * Iterations / 4, s.ActiveConnections));

        // The counts are all in the current block; the slots of the blocks left behind are empty.
        var block = RealServerLoadBlock.Attach(servers);
        for (int i = 0; i < servers.Length; i++)
        {
            Assert.Equal(servers[i].ActiveConnections, SlotOf(block, i)[RealServerLoadBlock.ActiveOffset]);
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
            for (int i = 0; i < 100_000; i++)
            {
                servers[i & 3].Weight = 1 + (i % 17);
                servers[(i + 1) & 3].IsAvailable = (i & 4) == 0;
            }

            moving.WorkerDone();
        }, TestContext.Current.CancellationToken);
        var overloads = Task.Run(() =>
        {
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

    /// <summary>
    /// Re-attaches the servers in alternating orders until every worker is done: the two orders never match the current
    /// block, so every attach moves all the servers.
    /// </summary>
    private sealed class Mover(RealServer[] servers, int workers)
    {
        private readonly RealServer[] _reversed = [.. servers.Reverse()];
        private int _running = workers;

        public int Moves { get; private set; }

        public Task Start() => Task.Run(
            () =>
            {
                while (Volatile.Read(ref _running) > 0)
                {
                    _ = RealServerLoadBlock.Attach((Moves & 1) == 0 ? servers : _reversed);
                    Moves++;
                }
            },
            TestContext.Current.CancellationToken);

        public void WorkerDone() => Interlocked.Decrement(ref _running);
    }
}
