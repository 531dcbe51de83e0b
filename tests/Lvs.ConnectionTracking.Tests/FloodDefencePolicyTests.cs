using Lvs.Core;
using Lvs.Core.Headers;
using Microsoft.Extensions.Time.Testing;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>What flood defence sheds: the kernel's ip_vs_random_dropentry by default, more with ExtendedFloodDefence.</summary>
public class FloodDefencePolicyTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FloodDefence_TimeWaitIdleAndNone_ShedOnlyWithExtendedFloodDefence(bool extended)
    {
        var (table, clock, servers) = NewTableWith(extended);

        // Two connections closed (TIME_WAIT, 120 s) and idle for 61 s, two added without their first packet (NONE).
        for (int i = 0; i < 2; i++)
        {
            _ = table.TryAdd(new NewConnection(Tcp(Client(i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var h);
            Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Ack));
            Assert.True(table.Update(h, PacketDirection.Outbound, TcpFlags.Fin | TcpFlags.Ack));
            Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Fin | TcpFlags.Ack));
            Assert.True(table.TryGetInfo(h, out var info));
            Assert.Equal(TcpConnectionState.TimeWait, info.TcpState);
        }

        table.Tick(clock, 61);
        for (int i = 2; i < 4; i++)
        {
            _ = table.TryAdd(new NewConnection(Tcp(Client(i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out _);
        }

        // The kernel drops neither (TCP other than SYN_RECV, SYNACK and idle ESTABLISHED is never dropped).
        var result = table.TryAdd(new NewConnection(Tcp(Client(9), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out _);
        Assert.Equal(extended ? AddConnectionResult.Added : AddConnectionResult.Full, result);
        Assert.Equal(extended ? 1 : 0, table.Shed);
    }

    [Fact]
    public void FloodDefence_Default_ShedsSynRecvAndIdleEstablished()
    {
        var (table, clock, servers) = NewTableWith(extended: false);
        for (int i = 0; i < 4; i++)
        {
            _ = table.TryAdd(new NewConnection(Tcp(Client(i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var h);
            Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Ack));
        }

        // ESTABLISHED in use: kept; idle for 60 s: shed.
        Assert.Equal(AddConnectionResult.Full, table.TryAdd(new NewConnection(Tcp(Client(8), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out _));
        table.Tick(clock, 60);
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(9), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out _));

        // SYN_RECV: shed at once.
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(10), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out _));
        Assert.Equal(2, table.Shed);
    }

    private static (ConnectionTable Table, FakeTimeProvider Clock, RealServer[] Servers) NewTableWith(bool extended)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var registry = new RealServerRegistry();
        var servers = new[] { new RealServer(Server(0), 1, ForwardingMethod.Nat) };
        _ = registry.Register(servers[0]);
        var options = new ConnectionTableOptions { Capacity = 4, IPv6Capacity = 4, RandomSeed = 12345, ExtendedFloodDefence = extended };
        return (new ConnectionTable(options, registry, clock), clock, servers);
    }
}
