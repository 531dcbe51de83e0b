using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

public class ConnectionTableTests
{
    [Fact]
    public void TryAdd_Nat_FoundFromBothDirections()
    {
        var (table, _, _, servers) = NewTable();
        var inbound = Tcp(Client(1), Virtual());
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(inbound, 0, servers[0].Endpoint, ForwardingMethod.Nat), out var added));

        Assert.True(table.TryGetInbound(inbound, out var fromClient));
        Assert.True(table.TryGetOutbound(Tcp(servers[0].Endpoint, Client(1)), out var fromServer));
        Assert.Equal(added, fromClient);
        Assert.Equal(added, fromServer);
        Assert.False(table.TryGetInbound(Tcp(Client(1, 40001), Virtual()), out _));
        Assert.False(table.TryGetOutbound(Tcp(servers[1].Endpoint, Client(1)), out _));
        Assert.False(table.TryGetInbound(Udp(Client(1), Virtual()), out _));
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void TryAdd_FullNat_OutboundKeyIsServerToLocalAddress()
    {
        var (table, _, _, servers) = NewTable();
        var local = new InetEndpoint(InetAddress.Parse("198.51.100.1"), 5000);
        var inbound = Tcp(Client(1), Virtual());
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(inbound, 0, servers[0].Endpoint, ForwardingMethod.FullNat) { Local = local }, out var added));

        Assert.True(table.TryGetOutbound(Tcp(servers[0].Endpoint, local), out var found));
        Assert.Equal(added, found);
        Assert.False(table.TryGetOutbound(Tcp(servers[0].Endpoint, Client(1)), out _));
        Assert.True(table.TryGetInfo(added, out var info));
        Assert.Equal(local, info.Local);
    }

    /// <summary>
    /// UpdateAndGetServer on one table and Update then TryGetServer on a twin, packet for packet: the same result, server
    /// and method, the same state, expiry and real-server counters after each packet, for every method and family, and
    /// for random packets in both directions (TCP flags, UDP).
    /// </summary>
    [FsCheck.Xunit.Property(MaxTest = 200)]
    public Property UpdateAndGetServer_SameAsUpdateThenTryGetServer() =>
        Prop.ForAll(
            Arb.From(
                from method in Gen.Elements(ForwardingMethod.Nat, ForwardingMethod.FullNat, ForwardingMethod.DirectRouting, ForwardingMethod.Tunnel)
                from v6 in Gen.Elements(false, true)
                from udp in Gen.Elements(false, false, true)
                from packets in Gen.ArrayOf(
                    from inbound in Gen.Elements(true, false)
                    from flags in Gen.Elements(TcpFlags.Syn, TcpFlags.Ack, TcpFlags.Syn | TcpFlags.Ack, TcpFlags.Fin | TcpFlags.Ack, TcpFlags.Rst, TcpFlags.Psh | TcpFlags.Ack, TcpFlags.None)
                    from seconds in Gen.Choose(0, 3)
                    select (inbound, flags, seconds))
                select (method, v6, udp, packets)),
            input =>
            {
                var (method, v6, udp, packets) = input;
                var (joined, _, joinedClock, joinedServers) = NewTable();
                var (apart, _, apartClock, apartServers) = NewTable();
                var client = v6 ? InetEndpoint.Parse("[2001:db8:2::7]:5000") : Client(7);
                var service = v6 ? InetEndpoint.Parse("[2001:db8:ffff::1]:80") : Virtual();
                var flow = new FlowKey(udp ? L4Protocol.Udp : L4Protocol.Tcp, client, service);
                var local = new InetEndpoint(v6 ? InetAddress.Parse("2001:db8:fe::1") : InetAddress.Parse("198.51.100.1"), 5000);
                var connection = new NewConnection(flow, 1, v6 ? InetEndpoint.Parse("[2001:db8:1::10]:8080") : Server(1), method) { Local = method == ForwardingMethod.FullNat ? local : default };
                Assert.Equal(AddConnectionResult.Added, joined.TryAdd(connection, out var a));
                Assert.Equal(AddConnectionResult.Added, apart.TryAdd(connection, out var b));
                foreach (var (inbound, flags, seconds) in packets)
                {
                    joined.Tick(joinedClock, seconds);
                    apart.Tick(apartClock, seconds);
                    var direction = inbound ? PacketDirection.Inbound : PacketDirection.Outbound;
                    bool updated = joined.UpdateAndGetServer(a, direction, flags, out int server, out var read);
                    bool expected = apart.Update(b, direction, flags);
                    Assert.Equal(expected, updated);
                    if (expected)
                    {
                        Assert.True(apart.TryGetServer(b, out int apartServer, out var apartMethod));
                        Assert.Equal((apartServer, apartMethod), (server, read));
                        Assert.Equal((1, method), (server, read));
                    }
                    else
                    {
                        Assert.Equal(-1, server);
                    }

                    Assert.Equal(apart.TryGetInfo(b, out var apartInfo), joined.TryGetInfo(a, out var joinedInfo));
                    Assert.Equal(apartInfo, joinedInfo);
                    Assert.Equal(
                        (apartServers[1].ActiveConnections, apartServers[1].InactiveConnections),
                        (joinedServers[1].ActiveConnections, joinedServers[1].InactiveConnections));
                }
            });

    /// <summary>UpdateAndGetServer refuses an ended connection, a template, another table's handle and the default one, as Update does.</summary>
    [Fact]
    public void UpdateAndGetServer_RefusesWhatUpdateRefuses()
    {
        var (table, _, _, servers) = NewTable();
        var (other, _, _, _) = NewTable();
        _ = table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 1, servers[1].Endpoint, ForwardingMethod.DirectRouting), out var added);
        var key = PersistenceKey.Create(VirtualServiceKey.ForAddress(L4Protocol.Tcp, Virtual()), Tcp(Client(2), Virtual()), 32);
        Assert.Equal(AddConnectionResult.Added, table.TryAddTemplate(key, 0, servers[0].Endpoint, 300, out var template));

        Assert.True(table.UpdateAndGetServer(added, PacketDirection.Inbound, TcpFlags.Ack, out int server, out var method));
        Assert.Equal((1, ForwardingMethod.DirectRouting), (server, method));
        foreach (var handle in new[] { template, default })
        {
            Assert.False(table.Update(handle, PacketDirection.Inbound, TcpFlags.Ack));
            Assert.False(table.UpdateAndGetServer(handle, PacketDirection.Inbound, TcpFlags.Ack, out server, out _));
            Assert.Equal(-1, server);
        }

        Assert.False(other.UpdateAndGetServer(added, PacketDirection.Inbound, TcpFlags.Ack, out server, out _));
        Assert.Equal(-1, server);
        Assert.True(table.Remove(added));
        Assert.False(table.UpdateAndGetServer(added, PacketDirection.Inbound, TcpFlags.Ack, out server, out _));
        Assert.Equal(-1, server);
    }

    /// <summary>A reply's read (the lookup part of the slot) gives what the full read gives for it, and nothing once the connection ends.</summary>
    [Theory]
    [InlineData(ForwardingMethod.Nat)]
    [InlineData(ForwardingMethod.FullNat)]
    public void TryGetReply_AgreesWithTryGetForwarding_UntilTheConnectionEnds(ForwardingMethod method)
    {
        var (table, _, _, servers) = NewTable();
        var local = new InetEndpoint(InetAddress.Parse("198.51.100.1"), 5000);
        var inbound = Tcp(Client(1), Virtual());
        _ = table.TryAdd(new NewConnection(inbound, 1, servers[1].Endpoint, method) { Local = method == ForwardingMethod.FullNat ? local : default }, out var added);

        Assert.True(table.TryGetForwarding(added, out var forwarding));
        Assert.True(table.TryGetReply(added, out var client, out var virtualService, out int server, out var read));
        Assert.Equal((forwarding.Client, forwarding.Virtual, forwarding.RealServer, forwarding.Method), (client, virtualService, server, read));
        Assert.Equal((Client(1), Virtual(), 1, method), (client, virtualService, server, read));

        Assert.True(table.Remove(added));
        Assert.False(table.TryGetReply(added, out _, out _, out _, out _));
        Assert.False(table.TryGetReply(default, out _, out _, out _, out _));
    }

    [Fact]
    public void TryAdd_DirectRouting_NoOutboundEntryAndInputOnlyTable()
    {
        var (table, _, _, servers) = NewTable();
        var inbound = Tcp(Client(1), Virtual());
        _ = table.TryAdd(new NewConnection(inbound, 0, servers[0].Endpoint with { Port = 80 }, ForwardingMethod.DirectRouting), out var h);
        Assert.False(table.TryGetOutbound(Tcp(servers[0].Endpoint with { Port = 80 }, Client(1)), out _));

        // INPUT-ONLY: a client FIN in ESTABLISHED goes to FIN_WAIT (INPUT would give CLOSE_WAIT).
        Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Syn));
        Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Ack));
        Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Fin | TcpFlags.Ack));
        Assert.True(table.TryGetInfo(h, out var info));
        Assert.Equal(TcpConnectionState.FinWait, info.TcpState);
    }

    [Fact]
    public void TryAdd_SameInboundKeyTwice_ReturnsExisting()
    {
        var (table, _, _, servers) = NewTable();
        var inbound = Tcp(Client(1), Virtual());
        _ = table.TryAdd(new NewConnection(inbound, 0, servers[0].Endpoint, ForwardingMethod.Nat), out var first);
        Assert.Equal(AddConnectionResult.Exists, table.TryAdd(new NewConnection(inbound, 1, servers[1].Endpoint, ForwardingMethod.Nat), out var second));
        Assert.Equal(first, second);
        Assert.Equal(1, servers[0].InactiveConnections);
        Assert.Equal(0, servers[1].InactiveConnections);
    }

    [Fact]
    public void TryAdd_InvalidRequests_Rejected()
    {
        var (table, _, _, servers) = NewTable();
        var v6Client = new InetEndpoint(InetAddress.Parse("2001:db8::1"), 1000);
        Assert.Equal(AddConnectionResult.Invalid, table.TryAdd(new NewConnection(Tcp(v6Client, Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out _));
        Assert.Equal(AddConnectionResult.Invalid, table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 7, servers[0].Endpoint, ForwardingMethod.Nat), out _));
        Assert.Equal(AddConnectionResult.Invalid, table.TryAdd(new NewConnection(new FlowKey(L4Protocol.Gre, Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out _));
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void Ipv6_Connection_FoundFromBothDirections()
    {
        var (table, registry, _, _) = NewTable();
        var server = new RealServer(InetEndpoint.Parse("[2001:db8:1::10]:8080"), 1, ForwardingMethod.Nat);
        int index = registry.Register(server);
        var client = InetEndpoint.Parse("[2001:db8:2::5]:51000");
        var vip = InetEndpoint.Parse("[2001:db8:ffff::1]:80");
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(client, vip), index, server.Endpoint, ForwardingMethod.Nat), out var h));
        Assert.True(table.TryGetInbound(Tcp(client, vip), out var a));
        Assert.True(table.TryGetOutbound(Tcp(server.Endpoint, client), out var b));
        Assert.Equal(h, a);
        Assert.Equal(h, b);
        Assert.False(table.TryGetInbound(Tcp(client with { Port = 51001 }, vip), out _));
        Assert.Equal(1, server.InactiveConnections);
    }

    [Fact]
    public void Update_Handshake_MovesCountersInactiveToActiveAndBack()
    {
        var (table, _, clock, servers) = NewTable();
        _ = table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out var h);
        Assert.Equal((0, 1), (servers[0].ActiveConnections, servers[0].InactiveConnections));

        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Syn);
        Assert.Equal((1, 0), (servers[0].ActiveConnections, servers[0].InactiveConnections));
        _ = table.Update(h, PacketDirection.Outbound, TcpFlags.Syn | TcpFlags.Ack);
        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Ack);
        Assert.True(table.TryGetInfo(h, out var info));
        Assert.Equal("ESTABLISHED", info.StateName);
        Assert.Equal(TimeSpan.FromSeconds(900), info.Expires);

        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Rst);
        Assert.Equal((0, 1), (servers[0].ActiveConnections, servers[0].InactiveConnections));
        Assert.True(table.TryGetInfo(h, out info));
        Assert.Equal(TcpConnectionState.Close, info.TcpState);

        table.Tick(clock, 10);
        Assert.True(table.TryGetInbound(Tcp(Client(1), Virtual()), out _));
        table.Tick(clock, 1);
        Assert.False(table.TryGetInbound(Tcp(Client(1), Virtual()), out _));
        Assert.Equal((0, 0), (servers[0].ActiveConnections, servers[0].InactiveConnections));
        Assert.False(table.Update(h, PacketDirection.Inbound, TcpFlags.Ack));
    }

    [Fact]
    public void Expiry_EstablishedRefreshedByTraffic_ExpiresExactlyTimeoutAfterLastPacket()
    {
        var (table, _, clock, servers) = NewTable(timeouts: t => t.SetIpvsadm(30, 0, 0));
        var key = Tcp(Client(1), Virtual());
        _ = table.TryAdd(new NewConnection(key, 0, servers[0].Endpoint, ForwardingMethod.Nat), out var h);
        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Syn);
        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Ack);
        table.Tick(clock, 20);
        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Ack);

        // Never early: still there 30 s after the last packet; gone one tick later.
        table.Tick(clock, 30);
        Assert.True(table.TryGetInbound(key, out _));
        table.Tick(clock, 1);
        Assert.False(table.TryGetInbound(key, out _));
        Assert.Equal(1, table.Expired);
    }

    [Fact]
    public void Update_MoreShortenedTimeoutsThanTheRefileQueueHolds_AllExpireAtTheExactTick()
    {
        // Capacity 4096 gives the smallest re-file queue (1024): 3000 resets between two housekeeping runs go partly
        // through the queue and partly through the packet thread's own re-file under the lock.
        var (table, _, clock, servers) = NewTable(capacity: 4096);
        var handles = new ConnectionHandle[3000];
        for (int i = 0; i < handles.Length; i++)
        {
            _ = table.TryAdd(new NewConnection(Tcp(Client(i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out handles[i]);
            _ = table.Update(handles[i], PacketDirection.Inbound, TcpFlags.Syn);
            _ = table.Update(handles[i], PacketDirection.Inbound, TcpFlags.Ack);
        }

        table.Tick(clock, 5);
        foreach (var h in handles)
        {
            Assert.True(table.Update(h, PacketDirection.Inbound, TcpFlags.Rst));
        }

        table.Tick(clock, 10);
        Assert.Equal(3000, table.Count);
        table.Tick(clock, 1);
        Assert.Equal(0, table.Count);
        Assert.Equal(3000, table.Expired);
        Assert.Equal((0, 0), (servers[0].ActiveConnections, servers[0].InactiveConnections));
    }

    [Fact]
    public void Expiry_LongTimeoutBeyondWheel_ExpiresAtExactTick()
    {
        var (table, _, clock, servers) = NewTable(timeouts: t => t.SetIpvsadm(5000, 0, 0));
        var key = Tcp(Client(1), Virtual());
        _ = table.TryAdd(new NewConnection(key, 0, servers[0].Endpoint, ForwardingMethod.Nat), out var h);
        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Syn);
        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Ack);
        for (int i = 0; i < 5000; i++)
        {
            table.Tick(clock, 1);
        }

        Assert.True(table.TryGetInbound(key, out _));
        table.Tick(clock, 1);
        Assert.False(table.TryGetInbound(key, out _));
    }

    [Fact]
    public void Udp_TimeoutAndStateName()
    {
        var (table, _, clock, servers) = NewTable(timeouts: t => t.Udp = 10);
        var key = Udp(Client(1, 5353), Virtual(0, 53));
        _ = table.TryAdd(new NewConnection(key, 0, servers[0].Endpoint, ForwardingMethod.Nat), out var h);
        _ = table.Update(h, PacketDirection.Inbound);
        Assert.True(table.TryGetInfo(h, out var info));
        Assert.Equal("UDP", info.StateName);
        Assert.False(info.IsActive);
        Assert.Equal(1, servers[0].InactiveConnections);
        table.Tick(clock, 10);
        Assert.True(table.TryGetInbound(key, out _));
        table.Tick(clock, 1);
        Assert.False(table.TryGetInbound(key, out _));
        Assert.Equal(0, servers[0].InactiveConnections);
    }

    [Fact]
    public void Remove_ReleasesCountersAndStaleHandleFails()
    {
        var (table, _, _, servers) = NewTable();
        _ = table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out var h);
        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Syn);
        Assert.True(table.Remove(h));
        Assert.False(table.Remove(h));
        Assert.Equal((0, 0), (servers[0].ActiveConnections, servers[0].InactiveConnections));

        // The slot is reused by a new connection: the old handle must not touch it.
        _ = table.TryAdd(new NewConnection(Tcp(Client(2), Virtual()), 1, servers[1].Endpoint, ForwardingMethod.Nat), out var h2);
        Assert.Equal(h.Index, h2.Index);
        Assert.False(table.Update(h, PacketDirection.Inbound, TcpFlags.Syn));
        Assert.False(table.TryGetInfo(h, out _));
        Assert.True(table.TryGetInfo(h2, out _));
    }

    [Fact]
    public void ShouldReschedule_SynOnTimeWait_TrueOnEstablishedFalse()
    {
        var (table, _, _, servers) = NewTable();
        _ = table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out var h);
        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Syn);
        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Ack);
        Assert.False(table.ShouldReschedule(h, TcpFlags.Syn));
        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Fin);
        _ = table.Update(h, PacketDirection.Outbound, TcpFlags.Fin);
        Assert.True(table.TryGetInfo(h, out var info));
        Assert.Equal(TcpConnectionState.TimeWait, info.TcpState);
        Assert.True(table.ShouldReschedule(h, TcpFlags.Syn));
        Assert.False(table.ShouldReschedule(h, TcpFlags.Ack));
    }

    [Fact]
    public void ShouldReschedule_FinWaitDirectRouting_OnlyWithModeBit2()
    {
        foreach (int mode in new[] { 1, 3 })
        {
            var (table, _, _, servers) = NewTable(reuseMode: mode);
            _ = table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.DirectRouting), out var h);
            _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Syn);
            _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Ack);
            _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Fin);
            Assert.Equal(mode == 3, table.ShouldReschedule(h, TcpFlags.Syn));
        }

        var (off, _, _, s) = NewTable(reuseMode: 0);
        _ = off.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, s[0].Endpoint, ForwardingMethod.Nat), out var c);
        _ = off.Update(c, PacketDirection.Inbound, TcpFlags.Rst);
        Assert.False(off.ShouldReschedule(c, TcpFlags.Syn));
    }

    [Fact]
    public void ExpireNoDestinationConnections_RemovedServer_ConnectionDroppedOnLookup()
    {
        var (table, _, _, servers) = NewTable(expireNoDest: true);
        var key = Tcp(Client(1), Virtual());
        _ = table.TryAdd(new NewConnection(key, 0, servers[0].Endpoint, ForwardingMethod.Nat), out _);
        Assert.True(table.TryGetInbound(key, out _));
        servers[0].IsAvailable = false;
        Assert.False(table.TryGetInbound(key, out _));
        Assert.Equal(0, table.Count);
        Assert.Equal(0, servers[0].InactiveConnections);
    }

    [Fact]
    public void RemovedServer_WithoutExpireNoDest_ConnectionKept()
    {
        var (table, _, _, servers) = NewTable();
        var key = Tcp(Client(1), Virtual());
        _ = table.TryAdd(new NewConnection(key, 0, servers[0].Endpoint, ForwardingMethod.Nat), out _);
        servers[0].IsAvailable = false;
        Assert.True(table.TryGetInbound(key, out _));
    }

    [Fact]
    public void Full_NothingSheddable_RefusedAndCounted()
    {
        var (table, _, _, servers) = NewTable(capacity: 4);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out var h));
            _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Syn);
            _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Ack);
        }

        Assert.Equal(AddConnectionResult.Full, table.TryAdd(new NewConnection(Tcp(Client(9), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out _));
        Assert.Equal(1, table.Refused);
        Assert.Equal(4, table.Count);
    }

    [Fact]
    public void Full_IdleUdp_ShedOnlyAfterSixtySecondsWithoutPackets()
    {
        var (table, _, clock, servers) = NewTable(capacity: 4);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(UdpNat(i, servers), out var h));
            Assert.True(table.Update(h, PacketDirection.Inbound));
        }

        Assert.Equal(AddConnectionResult.Full, table.TryAdd(UdpNat(8, servers), out _));
        table.Tick(clock, 59);
        Assert.Equal(AddConnectionResult.Full, table.TryAdd(UdpNat(8, servers), out _));
        table.Tick(clock, 1);
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(UdpNat(9, servers), out _));
        Assert.Equal((1L, 2L), (table.Shed, table.Refused));
    }

    [Fact]
    public void Full_UdpBeforeItsFirstPacket_NotShedAsIdle()
    {
        // Added but not yet updated, a connection runs on the 3-second initial timeout: the kernel's todrop_entry,
        // which compares against the connection's current timeout, never finds it idle.
        var (table, _, _, servers) = NewTable(capacity: 4);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(UdpNat(i, servers), out _));
        }

        Assert.Equal(AddConnectionResult.Full, table.TryAdd(UdpNat(8, servers), out _));
        Assert.Equal(0, table.Shed);
        Assert.Equal(4, table.Count);
    }

    [Fact]
    public void Full_TimeoutRaised_ConnectionRefreshedUnderTheOldValueNotShedAsIdle()
    {
        // Refreshed at 0 under ESTABLISHED 900 s (expiry 900). Raised to 3600, the expiry minus the new value would
        // put the last packet 2700 s in the past, and flood defence would shed a connection used a second ago.
        var (table, _, clock, servers) = NewTable(capacity: 4);
        AddEstablished(table, servers, 4);
        table.Timeouts.SetIpvsadm(3600, 0, 0);
        table.Tick(clock, 1);
        Assert.Equal(AddConnectionResult.Full, table.TryAdd(TcpNat(8, servers), out _));
        Assert.Equal(0, table.Shed);

        // Idle for 60 s by then, and found so.
        table.Tick(clock, 59);
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(TcpNat(9, servers), out _));
        Assert.Equal(1, table.Shed);
    }

    [Fact]
    public void Full_TimeoutRaised_OnceEveryOldExpiryHasPassed_IdleMeasuredWithTheNewValue()
    {
        // Raised at 0 from 900 to 3600 (housekeeping sees it at 1): after 901 s no expiry set under 900 is left, and
        // the new value alone tells. The connections are refreshed at 1 (expiry 3601) and again at 1000.
        var (table, _, clock, servers) = NewTable(capacity: 4);
        var handles = AddEstablished(table, servers, 4);
        table.Timeouts.SetIpvsadm(3600, 0, 0);
        table.Tick(clock, 1);
        RefreshAll(table, handles);
        table.Tick(clock, 999);
        RefreshAll(table, handles);

        table.Tick(clock, 59);
        Assert.Equal(AddConnectionResult.Full, table.TryAdd(TcpNat(8, servers), out _));
        table.Tick(clock, 1);
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(TcpNat(9, servers), out _));
        Assert.Equal(1, table.Shed);
    }

    [Fact]
    public void Full_TimeoutRaisedAndLoweredBetweenPasses_EverySetValueAllowedFor()
    {
        // 900, then 30 for a moment (one connection refreshed under it: expiry 31), then 3600, all within one second
        // and no housekeeping pass between: the 30 s value must still be allowed for, or that connection, used a
        // second ago, would look idle.
        var (table, _, clock, servers) = NewTable(capacity: 4);
        var handles = AddEstablished(table, servers, 4);
        table.Timeouts.SetIpvsadm(30, 0, 0);
        Assert.True(table.Update(handles[0], PacketDirection.Inbound, TcpFlags.Ack));
        table.Timeouts.SetIpvsadm(3600, 0, 0);
        table.Tick(clock, 1);
        Assert.Equal(AddConnectionResult.Full, table.TryAdd(TcpNat(8, servers), out _));
        Assert.Equal((0L, 4), (table.Shed, table.Count));
    }

    private static void RefreshAll(ConnectionTable table, ConnectionHandle[] handles)
    {
        foreach (var handle in handles)
        {
            Assert.True(table.Update(handle, PacketDirection.Inbound, TcpFlags.Ack));
        }
    }

    /// <summary>A NAT TCP connection from client <paramref name="client"/> to the virtual service, on the first server.</summary>
    private static NewConnection TcpNat(int client, RealServer[] servers) =>
        new(Tcp(Client(client), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat);

    /// <summary>Adds <paramref name="count"/> established NAT connections on the first server, all refreshed now.</summary>
    private static ConnectionHandle[] AddEstablished(ConnectionTable table, RealServer[] servers, int count)
    {
        var handles = new ConnectionHandle[count];
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(TcpNat(i, servers), out handles[i]));
            _ = table.Update(handles[i], PacketDirection.Inbound, TcpFlags.Syn);
            _ = table.Update(handles[i], PacketDirection.Inbound, TcpFlags.Ack);
        }

        return handles;
    }

    /// <summary>A NAT UDP connection from client <paramref name="client"/> to the virtual service, on the first server.</summary>
    private static NewConnection UdpNat(int client, RealServer[] servers) =>
        new(Udp(Client(client), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat);

    [Fact]
    public void Full_HalfOpenPresent_ShedsHalfOpenNotEstablished()
    {
        var (table, _, _, servers) = NewTable(capacity: 4);
        for (int i = 0; i < 4; i++)
        {
            _ = table.TryAdd(new NewConnection(Tcp(Client(i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out var h);
            _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Syn);
            if (i != 2)
            {
                _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Ack);
            }
        }

        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(9), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out _));
        Assert.False(table.TryGetInbound(Tcp(Client(2), Virtual()), out _));
        Assert.Equal(1, table.Shed);
        Assert.Equal(4, table.Count);
        Assert.Equal(4, servers[0].ActiveConnections + servers[0].InactiveConnections);
    }

    [Fact]
    public void Listing_FormatsLikeIpvsadm()
    {
        var (table, _, _, servers) = NewTable();
        _ = table.TryAdd(new NewConnection(Tcp(Client(1, 52144), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out var h);
        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Syn);
        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Ack);
        var writer = new StringWriter();
        ConnectionListing.Write(writer, table.Enumerate());
        string[] lines = writer.ToString().Split(Environment.NewLine);
        Assert.Equal("IPVS connection entries", lines[0]);
        Assert.Equal("pro expire state       source             virtual            destination", lines[1]);
        Assert.Equal("TCP 15:00  ESTABLISHED 10.0.0.1:52144     192.0.2.10:80      172.16.0.0:8080", lines[2]);
    }

    [Fact]
    public void TryGetInboundBatch_MixedHitsMissesAndIpv6_SameAsOneByOne()
    {
        var (table, registry, _, servers) = NewTable(capacity: 256);
        var v6Server = new RealServer(InetEndpoint.Parse("[2001:db8:1::10]:8080"), 1, ForwardingMethod.Nat);
        int v6Index = registry.Register(v6Server);
        var keys = new List<FlowKey>();
        for (int i = 0; i < 100; i++)
        {
            var v4 = Tcp(Client(i), Virtual());
            var v6 = Tcp(new InetEndpoint(new InetAddress(0x2001_0db8_0002_0000UL, (ulong)i + 1), 5000), InetEndpoint.Parse("[2001:db8:ffff::1]:80"));
            if (i % 3 != 0)
            {
                _ = table.TryAdd(new NewConnection(v4, 0, servers[0].Endpoint, ForwardingMethod.Nat), out _);
                _ = table.TryAdd(new NewConnection(v6, v6Index, v6Server.Endpoint, ForwardingMethod.Nat), out _);
            }

            keys.Add(v4);
            keys.Add(v6);
        }

        int found = BatchedLookupTests.AssertSameAsOneByOne([.. keys], table.TryGetInboundBatch, table.TryGetInbound);
        Assert.Equal(132, found);
        Assert.Throws<ArgumentException>(() => table.TryGetInboundBatch(keys.ToArray(), new ConnectionHandle[3]));
    }

    [Fact]
    public void TryGetOutboundBatch_NatFullNatDirectRoutingMissesAndIpv6_SameAsOneByOne()
    {
        var (table, registry, _, servers) = NewTable(capacity: 512);
        var v6Server = new RealServer(InetEndpoint.Parse("[2001:db8:1::10]:8080"), 1, ForwardingMethod.Nat);
        int v6Index = registry.Register(v6Server);
        var replies = new List<FlowKey>();
        for (int i = 0; i < 150; i++)
        {
            var method = (i % 4) switch { 0 => ForwardingMethod.Nat, 1 => ForwardingMethod.FullNat, 2 => ForwardingMethod.DirectRouting, _ => ForwardingMethod.Nat };
            var local = new InetEndpoint(InetAddress.Parse("198.51.100.1"), (ushort)(6000 + i));
            var server = servers[i & 1].Endpoint;
            var v6Client = new InetEndpoint(new InetAddress(0x2001_0db8_0002_0000UL, (ulong)i + 1), 5000);
            if (i % 5 != 0)
            {
                _ = table.TryAdd(new NewConnection(Tcp(Client(i), Virtual()), i & 1, server, method) { Local = local }, out _);
                _ = table.TryAdd(new NewConnection(Tcp(v6Client, InetEndpoint.Parse("[2001:db8:ffff::1]:80")), v6Index, v6Server.Endpoint, ForwardingMethod.Nat), out _);
            }

            replies.Add(Tcp(server, method == ForwardingMethod.FullNat ? local : Client(i)));
            replies.Add(Tcp(v6Server.Endpoint, v6Client));
        }

        int found = BatchedLookupTests.AssertSameAsOneByOne([.. replies], table.TryGetOutboundBatch, table.TryGetOutbound);

        // 120 of 150 clients have connections: 90 NAT or full NAT (found) and 30 direct routing (not), plus 120 IPv6.
        Assert.Equal(90 + 120, found);
        Assert.Throws<ArgumentException>(() => table.TryGetOutboundBatch(replies.ToArray(), new ConnectionHandle[3]));
    }

    /// <summary>One connection of a generated batch: which client, family and method, and whether it is malformed (an unknown real server).</summary>
    public readonly record struct BatchItem(int Client, bool IPv6, ForwardingMethod Method, bool Invalid);

    private static NewConnection ToConnection(BatchItem item, int v6Server)
    {
        var local = new InetEndpoint(item.IPv6 ? InetAddress.Parse("2001:db8:fe::1") : InetAddress.Parse("198.51.100.1"), (ushort)(5000 + item.Client));
        var inbound = item.IPv6
            ? Tcp(new InetEndpoint(new InetAddress(0x2001_0db8_0002_0000UL, (ulong)item.Client + 1), 5000), InetEndpoint.Parse("[2001:db8:ffff::1]:80"))
            : Tcp(Client(item.Client), Virtual());
        int server = item.Invalid ? 99 : item.IPv6 ? v6Server : item.Client & 1;
        var destination = item.IPv6 ? InetEndpoint.Parse("[2001:db8:1::10]:8080") : Server(item.Client & 1);
        return new NewConnection(inbound, server, destination, item.Method) { Local = local };
    }

    [FsCheck.Xunit.Property(MaxTest = 200)]
    public Property TryAddBatch_RandomConnections_SameResultsHandlesAndCountersAsOneByOne() =>
        Prop.ForAll(
            Arb.From(Gen.ArrayOf(
                from c in Gen.Choose(0, 60)
                from v6 in Gen.Elements(false, false, false, true)
                from m in Gen.Elements(ForwardingMethod.Nat, ForwardingMethod.FullNat, ForwardingMethod.DirectRouting, ForwardingMethod.Tunnel)
                from bad in Gen.Elements(false, false, false, false, false, false, false, true)
                select new BatchItem(c, v6, m, bad))),
            items =>
            {
                // Capacity 24 per family, so long batches also exercise shedding and refusal.
                var (batchTable, batchRegistry, _, batchServers) = NewTable(capacity: 24);
                var (oneTable, oneRegistry, _, oneServers) = NewTable(capacity: 24);
                int v6Batch = batchRegistry.Register(new RealServer(InetEndpoint.Parse("[2001:db8:1::10]:8080"), 1, ForwardingMethod.Nat));
                int v6One = oneRegistry.Register(new RealServer(InetEndpoint.Parse("[2001:db8:1::10]:8080"), 1, ForwardingMethod.Nat));
                var connections = items.Select(i => ToConnection(i, v6Batch)).ToArray();
                var handles = new ConnectionHandle[connections.Length];
                var results = new AddConnectionResult[connections.Length];

                int added = batchTable.TryAddBatch(connections, handles, results);

                int expectedAdded = 0;
                var oneHandles = new ConnectionHandle[items.Length];
                for (int i = 0; i < items.Length; i++)
                {
                    var result = oneTable.TryAdd(ToConnection(items[i], v6One), out var handle);
                    expectedAdded += result == AddConnectionResult.Added ? 1 : 0;
                    Assert.Equal(result, results[i]);
                    oneHandles[i] = handle;

                    // The same slot and generation; the handles differ only in their table's tag.
                    Assert.Equal((handle.IsSome, handle.IsIPv6, handle.Index, handle.Generation), (handles[i].IsSome, handles[i].IsIPv6, handles[i].Index, handles[i].Generation));
                }

                Assert.Equal(expectedAdded, added);
                Assert.Equal(oneTable.Count, batchTable.Count);
                Assert.Equal(oneTable.Refused, batchTable.Refused);
                Assert.Equal(oneTable.Shed, batchTable.Shed);
                for (int s = 0; s < batchServers.Length; s++)
                {
                    Assert.Equal(oneServers[s].InactiveConnections, batchServers[s].InactiveConnections);
                }

                // Handles of connections shed later in the batch are stale in both tables alike.
                for (int i = 0; i < handles.Length; i++)
                {
                    var h = handles[i];
                    if (h == ConnectionHandle.None)
                    {
                        continue;
                    }

                    bool live = batchTable.TryGetInfo(h, out var info);
                    Assert.Equal(oneTable.TryGetInfo(oneHandles[i], out var oneInfo), live);
                    if (live)
                    {
                        Assert.Equal(oneInfo, info);
                        Assert.True(batchTable.TryGetInbound(new FlowKey(info.Protocol, info.Client, info.Virtual), out var found));
                        Assert.Equal(h, found);
                    }
                }
            });

    [Fact]
    public void TryAddBatch_HandlesShorterThanConnections_Throws()
    {
        var (table, _, _, servers) = NewTable();
        var connections = new[] { new NewConnection(Tcp(Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) };
        Assert.Throws<ArgumentException>(() => table.TryAddBatch(connections, [], new AddConnectionResult[1]));
        Assert.Throws<ArgumentException>(() => table.TryAddBatch(connections, new ConnectionHandle[1], []));
    }
}
