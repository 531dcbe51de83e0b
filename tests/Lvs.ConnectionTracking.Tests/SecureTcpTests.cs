using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>secure_tcp: the kernel's tcp_states_dos tables and update_defense_level's switch.</summary>
public class SecureTcpTests
{
    [Theory]
    [InlineData(TcpStateTable.Input, TcpConnectionState.SynRecv, TcpFlags.Ack, TcpConnectionState.SynRecv)]
    [InlineData(TcpStateTable.Input, TcpConnectionState.SynAck, TcpFlags.Ack, TcpConnectionState.SynAck)]
    [InlineData(TcpStateTable.Input, TcpConnectionState.SynAck, TcpFlags.Syn, TcpConnectionState.SynAck)]
    [InlineData(TcpStateTable.Input, TcpConnectionState.SynAck, TcpFlags.Fin, TcpConnectionState.SynAck)]
    [InlineData(TcpStateTable.Input, TcpConnectionState.SynAck, TcpFlags.Rst, TcpConnectionState.Close)]
    [InlineData(TcpStateTable.Output, TcpConnectionState.SynRecv, TcpFlags.Syn | TcpFlags.Ack, TcpConnectionState.SynAck)]
    [InlineData(TcpStateTable.Output, TcpConnectionState.SynAck, TcpFlags.Syn, TcpConnectionState.SynAck)]
    [InlineData(TcpStateTable.InputOnly, TcpConnectionState.None, TcpFlags.Syn, TcpConnectionState.SynAck)]
    [InlineData(TcpStateTable.InputOnly, TcpConnectionState.Close, TcpFlags.Syn, TcpConnectionState.SynAck)]
    [InlineData(TcpStateTable.Input, TcpConnectionState.None, TcpFlags.Syn, TcpConnectionState.SynRecv)]
    public void Next_SecureTcp_FollowsKernelDosTable(TcpStateTable table, TcpConnectionState from, TcpFlags flags, TcpConnectionState expected) =>
        Assert.Equal(expected, TcpStateMachine.Next(from, table, flags, secureTcp: true));

    [Fact]
    public void Next_SecureTcp_DiffersFromNormalTableOnlyWhereKernelsDo()
    {
        int differences = 0;
        foreach (var table in new[] { TcpStateTable.Input, TcpStateTable.Output, TcpStateTable.InputOnly })
        {
            foreach (var flags in new[] { TcpFlags.Syn, TcpFlags.Fin, TcpFlags.Ack, TcpFlags.Rst })
            {
                for (int s = 0; s < TcpStateMachine.StateCount; s++)
                {
                    differences += TcpStateMachine.Next((TcpConnectionState)s, table, flags, true) != TcpStateMachine.Next((TcpConnectionState)s, table, flags) ? 1 : 0;
                }
            }
        }

        // tcp_states_dos differs from tcp_states in 15 cells: INPUT syn, fin, ack and rst on SA and ack on SR; OUTPUT
        // syn on SR and SA; INPUT-ONLY syn on NO, FW, TW, CL, CW, LA, LI and SA.
        Assert.Equal(15, differences);
    }

    [Fact]
    public void SecureTcp_Mode3_ClientAckDoesNotEstablishUnansweredConnection()
    {
        var (table, _, _, servers) = NewSecureTable(secureTcp: 3);
        Assert.True(table.SecureTcpActive);
        _ = table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var h);
        Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Ack));
        Assert.True(table.TryGetInfo(h, out var info));
        Assert.Equal(TcpConnectionState.SynRecv, info.TcpState);

        // With the server's answer it proceeds: SYN-ACK to SYNACK, the server's ACK to ESTABLISHED.
        Assert.True(table.Update(h, PacketDirection.Outbound, TcpFlags.Syn | TcpFlags.Ack));
        Assert.True(table.Update(h, PacketDirection.Outbound, TcpFlags.Ack));
        Assert.True(table.TryGetInfo(h, out info));
        Assert.Equal(TcpConnectionState.Established, info.TcpState);
    }

    [Fact]
    public void SecureTcp_Mode1_OnWhileTableUnderPressureOffAfter()
    {
        var (table, _, clock, servers) = NewSecureTable(secureTcp: 1, capacity: 16);
        Assert.False(table.SecureTcpActive);
        for (int i = 0; i < 17; i++)
        {
            _ = table.TryAdd(new NewConnection(Tcp(Client(i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out _);
        }

        // The 17th add found the table full: at the next run (the kernel's once-a-second defense_work) the defence is on.
        Assert.False(table.SecureTcpActive);
        table.Tick(clock, 1);
        Assert.True(table.SecureTcpActive);
        _ = table.TryGetInbound(Tcp(Client(16), Virtual()), out var h);
        Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Ack));
        Assert.True(table.TryGetInfo(h, out var info));
        Assert.Equal(TcpConnectionState.SynRecv, info.TcpState);

        // A second without pressure: off again.
        table.Tick(clock, 1);
        Assert.False(table.SecureTcpActive);
        Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Ack));
        Assert.True(table.TryGetInfo(h, out info));
        Assert.Equal(TcpConnectionState.Established, info.TcpState);
    }

    [Fact]
    public void SecureTcp_Default_Off()
    {
        var (table, _, clock, servers) = NewTable(capacity: 16);
        for (int i = 0; i < 40; i++)
        {
            _ = table.TryAdd(new NewConnection(Tcp(Client(i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out _);
        }

        table.Tick(clock, 1);
        Assert.False(table.SecureTcpActive);
    }

    private static (ConnectionTable Table, RealServerRegistry Registry, Microsoft.Extensions.Time.Testing.FakeTimeProvider Clock, RealServer[] Servers) NewSecureTable(int secureTcp, int capacity = 1024)
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var registry = new RealServerRegistry();
        var servers = new[] { new RealServer(Server(0), 1, ForwardingMethod.Nat) };
        _ = registry.Register(servers[0]);
        var options = new ConnectionTableOptions { Capacity = capacity, IPv6Capacity = capacity, SecureTcp = secureTcp, RandomSeed = 12345 };
        return (new ConnectionTable(options, registry, clock), registry, clock, servers);
    }
}
