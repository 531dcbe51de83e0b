using Lvs.Core;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>
/// Where inserts place connections: in a free slot of the bucket's home line (the cache line that holds the
/// bucket's chain head) when there is one, ahead of the chain's other entries; and the free list, linked both ways so
/// that a home slot can be taken out of its middle, loses no slot through any churn.
/// </summary>
public sealed class HomeLinePlacementTests
{
    private const int Capacity = 4096;

    [Theory]
    [InlineData(false, 0.80)]
    [InlineData(true, 0.70)]
    public void HalfFullTable_MostConnectionsLiveInTheirHomeLine(bool ipv6, double atLeast)
    {
        // Two IPv4 slots share a line and one IPv6 slot has one; at half load a random placement would put
        // 1/2048 of them at home, the home-line rule about 88 % (IPv4) and 79 % (IPv6) in a simulation.
        var (table, _, _, servers) = NewTable(capacity: Capacity);
        for (int i = 0; i < Capacity / 2; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(Connection(i, ipv6, servers), out _));
        }

        var (atHome, total, misordered) = table.InboundPlacement(ipv6);
        Assert.Equal(Capacity / 2, total);
        Assert.True(atHome >= atLeast * total, $"{atHome} of {total} connections in their home line");
        Assert.Equal(0, misordered);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AfterChurn_EveryFreeSlotIsStillReachable_AndHomeEntriesLeadTheirChains(bool ipv6)
    {
        var (table, _, _, servers) = NewTable(capacity: Capacity);
        var random = new Random(7);
        var live = new List<(int Id, ConnectionHandle Handle)>();
        int next = 0;

        // Random adds and removals around three-quarter load, so home slots are taken out of the middle of the free
        // list and freed slots pushed back many times over.
        for (int step = 0; step < 40_000; step++)
        {
            if (live.Count > 0 && (live.Count >= Capacity * 7 / 8 || random.Next(2) == 0))
            {
                int pick = random.Next(live.Count);
                Assert.True(table.Remove(live[pick].Handle));
                live[pick] = live[^1];
                live.RemoveAt(live.Count - 1);
            }
            else
            {
                Assert.Equal(AddConnectionResult.Added, table.TryAdd(Connection(next, ipv6, servers), out var handle));
                Assert.True(table.Update(handle, PacketDirection.Inbound));
                live.Add((next++, handle));
            }
        }

        var placement = table.InboundPlacement(ipv6);
        Assert.Equal(live.Count, placement.Total);
        Assert.Equal(0, placement.Misordered);

        // Fill the table to the last slot: every free slot must be handed out (none lost from the free list), and no
        // slot twice (every connection stays found), before the table reports itself full.
        while (live.Count < Capacity)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(Connection(next, ipv6, servers), out var handle));
            Assert.True(table.Update(handle, PacketDirection.Inbound));
            live.Add((next++, handle));
        }

        Assert.Equal(0, table.Shed);
        Assert.Equal(Capacity, table.InboundPlacement(ipv6).Total);
        foreach (var (id, handle) in live)
        {
            Assert.True(table.TryGetInbound(Connection(id, ipv6, servers).Inbound, out var found));
            Assert.Equal(handle, found);
        }

        // Full, nothing half-open or idle to shed (every connection has seen its first packet just now): refused.
        Assert.Equal(AddConnectionResult.Full, table.TryAdd(Connection(next, ipv6, servers), out _));
    }

    private static NewConnection Connection(int id, bool ipv6, RealServer[] servers)
    {
        var client = ipv6
            ? new Endpoint(new IpAddress(0x2001_0db8_0000_0000UL, (ulong)(id / 64) + 1), (ushort)(1024 + (id % 64)))
            : Client(id / 64, (ushort)(1024 + (id % 64)));
        var @virtual = ipv6 ? new Endpoint(IpAddress.Parse("2001:db8::80"), 80) : Virtual();
        var server = ipv6 ? new Endpoint(new IpAddress(0xfd00_0000_0000_0000UL, (ulong)(id % servers.Length) + 1), 8080) : servers[id % servers.Length].Endpoint;
        return new NewConnection(new FlowKey(L4Protocol.Udp, client, @virtual), id % servers.Length, server, ForwardingMethod.Nat);
    }
}
