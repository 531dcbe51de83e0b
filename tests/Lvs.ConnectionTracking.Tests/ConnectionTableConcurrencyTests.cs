using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

public class ConnectionTableConcurrencyTests
{
    [Fact]
    public void PacketThreadsAndHousekeeping_Concurrently_CountersExactAtEnd()
    {
        const int Servers = 4;
        const int Threads = 3;
        const int OpsPerThread = 200_000;
        var (table, _, clock, servers) = NewTable(capacity: 50_000, servers: Servers, timeouts: t =>
        {
            t.SetIpvsadm(20, 5, 5);
            t.SetTcp(TcpConnectionState.SynRecv, 3);
        });
        TcpFlags[] flags = [TcpFlags.Syn, TcpFlags.Ack, TcpFlags.Ack, TcpFlags.Fin, TcpFlags.Rst, TcpFlags.Syn | TcpFlags.Ack];
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
            var random = new Random(t);
            for (int i = 0; i < OpsPerThread; i++)
            {
                // Half the keys are shared by all threads, so adds, updates and removals race on the same connections.
                int client = random.Next(2) == 0 ? random.Next(2_000) : 10_000 + (t * 100_000) + random.Next(20_000);
                var key = Tcp(Client(client, (ushort)(1000 + random.Next(4))), Virtual());
                int server = client % Servers;
                var method = server % 2 == 0 ? ForwardingMethod.Nat : ForwardingMethod.DirectRouting;
                if (!table.TryGetInbound(key, out var handle))
                {
                    if (table.TryAdd(new NewConnection(key, server, servers[server].Endpoint, method), out handle) is not (AddConnectionResult.Added or AddConnectionResult.Exists))
                    {
                        continue;
                    }
                }

                int action = random.Next(20);
                if (action == 0)
                {
                    _ = table.Remove(handle);
                }
                else if (action < 4 && method == ForwardingMethod.Nat && table.TryGetOutbound(Tcp(servers[server].Endpoint, key.Source), out var reply))
                {
                    _ = table.Update(reply, PacketDirection.Outbound, flags[random.Next(flags.Length)]);
                }
                else
                {
                    _ = table.Update(handle, PacketDirection.Inbound, flags[random.Next(flags.Length)]);
                }
            }
        })).ToList();

        housekeeper.Start();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        stop.Cancel();
        housekeeper.Join();

        var live = table.Enumerate().ToList();
        Assert.Equal(table.Count, live.Count);
        Assert.True(live.Count > 0);
        for (int s = 0; s < Servers; s++)
        {
            Assert.Equal(live.Count(c => c.RealServer == s && c.IsActive), servers[s].ActiveConnections);
            Assert.Equal(live.Count(c => c.RealServer == s && !c.IsActive), servers[s].InactiveConnections);
        }

        // Every remaining connection is still findable from the client side, and then everything expires.
        foreach (var c in live)
        {
            Assert.True(table.TryGetInbound(Tcp(c.Client, c.Virtual), out _));
        }

        table.Tick(clock, 1_000);
        Assert.Equal(0, table.Count);
        Assert.All(servers, s => Assert.Equal((0, 0), (s.ActiveConnections, s.InactiveConnections)));
    }

    /// <param name="inboundCells">15: connections in bucket cells; 1: nearly all in overflow chains, where a reader walks links that removals rewrite.</param>
    [Theory]
    [InlineData(15)]
    [InlineData(1)]
    public void Lookups_WhileSlotsAreReused_NeverMissLiveConnectionNorReturnWrongOne(int inboundCells)
    {
        var (table, _, _, servers) = NewTable(capacity: 4_096, servers: 1, inboundCells: inboundCells);
        var stable = Enumerable.Range(0, 1_000).Select(i => Tcp(Client(i), Virtual())).ToArray();
        var handles = new ConnectionHandle[stable.Length];
        for (int i = 0; i < stable.Length; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(stable[i], 0, servers[0].Endpoint, ForwardingMethod.Nat), out handles[i]));
        }

        using var stop = new CancellationTokenSource();
        var churn = new Thread(() =>
        {
            int n = 0;
            while (!stop.IsCancellationRequested)
            {
                var key = Tcp(Client(100_000 + (n++ % 2_500)), Virtual());
                if (table.TryAdd(new NewConnection(key, 0, servers[0].Endpoint, ForwardingMethod.Nat), out var h) == AddConnectionResult.Added)
                {
                    _ = table.Remove(h);
                }

                // Templates reuse the same slots; their timeout sits where a connection keeps its outbound link.
                var template = new PersistenceKey(L4Protocol.Tcp, Client(200_000 + (n % 500)).Address, Virtual().Address, 80);
                if (table.TryAddTemplate(template, 0, servers[0].Endpoint, 1_000_000, out var t) == AddConnectionResult.Added)
                {
                    _ = table.Remove(t);
                }
            }
        });
        churn.Start();
        int misses = 0;
        int wrong = 0;
        for (int round = 0; round < 300; round++)
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

        stop.Cancel();
        churn.Join();
        Assert.Equal(0, misses);
        Assert.Equal(0, wrong);
    }
}
