using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

public class HandleTests
{
    [Fact]
    public void Handle_FromAnotherTable_RefusedEverywhere()
    {
        var (a, _, _, aServers) = NewTable();
        var (b, _, _, bServers) = NewTable();
        var flow = Tcp(Client(1), Virtual());
        _ = a.TryAdd(new NewConnection(flow, 0, aServers[0].Endpoint, ForwardingMethod.Nat), out var fromA);
        _ = b.TryAdd(new NewConnection(flow, 0, bServers[0].Endpoint, ForwardingMethod.Nat), out var fromB);

        // Same slot, same generation in both tables: only the handle's table tag tells them apart.
        Assert.NotEqual(fromA, fromB);
        Assert.False(b.Update(fromA, PacketDirection.Inbound, TcpFlags.Syn));
        Assert.False(b.TryGetInfo(fromA, out _));
        Assert.False(b.ShouldReschedule(fromA, TcpFlags.Syn));
        Assert.False(b.Remove(fromA));
        Assert.Equal(AddConnectionResult.Invalid, b.TryAdd(new NewConnection(Tcp(Client(2), Virtual()), 0, bServers[0].Endpoint, ForwardingMethod.Nat) { Template = fromA }, out _));
        Assert.True(b.TryGetInfo(fromB, out var info));
        Assert.Equal(TcpConnectionState.None, info.TcpState);
        Assert.True(b.Remove(fromB));
        Assert.True(a.Remove(fromA));
    }

    [Fact]
    public void Remove_HandleIndexBeyondCapacity_ReturnsFalse()
    {
        var (big, _, _, servers) = NewTable(capacity: 4096);
        var (small, _, _, _) = NewTable(capacity: 16);
        ConnectionHandle last = default;
        for (int i = 0; i < 2000; i++)
        {
            _ = big.TryAdd(new NewConnection(Tcp(Client(i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out last);
        }

        Assert.False(small.Remove(last));
        Assert.False(small.Update(last, PacketDirection.Inbound, TcpFlags.Ack));
        Assert.False(small.TryGetInfo(last, out _));
    }

    [Fact]
    public void Handle_StaleAfterGenerationLow24BitsWrap_StillRefused()
    {
        var (table, _, _, servers) = NewTable(capacity: 16);
        var flow = Tcp(Client(1), Virtual());
        _ = table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat), out var old);
        Assert.True(table.Remove(old));

        // As if the slot had 2^24 - 1 more occupants: the next one's generation has the stale handle's low 24 bits.
        table.SetFreeSlotGeneration(0, 1u + (1u << 24) - 1);
        _ = table.TryAdd(new NewConnection(Tcp(Client(2), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out var newcomer);
        Assert.Equal(1, table.Count);
        Assert.False(table.TryGetInfo(old, out _));
        Assert.False(table.Update(old, PacketDirection.Inbound, TcpFlags.Syn));
        Assert.False(table.Remove(old));
        Assert.True(table.TryGetInfo(newcomer, out var info));
        Assert.Equal(Client(2), info.Client);
        Assert.True(table.TryGetInbound(Tcp(Client(2), Virtual()), out var found));
        Assert.Equal(newcomer, found);
    }

    [Fact]
    public void Handle_SlotAtLastGeneration_RetiredNotReused()
    {
        var (table, _, _, servers) = NewTable(capacity: 16);
        table.SetFreeSlotGeneration(0, ConnectionHandle.MaxGeneration - 1);
        _ = table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out var last);
        Assert.True(table.Remove(last));
        Assert.Equal(1, table.RetiredSlots);

        // The next add takes another slot; the slot with the last generation is never handed out again.
        for (int i = 0; i < 15; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(10 + i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Ack }, out var h));
            Assert.False(table.TryGetInfo(last, out _));
        }

        Assert.Equal(AddConnectionResult.Full, table.TryAdd(new NewConnection(Tcp(Client(99), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Ack }, out _));
        Assert.False(table.Remove(last));
    }
}
