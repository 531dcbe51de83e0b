using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

public class FirstPacketTests
{
    [Fact]
    public void TryAdd_FirstPacketSyn_StartsInSynRecvActiveWithItsTimeout()
    {
        var (table, _, clock, servers) = NewTable();
        var flow = Tcp(Client(1), Virtual());
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var h));
        Assert.True(table.TryGetInfo(h, out var info));
        Assert.Equal(TcpConnectionState.SynRecv, info.TcpState);
        Assert.True(info.IsActive);
        Assert.Equal(1, servers[0].ActiveConnections);
        Assert.Equal(0, servers[0].InactiveConnections);

        // SYN_RECV's 60 s, not the 3 s of a connection whose first packet is still to come.
        table.Tick(clock, 59);
        Assert.True(table.TryGetInbound(flow, out _));
        Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Ack));
        Assert.True(table.TryGetInfo(h, out info));
        Assert.Equal(TcpConnectionState.Established, info.TcpState);
    }

    [Fact]
    public void TryAdd_Listening_StartsInListenInactiveForTwoMinutes_ThenTheClientsSynMovesIt()
    {
        var (table, _, clock, servers) = NewTable();
        var flow = Tcp(Client(1), Virtual());
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { Listening = true }, out var h));
        Assert.True(table.TryGetInfo(h, out var info));
        Assert.Equal(TcpConnectionState.Listen, info.TcpState);
        Assert.False(info.IsActive);
        Assert.Equal(1, servers[0].InactiveConnections);

        // LISTEN's 2 minutes (ip_vs_tcp_conn_listen), not the 3 s of a connection whose first packet is to come.
        table.Tick(clock, 110);
        Assert.True(table.TryGetInbound(flow, out _));
        Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Syn));
        Assert.True(table.TryGetInfo(h, out info));
        Assert.Equal(TcpConnectionState.SynRecv, info.TcpState);
        Assert.Equal(1, servers[0].ActiveConnections);
    }

    [Fact]
    public void TryAdd_Listening_ExpiresAfterTwoMinutesUnused_AndAServersSynKeepsItListening()
    {
        var (table, _, clock, servers) = NewTable();
        var flow = Tcp(Client(1), Virtual());
        _ = table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { Listening = true }, out var h);

        // A server's SYN (active FTP's data connection) leaves it in LISTEN (OUTPUT syn from LISTEN).
        Assert.True(table.Update(h, PacketDirection.Outbound, TcpFlags.Syn));
        Assert.True(table.TryGetInfo(h, out var info));
        Assert.Equal(TcpConnectionState.Listen, info.TcpState);

        table.Tick(clock, 125);
        Assert.False(table.TryGetInbound(flow, out _));
        Assert.Equal(0, servers[0].InactiveConnections);
    }

    [Fact]
    public void TryAdd_FirstPacketUdp_StartsWithUdpTimeoutInactive()
    {
        var (table, _, clock, servers) = NewTable();
        var flow = Udp(Client(1), Virtual());
        _ = table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.None }, out _);
        Assert.Equal(0, servers[0].ActiveConnections);
        Assert.Equal(1, servers[0].InactiveConnections);
        table.Tick(clock, 250);
        Assert.True(table.TryGetInbound(flow, out _));
    }

    [Fact]
    public void TryAdd_FirstPacketAckOnDirectRouting_InputOnlyTableGivesEstablished()
    {
        var (table, _, _, servers) = NewTable();
        _ = table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.DirectRouting) { FirstPacket = TcpFlags.Ack }, out var h);
        Assert.True(table.TryGetInfo(h, out var info));
        Assert.Equal(TcpConnectionState.Established, info.TcpState);

        // Still no reply seen: a client FIN follows INPUT-ONLY (FIN_WAIT, where INPUT gives CLOSE_WAIT).
        Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Fin | TcpFlags.Ack));
        Assert.True(table.TryGetInfo(h, out info));
        Assert.Equal(TcpConnectionState.FinWait, info.TcpState);
    }

    [Fact]
    public void TryAdd_FirstPacketOfExistingConnection_ProcessedOnIt()
    {
        var (table, _, _, servers) = NewTable();
        var flow = Tcp(Client(1), Virtual());
        _ = table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var h);
        Assert.Equal(AddConnectionResult.Exists, table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Ack }, out var again));
        Assert.Equal(h, again);
        Assert.True(table.TryGetInfo(h, out var info));
        Assert.Equal(TcpConnectionState.Established, info.TcpState);
        Assert.Equal(1, servers[0].ActiveConnections);
    }

    [Fact]
    public void TryAddBatch_FirstPackets_SameStatesAndCountersAsOneByOne()
    {
        var flags = new[] { TcpFlags.Syn, TcpFlags.Ack, TcpFlags.Rst, TcpFlags.Fin, TcpFlags.None, TcpFlags.Syn | TcpFlags.Ack };
        NewConnection Make(int i) => new(i % 5 == 4 ? Udp(Client(i % 40), Virtual()) : Tcp(Client(i % 40), Virtual()), i % 2, Server(i % 2), i % 3 == 0 ? ForwardingMethod.DirectRouting : ForwardingMethod.Nat)
        {
            FirstPacket = flags[i % flags.Length],
        };

        var (single, _, _, singleServers) = NewTable();
        var (batched, _, _, batchedServers) = NewTable();
        var connections = Enumerable.Range(0, 100).Select(Make).ToArray();
        var handles = new ConnectionHandle[100];
        var results = new AddConnectionResult[100];
        _ = batched.TryAddBatch(connections, handles, results);
        var singleHandles = new ConnectionHandle[100];
        for (int i = 0; i < connections.Length; i++)
        {
            Assert.Equal(results[i], single.TryAdd(connections[i], out singleHandles[i]));
        }

        // Later duplicates (40 flows, 100 adds) were processed on the first: the states after all of them agree.
        for (int i = 0; i < connections.Length; i++)
        {
            Assert.True(single.TryGetInfo(singleHandles[i], out var a));
            Assert.True(batched.TryGetInfo(handles[i], out var b));
            Assert.Equal(a with { Expires = default }, b with { Expires = default });
        }

        for (int s = 0; s < 2; s++)
        {
            Assert.Equal(singleServers[s].ActiveConnections, batchedServers[s].ActiveConnections);
            Assert.Equal(singleServers[s].InactiveConnections, batchedServers[s].InactiveConnections);
        }
    }

    [Fact]
    public void TryAddBatch_GroupAfterFirstPacketsInTheSameSlots_StartsInNoneWithTheInitialTimeout()
    {
        // The batched add fills each group of 32 inserts in place in the same slots: the second group's plain NAT
        // connections must not keep the first group's first packet (SYN_RECV, active, 60 s) or full-NAT local endpoint.
        NewConnection Make(int i) => i < 32
            ? new(Tcp(Client(i), Virtual()), 0, Server(0), ForwardingMethod.FullNat) { Local = new InetEndpoint(InetAddress.Parse("172.16.255.1"), (ushort)(5000 + i)), FirstPacket = TcpFlags.Syn }
            : new(Tcp(Client(i), Virtual()), 1, Server(1), ForwardingMethod.Nat);

        var (table, _, clock, servers) = NewTable();
        var connections = Enumerable.Range(0, 64).Select(Make).ToArray();
        var handles = new ConnectionHandle[64];
        var results = new AddConnectionResult[64];
        Assert.Equal(64, table.TryAddBatch(connections, handles, results));

        for (int i = 0; i < 64; i++)
        {
            Assert.True(table.TryGetInfo(handles[i], out var info));
            Assert.Equal(i < 32 ? TcpConnectionState.SynRecv : TcpConnectionState.None, info.TcpState);
            Assert.Equal(i < 32, info.IsActive);
            Assert.Equal(i < 32 ? connections[i].Local : default, info.Local);
        }

        Assert.Equal(32, servers[0].ActiveConnections);
        Assert.Equal(0, servers[1].ActiveConnections);
        Assert.Equal(32, servers[1].InactiveConnections);

        // The 3 s of a connection whose first packet is still to come, not SYN_RECV's 60 s.
        table.Tick(clock, 5);
        for (int i = 0; i < 64; i++)
        {
            Assert.Equal(i < 32, table.TryGetInbound(connections[i].Inbound, out _));
        }
    }
}
