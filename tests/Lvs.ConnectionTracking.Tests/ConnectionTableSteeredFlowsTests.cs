using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>
/// Steered flows (ConnectionTableOptions.SteeredFlows): with index partitions, a client packet's batched lookup looks in
/// its thread's partition and in those holding connections for any thread (added without their first packet, or
/// spilled into another partition than their thread's), and nowhere else; every other lookup looks everywhere.
/// </summary>
public sealed class ConnectionTableSteeredFlowsTests : IDisposable
{
    private const int Shards = 4;

    public ConnectionTableSteeredFlowsTests() => PacketThread.Current = 0;

    public void Dispose() => PacketThread.Current = 0;

    /// <summary>What a client packet's batched lookup on the calling thread finds for <paramref name="key"/> (none: the default handle), its count checked against it.</summary>
    private static ConnectionHandle Batched(ConnectionTable table, FlowKey key)
    {
        var handles = new ConnectionHandle[1];
        int found = table.TryGetInboundBatch([key], handles);
        Assert.Equal(handles[0].IsSome ? 1 : 0, found);
        return handles[0];
    }

    [Fact]
    public void ClientPacketsBatchedLookup_StaysInItsThreadsPartition_OtherLookupsLookEverywhere()
    {
        var (table, _, _, servers) = NewTable(capacity: 8_192, writerShards: Shards, indexPartitions: 2, steeredFlows: true);
        var key = Tcp(Client(1), Virtual());
        PacketThread.Current = 0;
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(key, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var added));
        Assert.Equal(0, table.AnywhereConnections(0));
        Assert.Equal(added, Batched(table, key));

        // Thread 1 never receives this flow's client packets, so its batched lookups do not look in partition 0; its
        // one-by-one lookups (ICMP errors, the API) and reply lookups do.
        PacketThread.Current = 1;
        Assert.Equal(default, Batched(table, key));
        Assert.True(table.TryGetInbound(key, out var found));
        Assert.Equal(added, found);
        var reply = Tcp(servers[0].Endpoint, key.Source);
        Assert.True(table.TryGetOutbound(reply, out var back));
        Assert.Equal(added, back);
        var handles = new ConnectionHandle[1];
        Assert.Equal(1, table.TryGetOutboundBatch([reply], handles));
        Assert.Equal(added, handles[0]);

        // Were the flow to move to thread 1 after all (its steering changed), its SYN there starts a connection of its own
        // (the documented deviation); each thread's client packets then find their thread's.
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(key, 1, servers[1].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var second));
        Assert.NotEqual(added, second);
        Assert.Equal(2, table.Count);
        Assert.Equal(second, Batched(table, key));
        PacketThread.Current = 0;
        Assert.Equal(added, Batched(table, key));
    }

    [Fact]
    public void WithoutSteering_TheSameLookupFindsTheOtherThreadsConnection_AndTheAddFindsIt()
    {
        var (table, _, _, servers) = NewTable(capacity: 8_192, writerShards: Shards, indexPartitions: 2, steeredFlows: false);
        var key = Tcp(Client(1), Virtual());
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(key, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var added));
        PacketThread.Current = 1;
        Assert.Equal(added, Batched(table, key));
        Assert.Equal(AddConnectionResult.Exists, table.TryAdd(new NewConnection(key, 1, servers[1].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var existing));
        Assert.Equal(added, existing);
    }

    [Fact]
    public void ConnectionAddedWithoutItsFirstPacket_IsFoundFromEveryThread_UntilItEnds()
    {
        // A helper's expected connection (an FTP data connection): its packets may reach any thread.
        var (table, _, clock, servers) = NewTable(capacity: 8_192, writerShards: Shards, indexPartitions: 2, steeredFlows: true);
        var key = Tcp(Client(7, 20), Virtual(0, 2121));
        PacketThread.Current = 0;
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(key, 0, servers[0].Endpoint, ForwardingMethod.Nat), out var expected));
        Assert.Equal(1, table.AnywhereConnections(0));
        PacketThread.Current = 1;
        Assert.Equal(expected, Batched(table, key));

        // Its first packet reaches thread 1: the add finds it, and the packet is processed on it.
        Assert.Equal(AddConnectionResult.Exists, table.TryAdd(new NewConnection(key, 1, servers[1].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var existing));
        Assert.Equal(expected, existing);
        Assert.True(table.TryGetInfo(expected, out var info));
        Assert.Equal(TcpConnectionState.SynRecv, info.TcpState);

        // Still marked once seen (its flow's packets reach thread 1, its slot is in partition 0), until it ends.
        Assert.Equal(expected, Batched(table, key));
        Assert.True(table.Remove(expected));
        Assert.Equal(0, table.AnywhereConnections(0));
        Assert.Equal(default, Batched(table, key));

        // And when it expires.
        PacketThread.Current = 0;
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(key, 0, servers[0].Endpoint, ForwardingMethod.Nat), out _));
        Assert.Equal(1, table.AnywhereConnections(0));
        table.Tick(clock, 1_000);
        table.Tick(clock, 1_000);
        Assert.Equal(0, table.Count);
        Assert.Equal(0, table.AnywhereConnections(0));
    }

    [Fact]
    public void ConnectionsSpilledIntoAnotherPartition_AreFoundByTheirThread()
    {
        // 8,192 slots in 4 shards of 2,048: partition 0 has shards 0 and 2, 4,096 slots. Thread 0 adds more.
        var (table, _, _, servers) = NewTable(capacity: 8_192, writerShards: Shards, indexPartitions: 2, steeredFlows: true);
        PacketThread.Current = 0;
        var keys = Enumerable.Range(0, 4_096 + 40).Select(i => Tcp(Client(i + 1), Virtual())).ToArray();
        var added = new ConnectionHandle[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(keys[i], 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out added[i]));
        }

        Assert.Equal(0, table.AnywhereConnections(0));
        Assert.Equal(40, table.AnywhereConnections(1));
        var handles = new ConnectionHandle[keys.Length];
        Assert.Equal(keys.Length, table.TryGetInboundBatch(keys, handles));
        Assert.Equal(added, handles);
        Assert.Equal(AddConnectionResult.Exists, table.TryAdd(new NewConnection(keys[^1], 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Ack }, out var again));
        Assert.Equal(added[^1], again);
        foreach (var handle in added[^40..])
        {
            Assert.True(table.Remove(handle));
        }

        Assert.Equal(0, table.AnywhereConnections(1));
    }

    [Fact]
    public void ControllingConnectionMarkedForAnyThread_StillEndsOnlyWhenItControlsNothing()
    {
        var (table, _, _, servers) = NewTable(capacity: 8_192, writerShards: Shards, indexPartitions: 2, steeredFlows: true);
        PacketThread.Current = 0;
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(1, 40000), Virtual(0, 21)), 0, servers[0].Endpoint, ForwardingMethod.Nat), out var control));
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(1, 40001), Virtual(0, 2121)), 0, servers[0].Endpoint, ForwardingMethod.Nat) { Control = control }, out var data));
        Assert.Equal(2, table.AnywhereConnections(0));
        Assert.False(table.Remove(control));
        Assert.True(table.Remove(data));
        Assert.True(table.Remove(control));
        Assert.Equal(0, table.AnywhereConnections(0));
    }

    [Fact]
    public void SteeredLookups_WhileOtherThreadsChurn_NeverMissTheThreadsFlowsNorConnectionsForAnyThread()
    {
        // One cell per bucket: nearly everything is in overflow chains, whose walks the churn changes under the lookups.
        var (table, _, _, servers) = NewTable(capacity: 8_192, servers: 1, inboundCells: 1, writerShards: Shards, indexPartitions: 2, steeredFlows: true);
        PacketThread.Current = 0;
        var own = Enumerable.Range(0, 1_000).Select(i => Tcp(Client(i), Virtual())).ToArray();
        var expected = Enumerable.Range(0, 200).Select(i => Tcp(Client(50_000 + i), Virtual())).ToArray();
        var keys = own.Concat(expected).ToArray();
        var handles = new ConnectionHandle[keys.Length];
        for (int i = 0; i < own.Length; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(own[i], 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out handles[i]));
        }

        PacketThread.Current = 1;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(expected[i], 0, servers[0].Endpoint, ForwardingMethod.Nat), out handles[own.Length + i]));
        }

        Assert.Equal(expected.Length, table.AnywhereConnections(1));
        using var stop = new CancellationTokenSource();
        var churn = Enumerable.Range(0, 3).Select(t => new Thread(() =>
        {
            // Packet threads 0, 1, 1: flows of their own (with their first packet) and connections for any thread
            // (without), added and removed, so both partitions' chains and their counts of the latter keep changing.
            PacketThread.Current = t == 0 ? 0 : 1;
            int n = 0;
            var handle = new ConnectionHandle[1];
            while (!stop.IsCancellationRequested)
            {
                var key = Tcp(Client(100_000 + (t * 10_000) + (n % 2_000)), Virtual());
                var connection = new NewConnection(key, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = n % 2 == 0 ? TcpFlags.Syn : null };
                n++;
                if (table.TryAdd(connection, out handle[0]) == AddConnectionResult.Added)
                {
                    _ = table.Remove(handle[0]);
                }
            }
        })).ToList();
        churn.ForEach(c => c.Start());
        int misses = 0;
        int wrong = 0;
        PacketThread.Current = 0;
        var found = new ConnectionHandle[keys.Length];
        for (int round = 0; round < 200; round++)
        {
            misses += keys.Length - table.TryGetInboundBatch(keys, found);
            wrong += found.Where((h, i) => h.IsSome && h != handles[i]).Count();
            for (int i = 0; i < keys.Length; i += 7)
            {
                if (!table.TryGetInboundSteered(keys[i], out var h))
                {
                    misses++;
                }
                else if (h != handles[i])
                {
                    wrong++;
                }
            }
        }

        stop.Cancel();
        churn.ForEach(c => c.Join());
        Assert.Equal(0, misses);
        Assert.Equal(0, wrong);
        Assert.Equal(expected.Length, table.AnywhereConnections(1));
        Assert.Equal(0, table.AnywhereConnections(0));
    }

    /// <summary>
    /// A model: keys 0-39 are flows steered to thread key % 4 (their adds and batched lookups come from it, with their
    /// first packet); keys 40-59 are also added without a packet (expected connections) from any thread, and then
    /// found from every thread. Lookups one by one and replies come from any thread. Against a dictionary of live keys.
    /// </summary>
    [FsCheck.Xunit.Property(MaxTest = 60)]
    public Property SteeredFlowsFromRandomThreads_AgreeWithAModel()
    {
        var operation = Gen.Choose(0, 99).Zip(Gen.Choose(0, 3)).Zip(Gen.Choose(0, 59)).Select(t => (Kind: t.Item1.Item1, Thread: t.Item1.Item2, Key: t.Item2));
        return Prop.ForAll(Gen.ListOf(operation).Select(l => l.ToArray()).ToArbitrary(), operations =>
        {
            var (table, _, clock, servers) = NewTable(capacity: 1_024, servers: 2, writerShards: Shards, indexPartitions: 4, inboundCells: 1, steeredFlows: true, timeouts: t =>
            {
                t.SetTcp(TcpConnectionState.SynRecv, 3);
                t.SetTcp(TcpConnectionState.None, 3);
            });
            var model = new Dictionary<int, (ConnectionHandle Handle, long Expires, bool Anywhere)>();
            long now = 0;
            FlowKey KeyOf(int key) => Tcp(Client(key, (ushort)(1000 + key)), Virtual());
            void Expired() => table.ForgetEnded(model, now, live => (live.Handle, live.Expires));

            try
            {
                foreach (var (kind, thread, key) in operations)
                {
                    if (kind < 30)
                    {
                        // The flow's packet, on its thread.
                        PacketThread.Current = key % 4;
                        var result = table.TryAdd(new NewConnection(KeyOf(key), key % 2, servers[key % 2].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var handle);
                        bool live = model.TryGetValue(key, out var known);
                        Assert.Equal(live ? AddConnectionResult.Exists : AddConnectionResult.Added, result);
                        Assert.Equal(live ? known.Handle : handle, handle);
                        model[key] = (handle, now + 3, live && known.Anywhere);
                    }
                    else if (kind < 40 && key >= 40)
                    {
                        // An expected connection, added by any thread without a packet.
                        PacketThread.Current = thread;
                        var result = table.TryAdd(new NewConnection(KeyOf(key), key % 2, servers[key % 2].Endpoint, ForwardingMethod.Nat), out var handle);
                        bool live = model.TryGetValue(key, out var known);
                        Assert.Equal(live ? AddConnectionResult.Exists : AddConnectionResult.Added, result);
                        if (!live)
                        {
                            model[key] = (handle, now + 3, true);
                        }
                    }
                    else if (kind < 55)
                    {
                        PacketThread.Current = thread;
                        Assert.Equal(model.ContainsKey(key), table.TryGetInbound(KeyOf(key), out var found));
                        Assert.Equal(model.ContainsKey(key), table.TryGetOutbound(Tcp(servers[key % 2].Endpoint, KeyOf(key).Source), out var back));
                        if (model.TryGetValue(key, out var live))
                        {
                            Assert.Equal((live.Handle, live.Handle), (found, back));
                        }
                    }
                    else if (kind < 70)
                    {
                        // A batch of the thread's own flows and of the expected ones.
                        PacketThread.Current = thread;
                        var keys = Enumerable.Range(0, 60).Where(k => k % 4 == thread || (k >= 40 && model.TryGetValue(k, out var m) && m.Anywhere)).ToArray();
                        var handles = new ConnectionHandle[keys.Length];
                        Assert.Equal(keys.Count(model.ContainsKey), table.TryGetInboundBatch([.. keys.Select(KeyOf)], handles));
                        for (int k = 0; k < keys.Length; k++)
                        {
                            Assert.Equal(model.TryGetValue(keys[k], out var live) ? live.Handle : default, handles[k]);
                        }
                    }
                    else if (kind < 85)
                    {
                        PacketThread.Current = thread;
                        if (model.Remove(key, out var live))
                        {
                            Assert.True(table.Remove(live.Handle));
                        }
                    }
                    else if (kind < 93)
                    {
                        PacketThread.Current = thread;
                        _ = table.RunPacketThreadExpiry();
                        Expired();
                    }
                    else
                    {
                        now++;
                        table.Tick(clock, 1);
                        Expired();
                    }

                    Assert.Equal(model.Count, table.Count);
                    Assert.Equal(model.Count(m => m.Value.Anywhere), Enumerable.Range(0, 4).Sum(table.AnywhereConnections));
                }

                table.Tick(clock, 100);
                table.Tick(clock, 100);
                Assert.Equal(0, table.Count);
                Assert.Equal(0, Enumerable.Range(0, 4).Sum(table.AnywhereConnections));
            }
            finally
            {
                PacketThread.Current = 0;
            }
        });
    }
}
