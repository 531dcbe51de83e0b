using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>
/// The flood test measures the process's managed heap before and after, so it runs alone: tests running beside it
/// would allocate and free on the same heap and make the growth figure theirs.
/// </summary>
[CollectionDefinition(nameof(ConnectionTableFloodTests), DisableParallelization = true)]
[Collection(nameof(ConnectionTableFloodTests))]
public class ConnectionTableFloodTests
{
    [Fact]
    public void SynFlood_MillionHalfOpenAgainstFullTable_BoundedAndNoEstablishedEvicted()
    {
        const int Capacity = 100_000;
        const int Established = 50_000;
        const int Flood = 1_000_000;
        var (table, _, _, servers) = NewTable(capacity: Capacity, servers: 2);
        for (int i = 0; i < Established; i++)
        {
            var key = Tcp(Client(i, 1000), Virtual());
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(key, i % 2, servers[i % 2].Endpoint, ForwardingMethod.Nat), out var h));
            Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Syn));
            Assert.True(table.Update(h, PacketDirection.Outbound, TcpFlags.Syn | TcpFlags.Ack));
            Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Ack));
        }

        var random = new Random(42);
        int added = 0;
        GC.Collect();
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Flood; i++)
        {
            var source = new InetEndpoint(InetAddress.FromIPv4((uint)random.Next() | 0x8000_0000u), (ushort)random.Next(1024, 65536));
            var key = Tcp(source, Virtual());
            if (table.TryGetInbound(key, out _))
            {
                continue;
            }

            if (table.TryAdd(new NewConnection(key, i % 2, servers[i % 2].Endpoint, ForwardingMethod.Nat), out var h) == AddConnectionResult.Added)
            {
                added++;
                _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Syn);
            }

            Assert.True(table.Count <= Capacity);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        long heapAfter = GC.GetTotalMemory(forceFullCollection: true);

        Assert.Equal(Capacity, table.Count);
        Assert.True(allocated < 64 * 1024, $"{allocated} bytes allocated during the flood");
        Assert.True(heapAfter - heapBefore < 1024 * 1024, $"heap grew by {heapAfter - heapBefore} bytes");
        Assert.Equal(Flood, added + table.Refused);
        Assert.Equal(added - (Capacity - Established), table.Shed);
        for (int i = 0; i < Established; i++)
        {
            Assert.True(table.TryGetInbound(Tcp(Client(i, 1000), Virtual()), out var h));
            Assert.True(table.TryGetInfo(h, out var info));
            Assert.Equal(TcpConnectionState.Established, info.TcpState);
        }

        int active = servers[0].ActiveConnections + servers[1].ActiveConnections;
        Assert.Equal(Capacity, active + servers[0].InactiveConnections + servers[1].InactiveConnections);
    }
}
