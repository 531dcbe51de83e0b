using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

public class PersistenceTests
{
    private static readonly VirtualServiceKey Http = VirtualServiceKey.ForAddress(L4Protocol.Tcp, Virtual());

    [Fact]
    public void Create_ServicePort_KeyCoversClientNetworkAndPort()
    {
        var key = PersistenceKey.Create(Http, Tcp(InetEndpoint.Parse("10.1.2.3:5000"), Virtual()), InetAddress.Parse("255.255.255.0"));
        Assert.Equal(new PersistenceKey(L4Protocol.Tcp, InetAddress.Parse("10.1.2.0"), Virtual().Address, 80), key);
    }

    [Fact]
    public void Create_FirewallMark_ProtocolIpPortZeroMarkAsAddress()
    {
        var service = VirtualServiceKey.ForFirewallMark(7);
        var key = PersistenceKey.Create(service, Tcp(InetEndpoint.Parse("10.1.2.3:5000"), Virtual(0, 443)), 32);
        Assert.Equal(new PersistenceKey(L4Protocol.None, InetAddress.Parse("10.1.2.3"), InetAddress.FromIPv4(7), 0), key);
    }

    [Fact]
    public void Create_PortZeroService_CoversEveryPortOfVip()
    {
        var service = VirtualServiceKey.ForAddress(L4Protocol.Tcp, Virtual(0, 0));
        var a = PersistenceKey.Create(service, Tcp(Client(1), Virtual(0, 80)), 32);
        var b = PersistenceKey.Create(service, Tcp(Client(1, 41000), Virtual(0, 443)), 32);
        Assert.Equal(a, b);
        Assert.Equal(0, a.VirtualPort);
    }

    [Fact]
    public void Template_NewConnectionFromCoveredClient_GoesToTemplateServer()
    {
        var (table, _, _, servers) = NewTable();
        var first = Tcp(InetEndpoint.Parse("10.1.2.3:5000"), Virtual());
        var key = PersistenceKey.Create(Http, first, 24);
        Assert.False(table.TryGetTemplate(key, out _, out _));
        Assert.Equal(AddConnectionResult.Added, table.TryAddTemplate(key, 1, servers[1].Endpoint, 300, out var template));
        Assert.Equal(1, servers[1].PersistentConnections);

        var second = Tcp(InetEndpoint.Parse("10.1.2.77:6000"), Virtual());
        Assert.True(table.TryGetTemplate(PersistenceKey.Create(Http, second, 24), out var found, out int server));
        Assert.Equal(template, found);
        Assert.Equal(1, server);
        Assert.False(table.TryGetTemplate(PersistenceKey.Create(Http, Tcp(InetEndpoint.Parse("10.1.3.1:6000"), Virtual()), 24), out _, out _));

        // A template is not a connection: a packet with source port 0 does not find it.
        Assert.False(table.TryGetInbound(Tcp(new InetEndpoint(InetAddress.Parse("10.1.2.0"), 0), Virtual()), out _));
    }

    [Fact]
    public void Template_ControlsConnection_LivesWhileConnectionLives()
    {
        var (table, _, clock, servers) = NewTable();
        var flow = Tcp(Client(1), Virtual());
        var key = PersistenceKey.Create(Http, flow, 32);
        _ = table.TryAddTemplate(key, 0, servers[0].Endpoint, 10, out var template);
        _ = table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { Template = template }, out var conn);
        _ = table.Update(conn, PacketDirection.Inbound, TcpFlags.Syn);
        _ = table.Update(conn, PacketDirection.Inbound, TcpFlags.Ack);

        Assert.False(table.Remove(template));
        Assert.False(table.ShouldReschedule(conn, TcpFlags.Syn));

        // The template's 10 s run out at tick 11 (never early: one tick of rounding) while it controls the connection:
        // it is re-armed for 60 s, to tick 72.
        table.Tick(clock, 11);
        Assert.True(table.TryGetTemplate(key, out _, out _));

        Assert.True(table.Remove(conn));
        table.Tick(clock, 60);
        Assert.True(table.TryGetTemplate(key, out _, out _));
        table.Tick(clock, 1);
        Assert.False(table.TryGetTemplate(key, out _, out _));
        Assert.Equal(0, servers[0].PersistentConnections);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void TryAdd_ConnectionHandlePassedAsTemplate_Invalid()
    {
        var (table, _, _, servers) = NewTable();
        _ = table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out var conn);
        var second = new NewConnection(Tcp(Client(2), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { Template = conn };
        Assert.Equal(AddConnectionResult.Invalid, table.TryAdd(second, out _));
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void RemoveAllOf_Server_RemovesItsConnectionsThenItsTemplates()
    {
        var (table, _, _, servers) = NewTable();
        var key = PersistenceKey.Create(Http, Tcp(Client(1), Virtual()), 32);
        _ = table.TryAddTemplate(key, 0, servers[0].Endpoint, 300, out var template);
        _ = table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { Template = template }, out _);
        _ = table.TryAdd(new NewConnection(Tcp(Client(2), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out _);
        _ = table.TryAdd(new NewConnection(Tcp(Client(3), Virtual()), 1, servers[1].Endpoint, ForwardingMethod.Nat), out _);

        Assert.Equal(3, table.RemoveAllOf(0));
        Assert.Equal(1, table.Count);
        Assert.Equal((0, 0, 0), (servers[0].ActiveConnections, servers[0].InactiveConnections, servers[0].PersistentConnections));
        Assert.True(table.TryGetInbound(Tcp(Client(3), Virtual()), out _));
    }

    [Fact]
    public void Template_NewConnectionRefreshesTemplateTimer()
    {
        var (table, _, clock, servers) = NewTable();
        var key = PersistenceKey.Create(Http, Tcp(Client(1), Virtual()), 32);
        _ = table.TryAddTemplate(key, 0, servers[0].Endpoint, 100, out var template);
        table.Tick(clock, 60);
        _ = table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { Template = template }, out var conn);
        _ = table.Remove(conn);

        // Refreshed at tick 60 for 100 s: still there at 160 (never early), gone at 161 (one tick of rounding).
        table.Tick(clock, 100);
        Assert.True(table.TryGetTemplate(key, out _, out _));
        table.Tick(clock, 1);
        Assert.False(table.TryGetTemplate(key, out _, out _));
    }

    [Fact]
    public void Template_ServerRemoved_NotHonoured()
    {
        var (table, _, _, servers) = NewTable();
        var key = PersistenceKey.Create(Http, Tcp(Client(1), Virtual()), 32);
        _ = table.TryAddTemplate(key, 0, servers[0].Endpoint, 300, out _);
        servers[0].IsAvailable = false;
        Assert.False(table.TryGetTemplate(key, out _, out _));

        // A new template for the same client replaces the invalidated one.
        Assert.Equal(AddConnectionResult.Added, table.TryAddTemplate(key, 1, servers[1].Endpoint, 300, out _));
        Assert.True(table.TryGetTemplate(key, out _, out int server));
        Assert.Equal(1, server);
    }

    [Fact]
    public void Template_QuiescedServer_HonouredUnlessExpireQuiescentTemplate()
    {
        foreach (bool expireQuiescent in new[] { false, true })
        {
            var (table, _, _, servers) = NewTable(expireQuiescent: expireQuiescent);
            var key = PersistenceKey.Create(Http, Tcp(Client(1), Virtual()), 32);
            _ = table.TryAddTemplate(key, 0, servers[0].Endpoint, 300, out _);
            servers[0].Weight = 0;
            Assert.Equal(!expireQuiescent, table.TryGetTemplate(key, out _, out _));
        }
    }

    [Fact]
    public void Template_FirewallMark_ListedAsIpNone()
    {
        var (table, _, _, servers) = NewTable();
        var key = PersistenceKey.Create(VirtualServiceKey.ForFirewallMark(3), Tcp(Client(1), Virtual(0, 443)), 32);
        _ = table.TryAddTemplate(key, 0, servers[0].Endpoint with { Port = 0 }, 300, out var t);
        Assert.True(table.TryGetInfo(t, out var info));
        Assert.True(info.IsTemplate);
        Assert.Equal("IP", info.ProtocolName);
        Assert.Equal("NONE", info.StateName);
        Assert.Equal(TimeSpan.FromSeconds(300), info.Expires);
    }
}
