using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>
/// Flood defence weights idle entries by their incoming packet count, as the kernel's <c>todrop_entry</c>: an idle
/// entry with no incoming packet or more than 8 is never dropped; with i from 1 to 8, one in i of those met is.
/// </summary>
public class FloodDefenceInPacketsTests
{
    [Fact]
    public void FloodDefence_IdleEntriesWithMoreThanEightIncomingPackets_NeverShed()
    {
        var (table, _, clock, servers) = NewTable(capacity: 4);
        FillWithIdleUdp(table, servers, inbound: 9, outbound: 0);
        table.Tick(clock, 61);

        Assert.Equal(AddConnectionResult.Full, table.TryAdd(UdpNat(8, servers), out _));
        Assert.Equal((0L, 4), (table.Shed, table.Count));
    }

    [Fact]
    public void FloodDefence_IdleEntriesWithoutIncomingPackets_NeverShed()
    {
        // Seen (a reply went out) but no incoming packet: in_pkts 0, todrop_rate[0] = 0.
        var (table, _, clock, servers) = NewTable(capacity: 4);
        FillWithIdleUdp(table, servers, inbound: 0, outbound: 1);
        table.Tick(clock, 61);

        Assert.Equal(AddConnectionResult.Full, table.TryAdd(UdpNat(8, servers), out _));
        Assert.Equal(0, table.Shed);
    }

    [Fact]
    public void FloodDefence_IdleEntriesWithEightIncomingPackets_ShedOneInEightMet()
    {
        var (table, _, clock, servers) = NewTable(capacity: 4);
        FillWithIdleUdp(table, servers, inbound: 8, outbound: 0);
        table.Tick(clock, 61);

        // The first idle entry met with 8 packets goes (its counter starts at 0), then every eighth: the 32 probes of
        // each later insert meet enough of them to shed one each time.
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(UdpNat(8, servers), out _));
        Assert.Equal(1, table.Shed);
    }

    [Fact]
    public void FloodDefence_FirstPacketAppliedByTheInsert_CountsAsIncoming()
    {
        // A TCP connection inserted with its SYN and then ESTABLISHED by the client's ACK has two incoming packets;
        // one more than 8 later it is kept, as in the kernel.
        var (table, _, clock, servers) = NewTable(capacity: 1);
        _ = table.TryAdd(new NewConnection(Tcp(Client(0), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var h);
        for (int i = 0; i < 7; i++)
        {
            Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Ack));
        }

        table.Tick(clock, 61);
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var second));

        // 8 incoming packets (SYN + 7 ACKs): shed. The new one, given 8 more (9 with its SYN), is not.
        Assert.Equal(1, table.Shed);
        for (int i = 0; i < 8; i++)
        {
            Assert.True(table.Update(second, PacketDirection.Inbound, TcpFlags.Ack));
        }

        table.Tick(clock, 61);
        Assert.Equal(AddConnectionResult.Full, table.TryAdd(new NewConnection(Tcp(Client(2), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out _));
        Assert.Equal(1, table.Shed);
    }

    private static void FillWithIdleUdp(ConnectionTable table, RealServer[] servers, int inbound, int outbound)
    {
        for (int i = 0; i < table.Capacity; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(UdpNat(i, servers), out var h));
            for (int p = 0; p < inbound; p++)
            {
                Assert.True(table.Update(h, PacketDirection.Inbound));
            }

            for (int p = 0; p < outbound; p++)
            {
                Assert.True(table.Update(h, PacketDirection.Outbound));
            }
        }
    }

    private static NewConnection UdpNat(int client, RealServer[] servers) =>
        new(Udp(Client(client), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat);
}
