using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>
/// The index partitions (ConnectionTableOptions.IndexPartitions, ConnectionStore.Partitions.cs): each packet thread adds
/// and expires its connections in a partition of its own, and every thread finds every connection.
/// </summary>
public sealed class ConnectionTablePartitionTests : IDisposable
{
    private const int Capacity = 8_192;
    private const int Shards = 4;

    public ConnectionTablePartitionTests() => PacketThread.Current = 0;

    public void Dispose() => PacketThread.Current = 0;

    [Theory]
    [InlineData(1, 4, 1)]
    [InlineData(2, 4, 2)]
    [InlineData(3, 4, 2)]
    [InlineData(4, 4, 4)]
    [InlineData(8, 4, 4)]
    [InlineData(2, 1, 1)]
    [InlineData(0, 4, 1)]
    public void IndexPartitions_RoundedDownToAPowerOfTwoAtMostTheShards(int requested, int shards, int expected)
    {
        var (table, _, _, _) = NewTable(capacity: Capacity, writerShards: shards, indexPartitions: requested);
        Assert.Equal(expected, table.IndexPartitions);
    }

    [Property(MaxTest = 500)]
    public Property PartitionOfLine_IsTheLineDividedByTheLinesPerPartition(PositiveInt linesSeed, NonNegativeInt lineSeed)
    {
        // Every size a store can have (at least 2 lines a partition, at most 16 partitions of lines that keep a probe,
        // line << 8, within an int), and every line of it.
        uint lines = 2 + (uint)(linesSeed.Get % ((1 << 19) - 2));
        int line = (int)((ulong)lineSeed.Get * 7919 % (16 * lines));
        return (ConnectionStore<Ipv4StoredAddress>.PartitionOfLine(line, ConnectionStore<Ipv4StoredAddress>.LineReciprocal(lines)) == (int)(line / lines))
            .Label($"lines {lines}, line {line}");
    }

    [Theory]
    [InlineData(2u)]
    [InlineData(3u)]
    [InlineData(630u)]
    [InlineData((1u << 19) - 1)]
    [InlineData(1u << 19)]
    public void PartitionOfLine_ExactAtEveryBlockBoundary(uint lines)
    {
        ulong reciprocal = ConnectionStore<Ipv4StoredAddress>.LineReciprocal(lines);
        for (int partition = 0; partition < 16; partition++)
        {
            int first = (int)(partition * lines);
            Assert.Equal(partition, ConnectionStore<Ipv4StoredAddress>.PartitionOfLine(first, reciprocal));
            Assert.Equal(partition, ConnectionStore<Ipv4StoredAddress>.PartitionOfLine(first + (int)lines - 1, reciprocal));
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(16)]
    public void EveryPartitionsBuckets_AreABlockOfLines_WithStripesOfItsOwn(int partitions)
    {
        // No line, nor the neighbour an adjacent-line prefetcher loads with it, holds two partitions' buckets (except at
        // the one boundary between blocks), and no stripe lock or version is shared by two partitions.
        var (table, _, _, _) = NewTable(capacity: 65_536, writerShards: 16, indexPartitions: partitions);
        var store = new ConnectionStore<Ipv4StoredAddress>(table, 65_536, isIPv6: false, randomSeed: 7, shards: 16, partitions: partitions);
        int lines = store.InboundLinesPerPartition;
        var random = new Random(11);
        for (int n = 0; n < 2_000; n++)
        {
            var client = Ipv4StoredAddress.From(InetAddress.FromIPv4((uint)random.Next()));
            var @virtual = Ipv4StoredAddress.From(InetAddress.FromIPv4(0x0A00_0001u));
            ushort port = (ushort)random.Next(1, 65_536);
            int home = random.Next(partitions);
            int probe = store.InboundProbe((byte)L4Protocol.Tcp, client, port, @virtual, 80, template: false, home);
            for (int partition = 0; partition < partitions; partition++)
            {
                int moved = store.InboundProbeIn(probe, home, partition);
                Assert.Equal(store.InboundProbe((byte)L4Protocol.Tcp, client, port, @virtual, 80, template: false, partition), moved);
                int line = moved >> 8;
                Assert.InRange(line, partition * lines, ((partition + 1) * lines) - 1);
                Assert.InRange(store.InboundStripe(line), partition * ConnectionStore<Ipv4StoredAddress>.StripesPerPartition, ((partition + 1) * ConnectionStore<Ipv4StoredAddress>.StripesPerPartition) - 1);
            }
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void EachPacketThread_AddsIntoShardsOfItsPartition_AndEveryThreadFindsEveryConnection(int partitions)
    {
        var (table, _, _, servers) = NewTable(capacity: Capacity, servers: 2, writerShards: Shards, indexPartitions: partitions);
        var keys = new FlowKey[partitions][];
        var handles = new ConnectionHandle[partitions][];
        for (int thread = 0; thread < partitions; thread++)
        {
            PacketThread.Current = thread;
            keys[thread] = [.. Enumerable.Range(0, 300).Select(i => Tcp(Client((thread * 1_000) + i), Virtual()))];
            handles[thread] = new ConnectionHandle[300];
            for (int i = 0; i < 300; i++)
            {
                var method = i % 2 == 0 ? ForwardingMethod.Nat : ForwardingMethod.DirectRouting;
                Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(keys[thread][i], i % 2, servers[i % 2].Endpoint, method) { FirstPacket = TcpFlags.Syn }, out handles[thread][i]));

                // The slot is in a shard of the thread's partition (shard k is in partition k % partitions).
                Assert.Equal(thread, (handles[thread][i].Index / (Capacity / Shards)) % partitions);
            }
        }

        var batchHandles = new ConnectionHandle[300];
        for (int finder = 0; finder < partitions; finder++)
        {
            PacketThread.Current = finder;
            for (int thread = 0; thread < partitions; thread++)
            {
                for (int i = 0; i < 300; i++)
                {
                    Assert.True(table.TryGetInbound(keys[thread][i], out var found));
                    Assert.Equal(handles[thread][i], found);
                    if (i % 2 == 0)
                    {
                        Assert.True(table.TryGetOutbound(Tcp(servers[0].Endpoint, keys[thread][i].Source), out var back));
                        Assert.Equal(handles[thread][i], back);
                    }

                    // A key live in another partition is not added again.
                    Assert.Equal(AddConnectionResult.Exists, table.TryAdd(new NewConnection(keys[thread][i], 0, servers[0].Endpoint, ForwardingMethod.Nat), out var existing));
                    Assert.Equal(handles[thread][i], existing);
                }

                Assert.Equal(300, table.TryGetInboundBatch(keys[thread], batchHandles));
                Assert.Equal(handles[thread], batchHandles);
                var replies = keys[thread].Where((_, i) => i % 2 == 0).Select(k => Tcp(servers[0].Endpoint, k.Source)).ToArray();
                Assert.Equal(150, table.TryGetOutboundBatch(replies, batchHandles));
                Assert.Equal(handles[thread].Where((_, i) => i % 2 == 0), batchHandles.Take(150));
            }
        }

        Assert.Equal(300 * partitions, table.Count);
        // SYN_RECV counts as active (the kernel's tcp_state_active_table).
        Assert.Equal(150 * partitions, servers[0].ActiveConnections);
        Assert.Equal(150 * partitions, servers[1].ActiveConnections);

        // Removed from another thread than the one that added it: gone from every thread's view.
        PacketThread.Current = partitions - 1;
        Assert.True(table.Remove(handles[0][0]));
        for (int finder = 0; finder < partitions; finder++)
        {
            PacketThread.Current = finder;
            Assert.False(table.TryGetInbound(keys[0][0], out _));
            Assert.False(table.TryGetOutbound(Tcp(servers[0].Endpoint, keys[0][0].Source), out _));
        }
    }

    [Fact]
    public void IPv6StoreReservedOnFirstUse_HasThePartitionsToo()
    {
        // No IPv6 capacity set: the IPv6 store (1,024 slots, 4 shards of 256) is reserved by the first IPv6 add.
        var registry = new RealServerRegistry();
        var server = new RealServer(new InetEndpoint(InetAddress.Parse("2001:db8:1::10"), 8080), 1, ForwardingMethod.Nat);
        Assert.Equal(0, registry.Register(server));
        var table = new ConnectionTable(new ConnectionTableOptions { Capacity = 8_192, WriterShards = Shards, IndexPartitions = 2 }, registry);
        Assert.False(table.IsIPv6Reserved);
        var virtualEndpoint = new InetEndpoint(InetAddress.Parse("2001:db8::100"), 80);
        var handles = new ConnectionHandle[2][];
        for (int thread = 0; thread < 2; thread++)
        {
            PacketThread.Current = thread;
            handles[thread] = new ConnectionHandle[100];
            for (int i = 0; i < 100; i++)
            {
                var client = new InetEndpoint(InetAddress.Parse($"2001:db8:9::{(thread * 1000) + i + 1:x}"), 40000);
                Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(client, virtualEndpoint), 0, server.Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out handles[thread][i]));
                Assert.Equal(thread, (handles[thread][i].Index / 256) % 2);
            }
        }

        PacketThread.Current = 1;
        Assert.True(table.TryGetInbound(Tcp(new InetEndpoint(InetAddress.Parse("2001:db8:9::1"), 40000), virtualEndpoint), out var found));
        Assert.Equal(handles[0][0], found);
    }

    [Fact]
    public void Templates_AddedByOneThread_FoundAndHonouredByAnother()
    {
        var (table, _, _, servers) = NewTable(capacity: Capacity, servers: 2, writerShards: Shards, indexPartitions: 2);
        var key = new PersistenceKey(L4Protocol.Tcp, Client(7).Address, Virtual().Address, 80);
        PacketThread.Current = 0;
        Assert.Equal(AddConnectionResult.Added, table.TryAddTemplate(key, 1, servers[1].Endpoint, 300, out var template));
        PacketThread.Current = 1;
        Assert.True(table.TryGetTemplate(key, out var found, out int server));
        Assert.Equal((template, 1), (found, server));
        Assert.Equal(AddConnectionResult.Exists, table.TryAddTemplate(key, 0, servers[0].Endpoint, 300, out var again));
        Assert.Equal(template, again);

        // A connection of the other partition placed by the template holds it.
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(7, 5000), Virtual()), 1, servers[1].Endpoint, ForwardingMethod.Nat) { Template = template }, out var connection));
        Assert.False(table.Remove(template));
        Assert.True(table.Remove(connection));
        Assert.True(table.Remove(template));
        Assert.Equal(0, servers[1].PersistentConnections);
    }

    [Fact]
    public void PacketThreadExpiry_ExpiresItsOwnPartition_AndHousekeepingTakesOverWhenTheThreadGoesQuiet()
    {
        var (table, _, clock, servers) = NewTable(capacity: Capacity, servers: 1, writerShards: Shards, indexPartitions: 2, timeouts: t => t.SetTcp(TcpConnectionState.SynRecv, 5));
        ConnectionHandle Add(int thread, int client)
        {
            PacketThread.Current = thread;
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(client), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var handle));
            return handle;
        }

        bool Live(ConnectionHandle handle) => table.TryGetInfo(handle, out _);

        // Packet thread 0 expires its partition; packet thread 1 never does, so housekeeping expires that one.
        PacketThread.Current = 0;
        Assert.Equal(0, table.RunPacketThreadExpiry());
        var first = Add(0, 1);
        var other = Add(1, 2);
        table.Tick(clock, 10);
        Assert.True(Live(first));
        Assert.False(Live(other));

        // On the thread's next call, at the new tick.
        PacketThread.Current = 0;
        Assert.Equal(1, table.RunPacketThreadExpiry());
        Assert.False(Live(first));
        Assert.Equal(0, table.RunPacketThreadExpiry());

        // Quiet for a whole housekeeping run: housekeeping expires the partition again.
        var second = Add(0, 3);
        table.Tick(clock, 10);
        Assert.True(Live(second));
        table.Tick(clock, 1);
        Assert.False(Live(second));
        Assert.Equal(0, table.Count);
        Assert.Equal(3, table.Expired);
        Assert.Equal((0, 0), (servers[0].ActiveConnections, servers[0].InactiveConnections));
    }

    [Fact]
    public void OnePartition_PacketThreadExpiryDoesNothing_HousekeepingExpiresEverything()
    {
        var (table, _, clock, servers) = NewTable(capacity: Capacity, servers: 1, writerShards: Shards, timeouts: t => t.SetTcp(TcpConnectionState.SynRecv, 5));
        PacketThread.Current = 1;
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out _));
        Assert.Equal(0, table.RunPacketThreadExpiry());
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(1, table.RunHousekeeping());
        Assert.Equal(0, table.RunPacketThreadExpiry());
    }

    [Fact]
    public void PartitionFull_ThreadTakesSlotsOfAnotherPartition_FoundAndRemovedThere()
    {
        // Two partitions of 512 slots each; thread 0 adds 700 connections: the last 188 go to the other partition's shards.
        var (table, _, _, servers) = NewTable(capacity: 1_024, servers: 1, writerShards: Shards, indexPartitions: 2);
        PacketThread.Current = 0;
        var handles = new ConnectionHandle[700];
        for (int i = 0; i < 700; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Ack }, out handles[i]));
        }

        Assert.Equal(188, handles.Count(h => (h.Index / 256) % 2 == 1));
        for (int finder = 0; finder < 2; finder++)
        {
            PacketThread.Current = finder;
            for (int i = 0; i < 700; i++)
            {
                Assert.True(table.TryGetInbound(Tcp(Client(i), Virtual()), out var found));
                Assert.Equal(handles[i], found);
            }
        }

        foreach (var handle in handles)
        {
            Assert.True(table.Remove(handle));
        }

        Assert.Equal(0, table.Count);
        Assert.Equal(0, servers[0].ActiveConnections);
    }

    /// <summary>
    /// A model: random adds, lookups (one by one and batched, inbound and outbound), removals and expiries, each made
    /// as a random packet thread of a partitioned table, against a dictionary of live keys. Single-threaded, so every
    /// key stays unique across the partitions.
    /// </summary>
    [FsCheck.Xunit.Property(MaxTest = 60)]
    public Property RandomOperationsFromRandomPacketThreads_AgreeWithAModel()
    {
        var operation = Gen.Choose(0, 99).Zip(Gen.Choose(0, 3)).Zip(Gen.Choose(0, 59)).Select(t => (Kind: t.Item1.Item1, Thread: t.Item1.Item2, Key: t.Item2));
        return Prop.ForAll(Gen.ListOf(operation).Select(l => l.ToArray()).ToArbitrary(), operations =>
        {
            var (table, _, clock, servers) = NewTable(capacity: 1_024, servers: 2, writerShards: Shards, indexPartitions: 4, inboundCells: 1, timeouts: t => t.SetTcp(TcpConnectionState.SynRecv, 3));
            var model = new Dictionary<int, (ConnectionHandle Handle, long Expires)>();
            long now = 0;
            FlowKey KeyOf(int key) => Tcp(Client(key, (ushort)(1000 + key)), Virtual());
            void Expired() => table.ForgetEnded(model, now, live => (live.Handle, live.Expires));

            try
            {
                foreach (var (kind, thread, key) in operations)
                {
                    PacketThread.Current = thread;
                    if (kind < 40)
                    {
                        var result = table.TryAdd(new NewConnection(KeyOf(key), key % 2, servers[key % 2].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var handle);
                        if (model.TryGetValue(key, out var live))
                        {
                            Assert.Equal(AddConnectionResult.Exists, result);
                            Assert.Equal(live.Handle, handle);
                            model[key] = (handle, now + 3); // the SYN processed again re-arms it
                        }
                        else
                        {
                            Assert.Equal(AddConnectionResult.Added, result);
                            model[key] = (handle, now + 3);
                        }
                    }
                    else if (kind < 60)
                    {
                        Assert.Equal(model.ContainsKey(key), table.TryGetInbound(KeyOf(key), out var found));
                        Assert.Equal(model.ContainsKey(key), table.TryGetOutbound(Tcp(servers[key % 2].Endpoint, KeyOf(key).Source), out var back));
                        if (model.TryGetValue(key, out var live))
                        {
                            Assert.Equal((live.Handle, live.Handle), (found, back));
                        }
                    }
                    else if (kind < 70)
                    {
                        var batch = Enumerable.Range(0, 60).Select(KeyOf).ToArray();
                        var handles = new ConnectionHandle[60];
                        Assert.Equal(model.Count, table.TryGetInboundBatch(batch, handles));
                        for (int k = 0; k < 60; k++)
                        {
                            Assert.Equal(model.TryGetValue(k, out var live) ? live.Handle : default, handles[k]);
                        }

                        var replies = Enumerable.Range(0, 60).Select(k => Tcp(servers[k % 2].Endpoint, KeyOf(k).Source)).ToArray();
                        Assert.Equal(model.Count, table.TryGetOutboundBatch(replies, handles));
                    }
                    else if (kind < 85)
                    {
                        if (model.Remove(key, out var live))
                        {
                            Assert.True(table.Remove(live.Handle));
                        }
                    }
                    else if (kind < 93)
                    {
                        // This thread expires its partition (housekeeping then leaves it to the thread while it keeps up).
                        _ = table.RunPacketThreadExpiry();
                        Expired();
                    }
                    else
                    {
                        // A second passes. What is due may be expired now or, in a partition a packet thread keeps, on its
                        // next call or a later housekeeping run; either way never before its time.
                        now++;
                        table.Tick(clock, 1);
                        Expired();
                    }

                    Assert.Equal(model.Count, table.Count);
                    Assert.Equal(model.Count(m => m.Key % 2 == 0), servers[0].ActiveConnections);
                    Assert.Equal(model.Count(m => m.Key % 2 == 1), servers[1].ActiveConnections);
                }

                // Whatever is left ends: housekeeping takes over the partitions whose threads went quiet.
                table.Tick(clock, 100);
                table.Tick(clock, 100);
                Assert.Equal(0, table.Count);
                Assert.Equal(0, servers[0].ActiveConnections + servers[1].ActiveConnections);
            }
            finally
            {
                PacketThread.Current = 0;
            }
        });
    }
}
