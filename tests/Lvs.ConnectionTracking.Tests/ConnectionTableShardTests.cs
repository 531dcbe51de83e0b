using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>
/// The store's writer shards (issue 18): threads insert into different shards, while the indexes, duplicate checks,
/// templates, capacity and flood defence span them all.
/// </summary>
public class ConnectionTableShardTests
{
    /// <summary>Multipliers prime to 48: each thread adds a round's 48 keys in its own order.</summary>
    private static readonly int[] Orders = [1, 5, 7, 11];

    [Fact]
    public void ShardedInserts_SameKeysFromFourThreadsAtOnce_EachKeyAddedOnceAndCountsExact()
    {
        const int Threads = 4;
        const int Rounds = 300;
        const int PerRound = 48;
        var (table, _, clock, servers) = NewTable(capacity: 16_384, servers: 3, inboundCells: 2, writerShards: 4);
        var added = new int[Threads];
        int failed = 0;
        var handles = new ConnectionHandle[Threads][];
        using var barrier = new Barrier(Threads);
        var workers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var connections = new NewConnection[PerRound];
            var batchHandles = new ConnectionHandle[PerRound];
            var results = new AddConnectionResult[PerRound];
            handles[t] = new ConnectionHandle[Rounds * PerRound];
            for (int round = 0; round < Rounds; round++)
            {
                // Every thread adds the same keys at the same moment, half one by one and half in a batch, in different orders.
                for (int i = 0; i < PerRound; i++)
                {
                    int key = (round * PerRound) + ((i * Orders[t]) % PerRound);
                    int server = key % 3;
                    var method = server == 0 ? ForwardingMethod.DirectRouting : ForwardingMethod.Nat;
                    connections[i] = new NewConnection(Tcp(Client(key, (ushort)(1000 + (key % 7))), Virtual()), server, servers[server].Endpoint, method) { FirstPacket = TcpFlags.Syn };
                }

                barrier.SignalAndWait();
                if ((round + t) % 2 == 0)
                {
                    added[t] += table.TryAddBatch(connections, batchHandles, results);
                }
                else
                {
                    for (int i = 0; i < PerRound; i++)
                    {
                        results[i] = table.TryAdd(connections[i], out batchHandles[i]);
                        added[t] += results[i] == AddConnectionResult.Added ? 1 : 0;
                    }
                }

                for (int i = 0; i < PerRound; i++)
                {
                    if (results[i] is not (AddConnectionResult.Added or AddConnectionResult.Exists))
                    {
                        Interlocked.Increment(ref failed);
                    }

                    int key = (round * PerRound) + ((i * Orders[t]) % PerRound);
                    handles[t][key] = batchHandles[i];
                }
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        // Each key was added by exactly one thread, and every thread got that connection's handle.
        Assert.Equal(0, failed);
        Assert.Equal(Rounds * PerRound, added.Sum());
        Assert.Equal(Rounds * PerRound, table.Count);
        for (int key = 0; key < Rounds * PerRound; key++)
        {
            Assert.All(handles, h => Assert.Equal(handles[0][key], h[key]));
        }

        var live = table.Enumerate().ToList();
        Assert.Equal(live.Count, live.Select(c => (c.Client, c.Virtual)).Distinct().Count());
        Assert.Equal(Rounds * PerRound, live.Count);
        for (int s = 0; s < 3; s++)
        {
            Assert.Equal(live.Count(c => c.RealServer == s && c.IsActive), servers[s].ActiveConnections);
            Assert.Equal(live.Count(c => c.RealServer == s && !c.IsActive), servers[s].InactiveConnections);
        }

        // Every one is found from both sides, then all expire from every shard.
        foreach (var c in live)
        {
            Assert.True(table.TryGetInbound(Tcp(c.Client, c.Virtual), out _));
            Assert.True(c.Method == ForwardingMethod.DirectRouting || table.TryGetOutbound(Tcp(c.Destination, c.Client), out _));
        }

        table.Tick(clock, 1_000);
        Assert.Equal(0, table.Count);
        Assert.Equal(Rounds * PerRound, table.Expired);
        Assert.All(servers, s => Assert.Equal((0, 0), (s.ActiveConnections, s.InactiveConnections)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void ShardedChurn_ThreadsAddRemoveAndExpireOverlappingKeys_NoDuplicateLiveKeyAndCountersExact(int partitions)
    {
        const int Threads = 4;
        const int OpsPerThread = 150_000;
        var (table, _, clock, servers) = NewTable(capacity: 6_000, servers: 2, inboundCells: 1, writerShards: 4, timeouts: t => t.SetTcp(TcpConnectionState.SynRecv, 2), indexPartitions: partitions);
        using var stop = new CancellationTokenSource();
        var housekeeper = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                table.Tick(clock, 1);
                Thread.Sleep(1);
            }
        });
        var workers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            // Each thread a packet thread of its own, in partition t % partitions.
            PacketThread.Current = t;
            var random = new Random(t);
            for (int i = 0; i < OpsPerThread; i++)
            {
                // A key space a little larger than the table: adds race on the same keys, fill it, and shed.
                int client = random.Next(7_000);
                var key = Tcp(Client(client, 2000), Virtual());
                int server = client % 2;
                var flags = random.Next(3) == 0 ? TcpFlags.Ack : TcpFlags.Syn;
                var result = table.TryAdd(new NewConnection(key, server, servers[server].Endpoint, ForwardingMethod.Nat) { FirstPacket = flags }, out var handle);
                if (result is AddConnectionResult.Added or AddConnectionResult.Exists && random.Next(4) == 0)
                {
                    _ = table.Remove(handle);
                }

                if (i % 512 == 0)
                {
                    // As a packet worker does when it sees the tick move: its partition's expiry, racing housekeeping's
                    // (which takes the partition back whenever this thread falls a run behind).
                    _ = table.RunPacketThreadExpiry();
                }
            }
        })).ToList();
        housekeeper.Start();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        stop.Cancel();
        housekeeper.Join();

        var live = table.Enumerate().ToList();
        if (partitions == 1)
        {
            // Within one index the duplicate check is atomic. Across partitions two threads adding the same key at the
            // same moment may both add it (as the kernel's ip_vs_conn_new, which checks nothing; see
            // ConnectionStore.Partitions.cs): the rest of the test holds either way.
            Assert.Equal(live.Count, live.Select(c => c.Client).Distinct().Count());
        }

        Assert.Equal(table.Count, live.Count);
        for (int s = 0; s < 2; s++)
        {
            Assert.Equal(live.Count(c => c.RealServer == s && c.IsActive), servers[s].ActiveConnections);
            Assert.Equal(live.Count(c => c.RealServer == s && !c.IsActive), servers[s].InactiveConnections);
        }

        foreach (var c in live)
        {
            Assert.True(table.TryGetInbound(Tcp(c.Client, c.Virtual), out _));
            Assert.True(table.TryGetOutbound(Tcp(c.Destination, c.Client), out _));
        }

        table.Tick(clock, 1_000);
        if (partitions > 1)
        {
            // The workers expired their partitions themselves and are gone: housekeeping takes a partition back once its
            // threads have let a whole run pass (ConnectionTable.RunPacketThreadExpiry), so one run later.
            table.Tick(clock, 1);
        }

        Assert.Equal(0, table.Count);
        Assert.All(servers, s => Assert.Equal((0, 0), (s.ActiveConnections, s.InactiveConnections)));

        // Every slot of every shard is free again: the table takes its full capacity once more.
        for (int i = 0; i < 6_000; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(50_000 + i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Ack }, out _));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ShardedLookups_WhileOtherThreadsInsertAndRemove_NeverMissLiveConnection(int partitions)
    {
        var (table, _, _, servers) = NewTable(capacity: 8_192, servers: 1, inboundCells: 1, writerShards: 4, indexPartitions: partitions);
        PacketThread.Current = 0;
        var stable = Enumerable.Range(0, 1_000).Select(i => Tcp(Client(i), Virtual())).ToArray();
        var handles = new ConnectionHandle[stable.Length];
        for (int i = 0; i < stable.Length; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(stable[i], 0, servers[0].Endpoint, ForwardingMethod.Nat), out handles[i]));
        }

        using var stop = new CancellationTokenSource();
        var churn = Enumerable.Range(0, 3).Select(t => new Thread(() =>
        {
            // Packet threads 0, 1, 0: with two partitions the churn is in both, the stable connections (added by this
            // test's thread, packet thread 0) in the first, and the lookups below start in the second.
            PacketThread.Current = t % 2;
            int n = 0;
            var batch = new NewConnection[16];
            var batchHandles = new ConnectionHandle[16];
            var results = new AddConnectionResult[16];
            while (!stop.IsCancellationRequested)
            {
                // The same chains as the stable connections (one cell per bucket: nearly everything is in overflow chains).
                for (int i = 0; i < batch.Length; i++)
                {
                    batch[i] = new NewConnection(Tcp(Client(100_000 + (t * 10_000) + (n++ % 2_000)), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat);
                }

                _ = table.TryAddBatch(batch, batchHandles, results);
                for (int i = 0; i < batch.Length; i++)
                {
                    if (results[i] == AddConnectionResult.Added)
                    {
                        _ = table.Remove(batchHandles[i]);
                    }
                }
            }
        })).ToList();
        churn.ForEach(c => c.Start());
        int misses = 0;
        int wrong = 0;
        PacketThread.Current = 1;
        for (int round = 0; round < 200; round++)
        {
            for (int i = 0; i < stable.Length; i++)
            {
                if (!table.TryGetInbound(stable[i], out var h))
                {
                    misses++;
                }
                else if (h != handles[i])
                {
                    wrong++;
                }

                if (!table.TryGetOutbound(Tcp(servers[0].Endpoint, stable[i].Source), out var back) || back != handles[i])
                {
                    wrong++;
                }
            }
        }

        PacketThread.Current = 0;
        stop.Cancel();
        churn.ForEach(c => c.Join());
        Assert.Equal(0, misses);
        Assert.Equal(0, wrong);
    }

    [Fact]
    public void ShardedTable_OneThreadAdding_TakesSlotsOfEveryShard()
    {
        var (table, _, _, servers) = NewTable(capacity: 1_024, servers: 1, writerShards: 4);
        for (int i = 0; i < 1_024; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Ack }, out _));
        }

        Assert.Equal(1_024, table.Count);

        // Full: nothing to shed (fresh ESTABLISHED connections), so refused, as with one shard.
        Assert.Equal(AddConnectionResult.Full, table.TryAdd(new NewConnection(Tcp(Client(5_000), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Ack }, out _));
        Assert.Equal(1, table.Refused);
    }

    [Fact]
    public void ShardedTable_FullWithHalfOpenOnlyInOtherShards_FloodDefenceShedsThere()
    {
        var (table, _, _, servers) = NewTable(capacity: 1_024, servers: 1, writerShards: 4);

        // A thread fills one shard, then claims the next: the first three quarters go to three shards as SYN_RECV, which
        // flood defence drops at once, and the last quarter fills the shard the thread is on with ESTABLISHED
        // connections (never shed when fresh).
        for (int i = 0; i < 1_024; i++)
        {
            var flags = i < 768 ? TcpFlags.Syn : TcpFlags.Ack;
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = flags }, out _));
        }

        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(5_000), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Ack }, out var added));
        Assert.Equal(1, table.Shed);
        Assert.Equal(0, table.Refused);
        Assert.Equal(1_024, table.Count);
        Assert.True(table.TryGetInfo(added, out var info));
        Assert.Equal(Client(5_000), info.Client);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ShardedTemplates_ConnectionsAddedWhileTemplatesExpire_TemplateNeverEndsWhileControlling(int partitions)
    {
        const int Threads = 3;
        var (table, _, clock, servers) = NewTable(capacity: 8_192, servers: 1, writerShards: 4, indexPartitions: partitions);
        using var stop = new CancellationTokenSource();
        var housekeeper = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                table.Tick(clock, 2);
            }
        });
        int unexpected = 0;
        var workers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            // Templates added in one partition control connections of another (and a template's stripe lock is then
            // taken by an insert into the other partition).
            PacketThread.Current = t;
            var random = new Random(t);
            var held = new List<ConnectionHandle>();
            for (int i = 0; i < 60_000; i++)
            {
                // A few templates of one-second timeout, shared by all threads, expiring all the time.
                var key = new PersistenceKey(L4Protocol.Tcp, Client(random.Next(8)).Address, Virtual().Address, 80);
                if (!table.TryGetTemplate(key, out var template, out _)
                    && table.TryAddTemplate(key, 0, servers[0].Endpoint, 1, out template) is not (AddConnectionResult.Added or AddConnectionResult.Exists))
                {
                    continue;
                }

                var connection = new NewConnection(Tcp(Client(1_000 + (t * 100_000) + i, 3000), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { Template = template };
                var result = table.TryAdd(connection, out var handle);
                if (result == AddConnectionResult.Added)
                {
                    held.Add(handle);
                }
                else if (result != AddConnectionResult.Invalid)
                {
                    Interlocked.Increment(ref unexpected);
                }

                if (held.Count > 20)
                {
                    // Ended here or already expired (3 s before a first packet).
                    int at = random.Next(held.Count);
                    _ = table.Remove(held[at]);
                    held.RemoveAt(at);
                }
            }

            foreach (var h in held)
            {
                _ = table.Remove(h);
            }
        })).ToList();
        housekeeper.Start();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        stop.Cancel();
        housekeeper.Join();

        Assert.Equal(0, unexpected);

        // Had a template ended while a new connection took a reference to it, that connection's end would have taken
        // the reference from whatever reused the slot, and a template would stay forever (or end early).
        Assert.All(table.Enumerate(), c => Assert.True(c.IsTemplate));
        table.Tick(clock, 1_000);
        Assert.Equal(0, table.Count);
        Assert.Equal(0, servers[0].PersistentConnections);
        Assert.Equal((0, 0), (servers[0].ActiveConnections, servers[0].InactiveConnections));
    }
}
