using System.Buffers.Binary;
using Lvs.Core;
using PacketDotNet;

namespace Lvs.Director.Tests;

/// <summary>ICMP errors about a connection's packets, both ways: translated for NAT, forwarded to the real server for DR.</summary>
public class DirectorEngineIcmpTests
{
    /// <summary>An ICMPv4 error (type 3 code 4, MTU <paramref name="mtu"/>) from <paramref name="from"/> quoting the first <paramref name="quote"/> bytes of <paramref name="quoted"/>'s IP packet.</summary>
    private static Frame IcmpError(MacAddress srcMac, MacAddress dstMac, InetAddress from, InetAddress to, byte[] quoted, int quote = 28, ushort mtu = 1400, byte type = 3, byte code = 4)
    {
        var message = new byte[8 + quote];
        message[0] = type;
        message[1] = code;
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(6), mtu);
        quoted.AsSpan(14, quote).CopyTo(message.AsSpan(8));
        var icmp = new IcmpV4Packet(new PacketDotNet.Utils.ByteArraySegment(message));
        return Lab.Ip(srcMac, dstMac, from, to, icmp);
    }

    private static byte[] Bytes(Frame frame, FrameVerdict verdict) => frame.Buffer[verdict.Offset..(verdict.Offset + verdict.Length)];

    /// <summary>A remote client's SYN to the VIP's port 80, through the router.</summary>
    private static Frame ClientSyn(Lab lab, ushort port = 40000) => Lab.Tcp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, port, lab.Vip, 80, "S");

    /// <summary>
    /// schedule_icmp: a "fragmentation needed" about a reply of a one-packet (-o) UDP service, which keeps no
    /// connection, is scheduled as the client's flow and reaches a real server, translated. Without it, the host's.
    /// </summary>
    [Fact]
    public void ScheduleIcmpErrors_ErrorAboutAOnePacketUdpReply_ScheduledAndTranslatedToARealServer()
    {
        using var lab = new Lab(new DirectorOptions { ScheduleIcmpErrors = true });
        var key = lab.AddService("rr", ForwardingMethod.Nat, count: 2, protocol: L4Protocol.Udp, port: 53, onePacket: true);
        var reply = Lab.Udp(Lab.ClientLinkMac, Lab.RouterMac, lab.Vip, 53, lab.RemoteClient, 5353);
        var router = InetAddress.Parse("198.51.100.1");
        var error = IcmpError(Lab.RouterMac, Lab.ClientLinkMac, router, lab.Vip, reply.Buffer[reply.Offset..(reply.Offset + reply.Length)]);

        var v = lab.Send(error, 0);

        Assert.Equal((FrameAction.Transmit, 1), (v.Action, v.Link));
        var eth = error.Output(v);
        var ip = PacketAssert.Ip(eth);
        var server = InetAddress.FromIPAddress(ip.DestinationAddress);
        Assert.Contains(server, new[] { lab.Server(1), lab.Server(2) });
        Assert.Equal(router.ToIPAddress(), ip.SourceAddress);
        var body = Bytes(error, v)[34..];
        Assert.True(Checksum.IsValid(body));
        Assert.Equal((server, (ushort)8080), (InetAddress.ReadIPv4(body.AsSpan(8 + 12)), BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(8 + 20))));
        Assert.Equal(1, lab.Engine.GetCounters(lab.Table.Snapshot.Find(key)!).Connections);
        Assert.Empty(lab.Engine.Connections.Enumerate());

        using var off = new Lab();
        off.AddService("rr", ForwardingMethod.Nat, count: 2, protocol: L4Protocol.Udp, port: 53, onePacket: true);
        var again = IcmpError(Lab.RouterMac, Lab.ClientLinkMac, router, off.Vip, reply.Buffer[reply.Offset..(reply.Offset + reply.Length)]);
        Assert.NotEqual(FrameAction.Transmit, off.Send(again, 0).Action);
    }

    /// <summary>schedule_icmp over IPv6: an ICMPv6 packet too big about a one-packet UDP reply reaches a real server, translated.</summary>
    [Fact]
    public void ScheduleIcmpErrors_Ipv6PacketTooBigAboutAOnePacketUdpReply_ScheduledAndTranslated()
    {
        using var lab = new Lab(new DirectorOptions { ScheduleIcmpErrors = true }, ipv6: true);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1, protocol: L4Protocol.Udp, port: 53, onePacket: true);
        var reply = Lab.Udp(Lab.ClientLinkMac, Lab.RouterMac, lab.Vip, 53, lab.RemoteClient, 5353);
        var message = new byte[8 + 48];
        message[0] = 2; // packet too big
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(4), 1280);
        reply.Buffer.AsSpan(reply.Offset + 14, 48).CopyTo(message.AsSpan(8));
        var router = InetAddress.Parse("2001:db8:9::1");
        var error = Lab.IcmpV6(Lab.RouterMac, Lab.ClientLinkMac, router, lab.Vip, message);

        var v = lab.Send(error, 0);

        Assert.Equal((FrameAction.Transmit, 1), (v.Action, v.Link));
        var body = Bytes(error, v)[54..];
        Assert.Equal(lab.Server(1), InetAddress.ReadIPv6(PacketAssert.Ip(error.Output(v)).DestinationAddress.GetAddressBytes()));
        Assert.True(Checksum.IsValid(body, Checksum.PseudoHeaderSum(router, lab.Server(1), L4Protocol.IcmpV6, body.Length)));
        Assert.Equal((lab.Server(1), (ushort)8080), (InetAddress.ReadIPv6(body.AsSpan(8 + 8)), BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(8 + 40))));
    }

    /// <summary>
    /// schedule_icmp over TCP reads the quoted header as tcp_conn_schedule reads a packet: a quoted SYN (a SYN-ACK the
    /// director sent) is scheduled and leaves an inactive connection; a quoted ACK is the host's; a quote too short for
    /// the TCP header is dropped.
    /// </summary>
    [Fact]
    public void ScheduleIcmpErrors_Tcp_OnlyAQuotedSynSchedules()
    {
        using var lab = new Lab(new DirectorOptions { ScheduleIcmpErrors = true });
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var router = InetAddress.Parse("198.51.100.1");
        Frame ErrorAbout(string flags, int quote)
        {
            var segment = Lab.Tcp(Lab.ClientLinkMac, Lab.RouterMac, lab.Vip, 80, lab.RemoteClient, 40000, flags);
            return IcmpError(Lab.RouterMac, Lab.ClientLinkMac, router, lab.Vip, segment.Buffer[segment.Offset..(segment.Offset + segment.Length)], quote);
        }

        Assert.Equal((FrameAction.Drop, DropReason.EmbeddedTruncated), lab.Send(ErrorAbout("SA", 28), 0) is var shortQuote ? (shortQuote.Action, shortQuote.Reason) : default);
        Assert.NotEqual(FrameAction.Transmit, lab.Send(ErrorAbout("A", 40), 0).Action);
        Assert.Empty(lab.Engine.Connections.Enumerate());

        var v = lab.Send(ErrorAbout("SA", 40), 0);

        Assert.Equal((FrameAction.Transmit, 1), (v.Action, v.Link));
        var connection = Assert.Single(lab.Engine.Connections.Enumerate());
        Assert.Equal((lab.RemoteClient, (ushort)40000, lab.Server(1)), (connection.Client.Address, connection.Client.Port, connection.Destination.Address));
        Assert.Equal("NONE", connection.StateName);
    }

    /// <summary>
    /// ip_vs_in_icmp's tunnel case: a router between the director and a TUN real server says an IPIP packet was too
    /// big; the client gets "fragmentation needed" about its own packet from the VIP, with the path's MTU less the
    /// 20 bytes of the outer header, and the error counts as a packet out of the server.
    /// </summary>
    [Theory]
    [InlineData(TunnelType.IpIp, 1400, 1380)]
    [InlineData(TunnelType.Gue, 1400, 1380)]
    [InlineData(TunnelType.Gre, 1400, 1380)]
    [InlineData(TunnelType.IpIp, 9000, 1480)]
    [InlineData(TunnelType.IpIp, 300, 532)]
    public void Tunnel_FragmentationNeededAboutATunnelPacket_RelayedToTheClientAboutItsOwnPacket(TunnelType type, int reported, int relayed)
    {
        using var lab = new Lab();
        var key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, new InetEndpoint(lab.Vip, 80));
        lab.Table.AddService(new VirtualServiceOptions(key) { Scheduler = "rr" });
        lab.Table.AddRealServer(key, new RealServerOptions(new InetEndpoint(lab.Server(1), 80))
        {
            Method = ForwardingMethod.Tunnel, TunnelType = type, TunnelPort = type == TunnelType.Gue ? (ushort)6080 : (ushort)0,
        });
        lab.Engine.Neighbors.Set(1, lab.Server(1), Lab.ServerMac(1));
        var syn = WithDontFragment(ClientSyn(lab));
        byte[] sent = syn.Buffer[(syn.Offset + 14)..(syn.Offset + syn.Length)];
        var tunnelled = Bytes(syn, lab.Send(syn, 0));
        var router = InetAddress.Parse("10.1.0.254");
        var error = IcmpError(Lab.RouterMac, Lab.ServerLinkMac, router, InetAddress.Parse("10.1.0.1"), tunnelled, quote: tunnelled.Length - 14, mtu: (ushort)reported);
        var before = lab.Engine.GetCounters(lab.Table.Registry[0]);

        var v = lab.Send(error, 1);

        Assert.Equal((FrameAction.Transmit, 0), (v.Action, v.Link));
        var bytes = Bytes(error, v);
        Assert.Equal((Lab.RouterMac, Lab.ClientLinkMac), (MacAddress.Read(bytes), MacAddress.Read(bytes.AsSpan(6))));
        var ip = (IPv4Packet)PacketAssert.Ip(error.Output(v));
        Assert.True(ip.ValidIPChecksum);
        Assert.Equal((lab.Vip.ToIPAddress(), lab.RemoteClient.ToIPAddress(), ProtocolType.Icmp), (ip.SourceAddress, ip.DestinationAddress, ip.Protocol));
        var icmp = bytes[34..];
        Assert.True(Checksum.IsValid(icmp));
        Assert.Equal((3, 4, relayed), (icmp[0], icmp[1], (int)BinaryPrimitives.ReadUInt16BigEndian(icmp.AsSpan(6))));

        // The client's packet as the director tunnelled it (its TTL one less), as the kernel quotes it from the error.
        int tunnelHeader = type switch { TunnelType.Gue => 8 + 4, TunnelType.Gre => 4, _ => 0 };
        byte[] carried = tunnelled[(14 + 20 + tunnelHeader)..];
        Assert.Equal(carried, icmp[8..]);
        Assert.Equal((lab.RemoteClient, lab.Vip, sent[8] - 1), (InetAddress.ReadIPv4(carried.AsSpan(12)), InetAddress.ReadIPv4(carried.AsSpan(16)), (int)carried[8]));
        Assert.Equal(before.OutPackets + 1, lab.Engine.GetCounters(lab.Table.Registry[0]).OutPackets);
    }

    /// <summary>A client that does not use path MTU discovery (no DF) is not told; an error about another host's tunnel packet is not relayed.</summary>
    [Fact]
    public void Tunnel_ErrorNotRelayed_WithoutDontFragment_OrForAnotherTunnel()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Tunnel, count: 1);
        var syn = ClientSyn(lab);
        var tunnelled = Bytes(syn, lab.Send(syn, 0));
        var router = InetAddress.Parse("10.1.0.254");
        var error = IcmpError(Lab.RouterMac, Lab.ServerLinkMac, router, InetAddress.Parse("10.1.0.1"), tunnelled, quote: tunnelled.Length - 14);
        Assert.Equal(FrameAction.Consumed, lab.Send(error, 1).Action);

        var elsewhere = WithDontFragment(ClientSyn(lab, 40001));
        var other = Bytes(elsewhere, lab.Send(elsewhere, 0));
        BinaryPrimitives.WriteUInt32BigEndian(other.AsSpan(14 + 16), InetAddress.Parse("10.1.0.99").IPv4Value);
        var aboutAnother = IcmpError(Lab.RouterMac, Lab.ServerLinkMac, router, InetAddress.Parse("10.1.0.1"), other, quote: other.Length - 14);
        Assert.NotEqual(FrameAction.Transmit, lab.Send(aboutAnother, 1).Action);
    }

    /// <summary>A NAT connection from the remote client to the VIP, and its real server's SYN-ACK as the director sent it on to the client (VIP -> client).</summary>
    private static byte[] NatReplyToClient(Lab lab)
    {
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var syn = ClientSyn(lab);
        Assert.Equal(FrameAction.Transmit, lab.Send(syn, 0).Action);
        var synAck = Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, lab.RemoteClient, 40000, "SA");
        return Bytes(synAck, lab.Send(synAck, 1));
    }

    private static Frame WithDontFragment(Frame frame)
    {
        var ip = frame.Buffer.AsSpan(frame.Offset + 14, 20);
        ip[6] |= 0x40;
        ip[10] = ip[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip));
        return frame;
    }

    [Fact]
    public void Nat_ErrorFromTheClientSide_TranslatedToTheRealServer()
    {
        using var lab = new Lab();
        var toClient = NatReplyToClient(lab);

        // A router on the client's path says the VIP -> client packet was too big.
        var router = InetAddress.Parse("198.51.100.1");
        var error = IcmpError(Lab.RouterMac, Lab.ClientLinkMac, router, lab.Vip, toClient);
        var v = lab.Send(error, 0);
        Assert.Equal(FrameAction.Transmit, v.Action);
        Assert.Equal(1, v.Link);
        var eth = error.Output(v);
        PacketAssert.Addresses(eth, Lab.ServerLinkMac, Lab.ServerMac(1));
        var ip = PacketAssert.Ip(eth);
        Assert.Equal(router.ToIPAddress(), ip.SourceAddress);
        Assert.Equal(lab.Server(1).ToIPAddress(), ip.DestinationAddress);
        var body = Bytes(error, v)[34..];
        Assert.True(Checksum.IsValid(body));

        // The quoted packet now reads RS:8080 -> client, as the real server sent it.
        Assert.Equal(lab.Server(1), InetAddress.ReadIPv4(body.AsSpan(8 + 12)));
        Assert.Equal(8080, BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(8 + 20)));
    }

    /// <summary>Over IPv4, ip_vs_in_icmp leaves a parameter problem to the host, even about a connection's packet.</summary>
    [Fact]
    public void Nat_Ipv4ParameterProblemAboutAConnection_TheHosts()
    {
        using var lab = new Lab();
        var toClient = NatReplyToClient(lab);
        var error = IcmpError(Lab.RouterMac, Lab.ClientLinkMac, InetAddress.Parse("198.51.100.1"), lab.Vip, toClient, type: 12, code: 0);

        Assert.Equal(FrameAction.Deliver, lab.Send(error, 0).Action);
    }

    [Fact]
    public void Nat_ErrorFromTheRealServerSide_TranslatedToTheClient()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var syn = ClientSyn(lab);
        var toServer = Bytes(syn, lab.Send(syn, 0));

        // The real server's side answers the client -> RS packet with an error.
        var error = IcmpError(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), lab.RemoteClient, toServer);
        var v = lab.Send(error, 1);
        Assert.Equal(FrameAction.Transmit, v.Action);
        Assert.Equal(0, v.Link);
        var eth = error.Output(v);
        PacketAssert.Addresses(eth, Lab.ClientLinkMac, Lab.RouterMac);
        var ip = PacketAssert.Ip(eth);
        Assert.Equal(lab.Vip.ToIPAddress(), ip.SourceAddress);
        Assert.Equal(lab.RemoteClient.ToIPAddress(), ip.DestinationAddress);
        var body = Bytes(error, v)[34..];
        Assert.True(Checksum.IsValid(body));
        Assert.Equal(lab.Vip, InetAddress.ReadIPv4(body.AsSpan(8 + 16)));
        Assert.Equal(80, BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(8 + 22)));
    }

    [Fact]
    public void DirectRouting_ErrorAboutAConnection_ForwardedToItsRealServerWithItsTtlDecremented()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.DirectRouting, count: 1);
        var syn = ClientSyn(lab);
        Assert.Equal(FrameAction.Transmit, lab.Send(syn, 0).Action);

        // The real server answers from the VIP directly; an error about that reply comes back to the VIP.
        var reply = Lab.Tcp(Lab.ServerMac(1), Lab.RouterMac, lab.Vip, 80, lab.RemoteClient, 40000, "SA");
        var error = IcmpError(Lab.RouterMac, Lab.ClientLinkMac, InetAddress.Parse("198.51.100.1"), lab.Vip, reply.Buffer[reply.Offset..(reply.Offset + reply.Length)]);
        var original = error.Buffer[(error.Offset + 14)..(error.Offset + error.Length)];
        var v = lab.Send(error, 0);
        Assert.Equal(1, v.Link);
        var eth = error.Output(v);
        PacketAssert.Addresses(eth, Lab.ServerLinkMac, Lab.ServerMac(1));
        Assert.Equal(PacketAssert.HopLimitDecremented(original, 0), Bytes(error, v)[14..]);
    }

    [Fact]
    public void CorruptedError_Dropped()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var syn = ClientSyn(lab);
        var toServer = Bytes(syn, lab.Send(syn, 0));
        var error = IcmpError(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), lab.RemoteClient, toServer);
        error.Buffer[error.Offset + error.Length - 1] ^= 0x40;
        Assert.Equal(DropReason.BadInputChecksum, lab.Send(error, 1).Reason);
    }
}
