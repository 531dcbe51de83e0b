using System.Buffers.Binary;
using Lvs.ConnectionTracking;
using Lvs.Core;
using PacketDotNet;

namespace Lvs.Director.Tests;

/// <summary>End to end through the engine: frames in from simulated clients and real servers, frames out checked with PacketDotNet.</summary>
public class DirectorEngineForwardingTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Nat_TcpHandshakeDataAndClose_TranslatedBothWaysStateAndCountersFollow(bool ipv6)
    {
        using var lab = new Lab(ipv6: ipv6);
        var key = lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        long inBytes = 0;
        long outBytes = 0;

        var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S");
        var v = lab.Send(syn, 0);
        Assert.Equal(FrameAction.Transmit, v.Action);
        Assert.Equal(1, v.Link);
        var eth = syn.Output(v);
        PacketAssert.Addresses(eth, Lab.ServerLinkMac, Lab.ServerMac(1));
        var ip = PacketAssert.Ip(eth);
        PacketAssert.Endpoints(ip, PacketAssert.Tcp(eth), lab.Client, 40000, lab.Server(1), 8080);
        Assert.Equal(63, ip.TimeToLive);
        inBytes += ip.TotalLength;
        Assert.Equal("SYN_RECV", Assert.Single(lab.Engine.Connections.Enumerate()).StateName);

        var synAck = Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, lab.Client, 40000, "SA");
        v = lab.Send(synAck, 1);
        Assert.Equal(0, v.Link);
        eth = synAck.Output(v);
        PacketAssert.Addresses(eth, Lab.ClientLinkMac, Lab.ClientMac);
        ip = PacketAssert.Ip(eth);
        PacketAssert.Endpoints(ip, PacketAssert.Tcp(eth), lab.Vip, 80, lab.Client, 40000);
        outBytes += ip.TotalLength;

        foreach (var (flags, payload) in new[] { ("A", 0), ("A", 100), ("FA", 0) })
        {
            var frame = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, flags, payload);
            v = lab.Send(frame, 0);
            eth = frame.Output(v);
            ip = PacketAssert.Ip(eth);
            PacketAssert.Endpoints(ip, PacketAssert.Tcp(eth), lab.Client, 40000, lab.Server(1), 8080);
            inBytes += ip.TotalLength;
            if (flags == "A" && payload == 0)
            {
                Assert.Equal("ESTABLISHED", Assert.Single(lab.Engine.Connections.Enumerate()).StateName);
            }
        }

        // The kernel's table: a client FIN on an established connection is CLOSE_WAIT (tcp_states, input direction).
        Assert.Equal("CLOSE_WAIT", Assert.Single(lab.Engine.Connections.Enumerate()).StateName);
        var service = lab.Table.Snapshot.Find(key)!;
        var counters = lab.Engine.GetCounters(service);
        Assert.Equal(1, counters.Connections);
        Assert.Equal(4, counters.InPackets);
        Assert.Equal(1, counters.OutPackets);
        Assert.Equal(inBytes, counters.InBytes);
        Assert.Equal(outBytes, counters.OutBytes);
        Assert.Equal(counters, lab.Engine.GetCounters(service.RealServers[0]));
    }

    [Fact]
    public void FullNat_SourceBecomesLocalAddress_ReplyToLocalAddressGoesBackToClient()
    {
        using var lab = new Lab(new DirectorOptions { LocalAddresses = [Lab.LocalV4] });
        lab.AddService("rr", ForwardingMethod.FullNat, count: 1);
        var syn = Lab.Tcp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, 40000, lab.Vip, 80, "S");
        var v = lab.Send(syn, 0);
        var eth = syn.Output(v);
        var ip = PacketAssert.Ip(eth);
        var tcp = PacketAssert.Tcp(eth);
        Assert.Equal(lab.Local.ToIPAddress(), ip.SourceAddress);
        Assert.Equal(lab.Server(1).ToIPAddress(), ip.DestinationAddress);
        Assert.Equal(8080, tcp.DestinationPort);
        ushort localPort = tcp.SourcePort;
        Assert.Equal(1, lab.Engine.LocalAddresses!.InUse);

        var synAck = Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, lab.Local, localPort, "SA");
        v = lab.Send(synAck, 1);
        Assert.Equal(0, v.Link);
        eth = synAck.Output(v);
        PacketAssert.Addresses(eth, Lab.ClientLinkMac, Lab.RouterMac);
        PacketAssert.Endpoints(PacketAssert.Ip(eth), PacketAssert.Tcp(eth), lab.Vip, 80, lab.RemoteClient, 40000);
    }

    [Fact]
    public void Nat_ReplyBehindGateway_FollowsTheGatewaysCurrentMac()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var syn = Lab.Tcp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, 40000, lab.Vip, 80, "S");
        _ = lab.Send(syn, 0);
        Frame SynAck() => Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, lab.RemoteClient, 40000, "SA");

        var first = SynAck();
        PacketAssert.Addresses(first.Output(lab.Send(first, 1)), Lab.ClientLinkMac, Lab.RouterMac);

        // The gateway moves to another MAC: the next reply goes there.
        var moved = MacAddress.Parse("02:00:00:00:00:fd");
        lab.Engine.Neighbors.Set(0, InetAddress.Parse("10.0.0.254"), moved);
        var second = SynAck();
        PacketAssert.Addresses(second.Output(lab.Send(second, 1)), Lab.ClientLinkMac, moved);

        // The gateway is forgotten: the reply waits for its resolution.
        lab.Engine.Neighbors.Invalidate(0, InetAddress.Parse("10.0.0.254"));
        var third = SynAck();
        var verdict = lab.Send(third, 1);
        Assert.Equal((FrameAction.ResolveNeighbor, 0, InetAddress.Parse("10.0.0.254")), (verdict.Action, verdict.Link, verdict.NextHop));
    }

    [Fact]
    public void DirectRouting_TheMacsChangeAndTheTtlIsDecremented()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.DirectRouting, count: 1);
        var syn = Lab.Tcp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, 40000, lab.Vip, 80, "S");
        var original = syn.Buffer[syn.Offset..(syn.Offset + syn.Length)];
        var v = lab.Send(syn, 0);
        Assert.Equal(1, v.Link);
        var eth = syn.Output(v);
        PacketAssert.Addresses(eth, Lab.ServerLinkMac, Lab.ServerMac(1));
        var output = syn.Buffer[v.Offset..(v.Offset + v.Length)];
        Assert.Equal(PacketAssert.HopLimitDecremented(original, 14)[12..], output[12..]);
    }

    [Fact]
    public void Tunnel_IpIp_OuterHeaderFromTheLinkAddressToTheRealServer()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Tunnel, count: 1);
        var syn = Lab.Tcp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, 40000, lab.Vip, 80, "S");
        var v = lab.Send(syn, 0);
        var eth = syn.Output(v);
        PacketAssert.Addresses(eth, Lab.ServerLinkMac, Lab.ServerMac(1));
        var outer = (IPv4Packet)PacketAssert.Ip(eth);
        Assert.Equal(ProtocolType.IPv4, outer.Protocol);
        Assert.Equal(InetAddress.Parse("10.1.0.1").ToIPAddress(), outer.SourceAddress);
        Assert.Equal(lab.Server(1).ToIPAddress(), outer.DestinationAddress);
        var inner = (IPv4Packet)outer.PayloadPacket;
        Assert.Equal(lab.Vip.ToIPAddress(), inner.DestinationAddress);
        Assert.Equal(lab.RemoteClient.ToIPAddress(), inner.SourceAddress);
    }

    /// <summary>
    /// A tunnelled packet is checked against the MTU of the link towards the real server (the kernel's route MTU less
    /// the tunnel's overhead), not a fixed one: on a 1400-byte link an IPIP packet may carry 1380 bytes (a bigger one
    /// with DF is answered with fragmentation needed quoting 1380), on a 9000-byte link 8980.
    /// </summary>
    [Theory]
    [InlineData(1400, 1380, false)]
    [InlineData(1400, 1381, true)]
    [InlineData(9000, 3000, false)]
    [InlineData(9000, 8981, true)]
    public void Tunnel_PacketOverTheServerLinksMtuLessTheOverhead_AnsweredWithFragmentationNeeded(int linkMtu, int ipLength, bool tooBig)
    {
        using var lab = new Lab(serverLinkMtu: linkMtu);
        lab.AddService("rr", ForwardingMethod.Tunnel, count: 1);
        var syn = Lab.Tcp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, 40000, lab.Vip, 80, "S", payload: ipLength - 40);
        syn.Buffer[syn.Offset + 14 + 6] |= 0x40; // DF, as TCP sends
        syn.FixIPv4HeaderChecksum();
        var buffer = new byte[syn.Offset + syn.Length + 256];
        syn.Buffer.AsSpan(0, syn.Offset + syn.Length).CopyTo(buffer);

        var v = lab.Worker.Process(buffer, syn.Offset, syn.Length, 0);

        Assert.Equal(FrameAction.Transmit, v.Action);
        if (tooBig)
        {
            Assert.Equal(0, v.Link);
            Assert.Equal(DropReason.FragmentationNeeded, v.Reason);
            var icmp = buffer.AsSpan(v.Offset + 14 + 20, 8).ToArray();
            Assert.Equal([3, 4], icmp[..2]);
            Assert.Equal(linkMtu - 20, BinaryPrimitives.ReadUInt16BigEndian(icmp.AsSpan(6)));
        }
        else
        {
            Assert.Equal(1, v.Link);
            Assert.Equal(14 + 20 + ipLength, v.Length);
        }
    }

    [Fact]
    public void Udp_Nat_DatagramAndReply_Translated()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 2, protocol: L4Protocol.Udp, port: 53);
        var query = Lab.Udp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 5353, lab.Vip, 53);
        var v = lab.Send(query, 0);
        var eth = query.Output(v);
        var udp = PacketAssert.Udp(eth);
        var ip = PacketAssert.Ip(eth);
        var server = InetAddress.FromIPAddress(ip.DestinationAddress);
        Assert.Equal(8080, udp.DestinationPort);

        var reply = Lab.Udp(Lab.ServerMac(1), Lab.ServerLinkMac, server, 8080, lab.Client, 5353);
        v = lab.Send(reply, 1);
        eth = reply.Output(v);
        PacketAssert.Endpoints(PacketAssert.Ip(eth), PacketAssert.Udp(eth), lab.Vip, 53, lab.Client, 5353);
        Assert.Equal("UDP", Assert.Single(lab.Engine.Connections.Enumerate()).StateName);
    }

    [Fact]
    public void OnePacketScheduling_EachDatagramScheduledAloneAndNoConnectionKept()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.DirectRouting, count: 3, protocol: L4Protocol.Udp, port: 53, onePacket: true);
        var seen = new List<string>();
        for (int i = 0; i < 6; i++)
        {
            var query = Lab.Udp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 5353, lab.Vip, 53);
            var v = lab.Send(query, 0);
            seen.Add(query.Output(v).DestinationHardwareAddress.ToString());
        }

        Assert.Empty(lab.Engine.Connections.Enumerate());
        Assert.Equal(3, seen.Distinct().Count());
        Assert.Equal(seen[..3], seen[3..]);
    }

    [Fact]
    public void OnePacketScheduling_Persistent_EveryDatagramRefreshesTheTemplate()
    {
        // ip_vs_sched_persist releases the template with ip_vs_conn_put (which re-arms its timer with its timeout) for
        // every connection it places, one-packet ones included: datagrams 200 s apart keep a 300 s template alive.
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.DirectRouting, count: 3, protocol: L4Protocol.Udp, port: 53, persistence: 300, onePacket: true);
        string SendQuery()
        {
            var query = Lab.Udp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 5353, lab.Vip, 53);
            return query.Output(lab.Send(query, 0)).DestinationHardwareAddress.ToString();
        }

        string first = SendQuery();
        for (int i = 0; i < 4; i++)
        {
            lab.Time.Advance(TimeSpan.FromSeconds(200));
            _ = lab.Engine.Connections.RunHousekeeping();
            Assert.Equal(first, SendQuery());
        }

        var template = Assert.Single(lab.Engine.Connections.Enumerate());
        Assert.True(template.IsTemplate);

        // With no datagram for longer than the timeout the template ends, and the next one is scheduled afresh.
        lab.Time.Advance(TimeSpan.FromSeconds(302));
        _ = lab.Engine.Connections.RunHousekeeping();
        Assert.Empty(lab.Engine.Connections.Enumerate());
        Assert.NotEqual(first, SendQuery());
    }

    [Theory]
    [InlineData(false, "A", 5)]
    [InlineData(false, "PA", 5)]
    [InlineData(false, "F", 0)]
    [InlineData(true, "A", 5)]
    public void TcpNotSyn_NoConnection_AnsweredWithTheHostsReset(bool ipv6, string flags, int payload)
    {
        // ip_vs_in lets the segment through to the host, whose stack resets it (tcp_v4_send_reset): with ACK the reset
        // takes the segment's acknowledgment number as its sequence number; without, it acknowledges the segment.
        using var lab = new Lab(ipv6: ipv6);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var segment = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, flags, payload);
        var sent = new EthernetPacket(new PacketDotNet.Utils.ByteArraySegment(segment.Buffer[segment.Offset..(segment.Offset + segment.Length)])).Extract<TcpPacket>();

        var verdict = lab.Send(segment, 0);

        Assert.Equal(FrameAction.Transmit, verdict.Action);
        Assert.Equal(0, verdict.Link);
        Assert.Equal(DropReason.NotSyn, verdict.Reason);
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.NotSyn));
        var eth = segment.Output(verdict);
        PacketAssert.Addresses(eth, Lab.ClientLinkMac, Lab.ClientMac);
        var ip = PacketAssert.Ip(eth);
        var reset = PacketAssert.Tcp(eth);
        PacketAssert.Endpoints(ip, reset, lab.Vip, 80, lab.Client, 40000);
        Assert.True(reset.Reset);
        Assert.Empty(reset.PayloadData ?? []);
        if (sent.Acknowledgment)
        {
            Assert.False(reset.Acknowledgment);
            Assert.Equal(sent.AcknowledgmentNumber, reset.SequenceNumber);
        }
        else
        {
            Assert.True(reset.Acknowledgment);
            Assert.Equal(0u, reset.SequenceNumber);
            Assert.Equal(sent.SequenceNumber + (uint)payload + (sent.Finished ? 1u : 0u), reset.AcknowledgmentNumber);
        }

        Assert.True(ipv6 ? reset.ValidChecksum : ((IPv4Packet)ip).ValidChecksum && reset.ValidChecksum);
        Assert.Empty(lab.Engine.Connections.Enumerate());

        // A reset is never answered, and the option off drops the segment silently.
        var rst = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40001, lab.Vip, 80, "R");
        Assert.Equal(FrameAction.Drop, lab.Send(rst, 0).Action);
        using var quiet = new Lab(new DirectorOptions { ResetUnmatchedTcp = false }, ipv6: ipv6);
        quiet.AddService("rr", ForwardingMethod.Nat, count: 1);
        var again = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, quiet.Client, 40000, quiet.Vip, 80, flags, payload);
        Assert.Equal(FrameAction.Drop, quiet.Send(again, 0).Action);
    }

    /// <summary>
    /// The host's stack checks the checksum before it would answer (tcp_v4_rcv and tcp_v6_rcv drop a wrong one as a
    /// checksum error): a segment whose checksum is wrong is dropped unanswered, counted as such.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TcpNotSyn_NoConnection_WrongChecksum_DroppedUnanswered(bool ipv6)
    {
        using var lab = new Lab(ipv6: ipv6);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var segment = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "PA", payload: 5);
        segment.Buffer[segment.Offset + segment.Length - 1] ^= 0x20;

        var verdict = lab.Send(segment, 0);

        Assert.Equal((FrameAction.Drop, DropReason.BadInputChecksum), (verdict.Action, verdict.Reason));
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.BadInputChecksum));
        Assert.Equal(0, lab.Engine.GetDropCount(DropReason.NotSyn));

        // The same segment with its checksum right is answered (the check is what withheld the reset).
        var intact = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "PA", payload: 5);
        Assert.Equal((FrameAction.Transmit, DropReason.NotSyn), (lab.Send(intact, 0) is var answered ? (answered.Action, answered.Reason) : default));
    }

    /// <summary>The reset carries the segment's DSCP with the ECN bits cleared, as tcp_v4_send_reset and tcp_v6_send_reset send it.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TcpNotSyn_NoConnection_ResetCarriesTheSegmentsDscp_NotItsEcn(bool ipv6)
    {
        using var lab = new Lab(ipv6: ipv6);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var segment = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "A");
        var ip = segment.Buffer.AsSpan(segment.Offset + 14);
        const byte DsField = 0xB9; // DSCP 46 (EF), ECN ECT(1)
        if (ipv6)
        {
            ip[0] = (byte)(0x60 | (DsField >> 4));
            ip[1] = (byte)((DsField << 4) | (ip[1] & 0x0F));
        }
        else
        {
            ip[1] = DsField;
            ip[10] = ip[11] = 0;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..20]));
        }

        var verdict = lab.Send(segment, 0);

        Assert.Equal(FrameAction.Transmit, verdict.Action);
        var reply = PacketAssert.Ip(segment.Output(verdict));
        Assert.Equal(0xB8, reply is IPv4Packet v4 ? v4.TypeOfService : ((IPv6Packet)reply).TrafficClass);
        Assert.True(reply is not IPv4Packet four || four.ValidIPChecksum);
    }

    /// <summary>No host answers a segment from a multicast, broadcast or unspecified source (RFC 1122 section 4.2.3.10).</summary>
    [Theory]
    [InlineData("224.0.0.5")]
    [InlineData("255.255.255.255")]
    [InlineData("0.0.0.0")]
    [InlineData("ff02::1")]
    [InlineData("::")]
    public void TcpNotSyn_NoConnection_FromAnAddressNoHostAnswers_DroppedWithoutReset(string source)
    {
        using var lab = new Lab(ipv6: source.Contains(':'));
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var segment = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, InetAddress.Parse(source), 40000, lab.Vip, 80, "A");

        var verdict = lab.Send(segment, 0);

        Assert.Equal((FrameAction.Drop, DropReason.NotSyn), (verdict.Action, verdict.Reason));
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.NotSyn));
    }

    [Fact]
    public void TcpNotSyn_NoConnection_NotScheduledUnlessSloppyTcp()
    {
        // Not scheduled: answered with the host's reset back on the client's link (TcpNotSyn_NoConnection_AnsweredWithTheHostsReset).
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var ack = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "A");
        var v = lab.Send(ack, 0);
        Assert.Equal(FrameAction.Transmit, v.Action);
        Assert.Equal(0, v.Link);
        Assert.True(PacketAssert.Tcp(ack.Output(v)).Reset);
        Assert.Equal(DropReason.NotSyn, v.Reason);
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.NotSyn));
        Assert.Empty(lab.Engine.Connections.Enumerate());

        using var sloppy = new Lab(new DirectorOptions { SloppyTcp = true });
        sloppy.AddService("rr", ForwardingMethod.Nat, count: 1);
        ack = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, sloppy.Client, 40000, sloppy.Vip, 80, "A");
        Assert.Equal(FrameAction.Transmit, sloppy.Send(ack, 0).Action);
        Assert.Single(sloppy.Engine.Connections.Enumerate());
    }

    [Fact]
    public void Persistence_NewConnectionsOfOneClientStickToItsServer()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 3, persistence: 300);
        var servers = new HashSet<string>();
        for (ushort port = 40000; port < 40006; port++)
        {
            var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, port, lab.Vip, 80, "S");
            servers.Add(PacketAssert.Ip(syn.Output(lab.Send(syn, 0))).DestinationAddress.ToString());
        }

        Assert.Single(servers);
        Assert.Single(lab.Engine.Connections.Enumerate(), c => c.IsTemplate);
        Assert.Equal(6, lab.Engine.Connections.Enumerate().Count(c => !c.IsTemplate));
    }

    [Fact]
    public void EditRealServer_NothingChanged_WrrRestartsAtTheListHead()
    {
        // ipvsadm -e with the options a server already has still calls wrr's upd_dest, which puts the mark back at the
        // list head: the next connection goes to the head server again (server 3, added last), not to server 2.
        using var lab = new Lab();
        var key = lab.AddService("wrr", ForwardingMethod.Nat, count: 3);
        string Connect(ushort port)
        {
            var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, port, lab.Vip, 80, "S");
            return PacketAssert.Ip(syn.Output(lab.Send(syn, 0))).DestinationAddress.ToString();
        }

        Assert.Equal(lab.Server(3).ToString(), Connect(40000));
        Assert.Equal(lab.Server(2).ToString(), Connect(40001));
        lab.Table.EditRealServer(key, new RealServerOptions(new InetEndpoint(lab.Server(1), 8080)) { Method = ForwardingMethod.Nat });
        Assert.Equal(lab.Server(3).ToString(), Connect(40002));
        Assert.Equal(lab.Server(2).ToString(), Connect(40003));
        Assert.Equal(lab.Server(1).ToString(), Connect(40004));
    }

    [Fact]
    public void Drain_WeightZero_ExistingConnectionGoesOnNewOnesGoElsewhere()
    {
        using var lab = new Lab();
        var key = lab.AddService("rr", ForwardingMethod.Nat, count: 2);
        var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S");
        var first = PacketAssert.Ip(syn.Output(lab.Send(syn, 0))).DestinationAddress;
        var drained = InetAddress.FromIPAddress(first);
        lab.Table.EditRealServer(key, new RealServerOptions(new InetEndpoint(drained, 8080)) { Method = ForwardingMethod.Nat, Weight = 0 });

        var again = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "A");
        Assert.Equal(first, PacketAssert.Ip(again.Output(lab.Send(again, 0))).DestinationAddress);
        for (ushort port = 40001; port < 40005; port++)
        {
            var next = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, port, lab.Vip, 80, "S");
            Assert.NotEqual(first, PacketAssert.Ip(next.Output(lab.Send(next, 0))).DestinationAddress);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DeletedRealServer_KeepsItsConnectionsUnlessExpireNodestConn(bool expireNodest)
    {
        using var lab = new Lab(new DirectorOptions { Connections = new ConnectionTableOptions { ExpireNoDestinationConnections = expireNodest } });
        var key = lab.AddService("rr", ForwardingMethod.Nat, count: 2);
        var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S");
        var first = InetAddress.FromIPAddress(PacketAssert.Ip(syn.Output(lab.Send(syn, 0))).DestinationAddress);
        lab.Table.DeleteRealServer(key, new InetEndpoint(first, 8080));

        var ack = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "A");
        var v = lab.Send(ack, 0);
        if (expireNodest)
        {
            // The connection ends with the packet, which is not a SYN, so not scheduled again: as in ip_vs_in since the
            // kernel sets cp = NULL after ip_vs_conn_expire_now, it goes on to the host, whose stack resets it.
            Assert.Equal(FrameAction.Transmit, v.Action);
            Assert.Equal(DropReason.NotSyn, v.Reason);
            Assert.True(PacketAssert.Tcp(ack.Output(v)).Reset);
            Assert.Empty(lab.Engine.Connections.Enumerate());
        }
        else
        {
            Assert.Equal(first.ToIPAddress(), PacketAssert.Ip(ack.Output(v)).DestinationAddress);
        }

        var next = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40001, lab.Vip, 80, "S");
        Assert.NotEqual(first.ToIPAddress(), PacketAssert.Ip(next.Output(lab.Send(next, 0))).DestinationAddress);
    }

    /// <summary>
    /// What the namespace lab met: a client that reuses the ports of a direct-routing connection still in FIN_WAIT (the
    /// last state a director that sees one direction reaches) after its server was deleted. As ip_vs_in, the SYN
    /// follows the old connection to the deleted server with conn_reuse_mode 1 (the default: only TIME_WAIT and CLOSE
    /// are rescheduled), and is scheduled afresh on a live server when bit 2 is set (3).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void DirectRouting_SynReusingAFinWaitConnectionOfADeletedServer_FollowsItUnlessReuseModeBit2(int reuseMode)
    {
        using var lab = new Lab(new DirectorOptions { Connections = new ConnectionTableOptions { ConnectionReuseMode = reuseMode } });
        var key = lab.AddService("rr", ForwardingMethod.DirectRouting, count: 2);
        var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S");
        var v = lab.Send(syn, 0);
        var first = syn.Output(v).DestinationHardwareAddress.ToString();
        foreach (var flags in new[] { "A", "FA", "A" })
        {
            Assert.Equal(FrameAction.Transmit, lab.Send(Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, flags), 0).Action);
        }

        Assert.Equal("FIN_WAIT", Assert.Single(lab.Engine.Connections.Enumerate()).StateName);
        int firstServer = Enumerable.Range(1, 2).Single(n => Mac(n) == first);
        lab.Table.DeleteRealServer(key, new InetEndpoint(lab.Server(firstServer), 80));

        var fresh = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40001, lab.Vip, 80, "S");
        Assert.NotEqual(first, fresh.Output(lab.Send(fresh, 0)).DestinationHardwareAddress.ToString());
        var again = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S");
        var to = again.Output(lab.Send(again, 0)).DestinationHardwareAddress.ToString();
        if (reuseMode == 1)
        {
            Assert.Equal(first, to);
        }
        else
        {
            Assert.NotEqual(first, to);
        }

        static string Mac(int n) => Lab.ServerMac(n).ToString().Replace(":", "", StringComparison.Ordinal).ToUpperInvariant();
    }

    [Fact]
    public void NoRealServer_NewConnectionAnsweredWithPortUnreachableFromTheVip()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 0);
        var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S");
        var v = lab.Send(syn, 0);
        Assert.Equal(FrameAction.Transmit, v.Action);
        Assert.Equal(DropReason.NoRealServer, v.Reason);
        Assert.Equal(0, v.Link);
        var eth = syn.Output(v);
        PacketAssert.Addresses(eth, Lab.ClientLinkMac, Lab.ClientMac);
        var ip = PacketAssert.Ip(eth);
        Assert.Equal(lab.Vip.ToIPAddress(), ip.SourceAddress);
        Assert.Equal(lab.Client.ToIPAddress(), ip.DestinationAddress);
        var icmp = eth.Extract<IcmpV4Packet>();
        Assert.Equal(0x0303, (int)icmp.TypeCode);
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.NoRealServer));
        Assert.Empty(lab.Engine.Connections.Enumerate());
    }

    [Fact]
    public void UnknownNeighbor_AsksForResolutionAndLeavesTheFrameUnchanged()
    {
        using var lab = new Lab();
        var key = lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        lab.Engine.Neighbors.Invalidate(1, lab.Server(1));
        var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S");
        var before = syn.Buffer.ToArray();
        var v = lab.Send(syn, 0);
        Assert.Equal(FrameAction.ResolveNeighbor, v.Action);
        Assert.Equal(1, v.Link);
        Assert.Equal(lab.Server(1), v.NextHop);
        Assert.Equal(before, syn.Buffer);

        lab.Engine.Neighbors.Set(1, lab.Server(1), Lab.ServerMac(1));
        v = lab.Send(syn, 0);
        PacketAssert.Addresses(syn.Output(v), Lab.ServerLinkMac, Lab.ServerMac(1));
        Assert.Equal(1, lab.Engine.GetCounters(lab.Table.Snapshot.Find(key)!).Connections);
    }

    [Fact]
    public void NotForTheDirector_Delivered()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var other = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, InetAddress.Parse("10.0.0.77"), 80, "S");
        Assert.Equal(FrameAction.Deliver, lab.Send(other, 0).Action);
        var toVipOtherPort = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 81, "S");
        Assert.Equal(DropReason.NoVirtualService, lab.Send(toVipOtherPort, 0).Reason);
    }

    [Fact]
    public void NatReplyTtlExpiring_TimeExceededFromTheDirectorsAddressOnTheServersLink()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S");
        var toServer = PacketAssert.Ip(syn.Output(lab.Send(syn, 0)));
        var replyTo = InetAddress.FromIPAddress(toServer.SourceAddress);
        ushort replyPort = toServer.Extract<TcpPacket>().SourcePort;

        var synAck = Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, replyTo, replyPort, "SA", ttl: 1);
        var v = lab.Send(synAck, 1);

        // ip_forward's icmp_send: from the director's address towards the real server (10.1.0.1 on link 1), not the VIP.
        Assert.Equal(FrameAction.Transmit, v.Action);
        Assert.Equal(DropReason.HopLimitExceeded, v.Reason);
        Assert.Equal(1, v.Link);
        var eth = synAck.Output(v);
        PacketAssert.Addresses(eth, Lab.ServerLinkMac, Lab.ServerMac(1));
        var ip = PacketAssert.Ip(eth);
        Assert.Equal(System.Net.IPAddress.Parse("10.1.0.1"), ip.SourceAddress);
        Assert.Equal(lab.Server(1).ToIPAddress(), ip.DestinationAddress);
        Assert.Equal(11, (int)eth.Extract<IcmpV4Packet>().TypeCode >> 8);
    }

    [Fact]
    public void TtlExpiring_IcmpTimeExceededSentBackOnTheIngressLink()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var syn = Lab.Tcp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, 40000, lab.Vip, 80, "S", ttl: 1);
        var v = lab.Send(syn, 0);
        Assert.Equal(FrameAction.Transmit, v.Action);
        Assert.Equal(0, v.Link);
        Assert.Equal(DropReason.HopLimitExceeded, v.Reason);
        var icmp = syn.Output(v).Extract<IcmpV4Packet>();
        Assert.NotNull(icmp);
        Assert.Equal(11, (int)icmp.TypeCode >> 8);
    }
}
