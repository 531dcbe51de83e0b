using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>ASSURED templates and the flood defence of persistent services (the kernel's ip_vs_random_dropentry).</summary>
public class PersistentFloodTests
{
    private static readonly VirtualServiceKey Http = VirtualServiceKey.ForAddress(L4Protocol.Tcp, Virtual());

    [Fact]
    public void Template_ControlledConnectionReachesEstablished_ListedAssured()
    {
        var (table, _, _, servers) = NewTable();
        var flow = Tcp(Client(1), Virtual());
        var key = PersistenceKey.Create(Http, flow, 32);
        _ = table.TryAddTemplate(key, 0, servers[0].Endpoint, 300, out var template);
        _ = table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { Template = template, FirstPacket = TcpFlags.Syn }, out var conn);
        Assert.True(table.TryGetInfo(template, out var info));
        Assert.Equal("NONE", info.StateName);

        Assert.True(table.Update(conn, PacketDirection.Outbound, TcpFlags.Syn | TcpFlags.Ack));
        Assert.True(table.TryGetInfo(template, out info));
        Assert.Equal("NONE", info.StateName);
        Assert.True(table.Update(conn, PacketDirection.Inbound, TcpFlags.Ack));
        Assert.True(table.TryGetInfo(template, out info));
        Assert.Equal("ASSURED", info.StateName);
        Assert.StartsWith("TCP 05:00  ASSURED     10.0.0.1:0 ", ConnectionListing.FormatLine(info));

        // The connection's own state is untouched.
        Assert.True(table.TryGetInfo(conn, out info));
        Assert.Equal(TcpConnectionState.Established, info.TcpState);
    }

    [Fact]
    public void Template_UdpReplyOnControlledConnection_Assured()
    {
        var udpService = VirtualServiceKey.ForAddress(L4Protocol.Udp, Virtual(0, 53));
        var (table, _, _, servers) = NewTable();
        var flow = Udp(Client(1), Virtual(0, 53));
        var key = PersistenceKey.Create(udpService, flow, 32);
        _ = table.TryAddTemplate(key, 0, servers[0].Endpoint, 300, out var template);
        _ = table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { Template = template, FirstPacket = TcpFlags.None }, out var conn);
        Assert.True(table.Update(conn, PacketDirection.Inbound));
        Assert.True(table.TryGetInfo(template, out var info));
        Assert.Equal("NONE", info.StateName);
        Assert.True(table.Update(conn, PacketDirection.Outbound));
        Assert.True(table.TryGetInfo(template, out info));
        Assert.Equal("ASSURED", info.StateName);
    }

    [Fact]
    public void SynFlood_PersistentService_NewClientsStillGetInAndAssuredClientsKept()
    {
        const int Capacity = 256;
        var (table, _, clock, servers) = NewTable(capacity: Capacity);

        // A real client: established through its template, which is then assured; it keeps a connection open.
        var real = Tcp(Client(1), Virtual());
        var realKey = PersistenceKey.Create(Http, real, 32);
        _ = table.TryAddTemplate(realKey, 0, servers[0].Endpoint, 300, out var realTemplate);
        _ = table.TryAdd(new NewConnection(real, 0, servers[0].Endpoint, ForwardingMethod.Nat) { Template = realTemplate, FirstPacket = TcpFlags.Syn }, out var realConn);
        Assert.True(table.Update(realConn, PacketDirection.Inbound, TcpFlags.Ack));

        // A client whose connection has ended: its assured template controls nothing and must survive as well.
        var earlier = Tcp(Client(2), Virtual());
        var earlierKey = PersistenceKey.Create(Http, earlier, 32);
        _ = table.TryAddTemplate(earlierKey, 1, servers[1].Endpoint, 300, out var earlierTemplate);
        _ = table.TryAdd(new NewConnection(earlier, 1, servers[1].Endpoint, ForwardingMethod.Nat) { Template = earlierTemplate, FirstPacket = TcpFlags.Syn }, out var earlierConn);
        Assert.True(table.Update(earlierConn, PacketDirection.Inbound, TcpFlags.Ack));
        Assert.True(table.Remove(earlierConn));
        table.Tick(clock, 1);

        // A SYN flood from spoofed sources, each scheduled through a new template, with no time passing.
        for (int i = 0; i < 20 * Capacity; i++)
        {
            var syn = Tcp(Client(1000 + i, (ushort)(1024 + (i % 60000))), Virtual());
            var key = PersistenceKey.Create(Http, syn, 32);
            if (table.TryAddTemplate(key, i % 2, servers[i % 2].Endpoint, 300, out var t) == AddConnectionResult.Added)
            {
                _ = table.TryAdd(new NewConnection(syn, i % 2, servers[i % 2].Endpoint, ForwardingMethod.Nat) { Template = t, FirstPacket = TcpFlags.Syn }, out _);
            }
        }

        // A new legitimate client is not locked out: its template and connection get in.
        var fresh = Tcp(Client(3), Virtual());
        Assert.Equal(AddConnectionResult.Added, table.TryAddTemplate(PersistenceKey.Create(Http, fresh, 32), 0, servers[0].Endpoint, 300, out var freshTemplate));
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(fresh, 0, servers[0].Endpoint, ForwardingMethod.Nat) { Template = freshTemplate, FirstPacket = TcpFlags.Syn }, out _));

        Assert.True(table.TryGetTemplate(realKey, out _, out _));
        Assert.True(table.TryGetInfo(realConn, out var info));
        Assert.Equal(TcpConnectionState.Established, info.TcpState);
        Assert.True(table.TryGetTemplate(earlierKey, out _, out _));
        Assert.True(table.Count <= Capacity);
        Assert.Equal(table.Enumerate().Count(e => e.IsTemplate), servers[0].PersistentConnections + servers[1].PersistentConnections);
    }
}
