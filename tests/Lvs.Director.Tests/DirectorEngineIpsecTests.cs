using System.Buffers.Binary;
using Lvs.Core;
using PacketDotNet;

namespace Lvs.Director.Tests;

/// <summary>
/// ESP and AH through the director, as the kernel's ip_vs_proto_ah_esp: IPVS schedules no ESP or AH packet, but sends
/// one after the IKE connection (UDP, port 500 to port 500) between the same two hosts, to its real server with its
/// method; NAT rewrites the IP header alone. Without such a connection the packet is the host's.
/// </summary>
public class DirectorEngineIpsecTests
{
    private const byte Esp = 50;
    private const byte Ah = 51;

    /// <summary>A UDP service on port 500 whose real servers listen on port 500 (so NAT replies match IKE's port too).</summary>
    private static VirtualServiceKey AddKeyExchangeService(Lab lab, ForwardingMethod method, int count = 3)
    {
        var key = VirtualServiceKey.ForAddress(L4Protocol.Udp, new InetEndpoint(lab.Vip, 500));
        lab.Table.AddService(new VirtualServiceOptions(key) { Scheduler = "rr" });
        for (int n = 1; n <= count; n++)
        {
            lab.Table.AddRealServer(key, new RealServerOptions(new InetEndpoint(lab.Server(n), 500)) { Method = method });
            lab.Engine.Neighbors.Set(1, lab.Server(n), Lab.ServerMac(n));
        }

        return key;
    }

    /// <summary>An IP packet of <paramref name="protocol"/> (ESP: an SPI and a sequence number first) with a 40-byte body.</summary>
    private static Frame Packet(MacAddress srcMac, MacAddress dstMac, InetAddress src, InetAddress dst, byte protocol, byte ttl = 64)
    {
        // Built as UDP by PacketDotNet (addresses, lengths, IPv4 header checksum), then given the protocol: the 8 bytes
        // that were the UDP header read as an SPI and a sequence number.
        var frame = Lab.Udp(srcMac, dstMac, src, 0x1234, dst, 0x5678, payload: 32, ttl: ttl);
        int ip = frame.Offset + 14;
        if (src.IsIPv4)
        {
            frame.Buffer[ip + 9] = protocol;
            frame.Buffer[ip + 10] = 0;
            frame.Buffer[ip + 11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(frame.Buffer.AsSpan(ip + 10), Checksum.Compute(frame.Buffer.AsSpan(ip, 20)));
        }
        else
        {
            frame.Buffer[ip + 6] = protocol;
        }

        return frame;
    }

    private static byte[] Body(Frame frame, bool ipv6) => frame.Buffer[(frame.Offset + 14 + (ipv6 ? 40 : 20))..(frame.Offset + frame.Length)];

    /// <summary>The real server the IKE datagram went to (its index, 1-based), after sending it.</summary>
    private static int StartKeyExchange(Lab lab, ushort clientPort = 500)
    {
        var ike = Lab.Udp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, clientPort, lab.Vip, 500);
        var v = lab.Send(ike, 0);
        var eth = ike.Output(v);
        for (int n = 1; n <= 3; n++)
        {
            if (eth.DestinationHardwareAddress.Equals(Lab.Phys(Lab.ServerMac(n))))
            {
                return n;
            }
        }

        throw new InvalidOperationException($"The IKE datagram went to {eth.DestinationHardwareAddress}.");
    }

    [Theory]
    [InlineData(false, Esp)]
    [InlineData(false, Ah)]
    [InlineData(true, Esp)]
    public void Nat_EspFollowsTheIkeConnectionBothWays_OnlyTheIpHeaderRewritten(bool ipv6, byte protocol)
    {
        using var lab = new Lab(ipv6: ipv6);
        var key = AddKeyExchangeService(lab, ForwardingMethod.Nat);
        int other = StartKeyExchange(lab, clientPort: 4500); // another connection of the client, not IKE's ports
        int server = StartKeyExchange(lab);
        Assert.NotEqual(other, server); // rr
        var service = lab.Table.Snapshot.Find(key)!;
        var realServer = service.RealServers.Single(r => r.Address == lab.Server(server));
        var before = lab.Engine.GetCounters(realServer);

        var inbound = Packet(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, lab.Vip, protocol);
        byte[] body = Body(inbound, ipv6);
        var v = lab.Send(inbound, 0);

        Assert.Equal((FrameAction.Transmit, 1), (v.Action, v.Link));
        var eth = inbound.Output(v);
        PacketAssert.Addresses(eth, Lab.ServerLinkMac, Lab.ServerMac(server));
        var ip = PacketAssert.Ip(eth);
        Assert.Equal((lab.Client.ToIPAddress(), lab.Server(server).ToIPAddress(), (int)protocol, 63), (ip.SourceAddress, ip.DestinationAddress, (int)ip.Protocol, ip.TimeToLive));
        Assert.True(ip is not IPv4Packet v4 || v4.ValidIPChecksum);
        Assert.Equal(body, Body(inbound.Next(v), ipv6));

        // The real server's reply to the client: the source becomes the VIP.
        var reply = Packet(Lab.ServerMac(server), Lab.ServerLinkMac, lab.Server(server), lab.Client, protocol);
        byte[] replyBody = Body(reply, ipv6);
        v = lab.Send(reply, 1);
        Assert.Equal((FrameAction.Transmit, 0), (v.Action, v.Link));
        eth = reply.Output(v);
        PacketAssert.Addresses(eth, Lab.ClientLinkMac, Lab.ClientMac);
        ip = PacketAssert.Ip(eth);
        Assert.Equal((lab.Vip.ToIPAddress(), lab.Client.ToIPAddress()), (ip.SourceAddress, ip.DestinationAddress));
        Assert.True(ip is not IPv4Packet r4 || r4.ValidIPChecksum);
        Assert.Equal(replyBody, Body(reply.Next(v), ipv6));

        var after = lab.Engine.GetCounters(realServer);
        Assert.Equal((before.InPackets + 1, before.OutPackets + 1), (after.InPackets, after.OutPackets));
        Assert.Equal(2, lab.Engine.Connections.Enumerate().Count()); // ESP made no connection of its own
    }

    [Theory]
    [InlineData(ForwardingMethod.DirectRouting)]
    [InlineData(ForwardingMethod.Tunnel)]
    public void DirectRoutingAndTunnel_EspGoesToTheIkeConnectionsServer(ForwardingMethod method)
    {
        using var lab = new Lab();
        _ = AddKeyExchangeService(lab, method);
        int other = StartKeyExchange(lab, clientPort: 4500);
        int server = StartKeyExchange(lab);
        Assert.NotEqual(other, server);

        var esp = Packet(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, lab.Vip, Esp);
        byte[] body = Body(esp, ipv6: false);
        var v = lab.Send(esp, 0);

        Assert.Equal((FrameAction.Transmit, 1), (v.Action, v.Link));
        var eth = esp.Output(v);
        PacketAssert.Addresses(eth, Lab.ServerLinkMac, Lab.ServerMac(server));
        var outer = PacketAssert.Ip(eth);
        var inner = method == ForwardingMethod.Tunnel ? (IPPacket)outer.PayloadPacket : outer;
        if (method == ForwardingMethod.Tunnel)
        {
            Assert.Equal((ProtocolType.IPv4, lab.Server(server).ToIPAddress()), (outer.Protocol, outer.DestinationAddress));
        }

        Assert.Equal((lab.Client.ToIPAddress(), lab.Vip.ToIPAddress(), 50), (inner.SourceAddress, inner.DestinationAddress, (int)inner.Protocol));
        Assert.Equal(body, inner.PayloadData ?? inner.PayloadPacket.Bytes);
    }

    /// <summary>
    /// ICMP errors about ESP packets follow the IKE connection too (ip_vs_in_icmp and ip_vs_out_icmp with
    /// ah_esp_conn_in_get / ah_esp_conn_out_get): a "fragmentation needed" from the client's side about the VIP's ESP
    /// reaches the real server about its own packet; one from the server's side about the client's ESP reaches the
    /// client about the packet it sent to the VIP. Only the quoted addresses change.
    /// </summary>
    [Fact]
    public void Nat_IcmpErrorsAboutEsp_TranslatedAfterTheIkeConnection()
    {
        using var lab = new Lab();
        _ = AddKeyExchangeService(lab, ForwardingMethod.Nat);
        int server = StartKeyExchange(lab);
        var router = InetAddress.Parse("10.0.0.254");

        // The VIP's ESP to the client (a real server's reply, as the director sent it), and an error about it.
        var sent = Packet(Lab.ClientLinkMac, Lab.ClientMac, lab.Vip, lab.Client, Esp);
        var error = IcmpError(Lab.RouterMac, Lab.ClientLinkMac, router, lab.Vip, sent, quote: 36);
        var v = lab.Send(error, 0);
        Assert.Equal((FrameAction.Transmit, 1), (v.Action, v.Link));
        byte[] output = error.Buffer[v.Offset..(v.Offset + v.Length)];
        Assert.Equal(lab.Server(server), InetAddress.ReadIPv4(output.AsSpan(14 + 16)));
        var icmp = output.AsSpan(34);
        Assert.True(Checksum.IsValid(icmp));
        Assert.Equal((lab.Server(server), lab.Client, (byte)50), (InetAddress.ReadIPv4(icmp[(8 + 12)..]), InetAddress.ReadIPv4(icmp[(8 + 16)..]), icmp[8 + 9]));
        Assert.True(Checksum.IsValid(icmp.Slice(8, 20)));
        Assert.Equal(Body(sent, ipv6: false)[..16], icmp[(8 + 20)..].ToArray());

        // The client's ESP as the director sent it to the server, and the server's error about it.
        var forwarded = Packet(Lab.ServerLinkMac, Lab.ServerMac(server), lab.Client, lab.Server(server), Esp);
        var back = IcmpError(Lab.ServerMac(server), Lab.ServerLinkMac, lab.Server(server), lab.Client, forwarded, quote: 36, code: 3);
        v = lab.Send(back, 1);
        Assert.Equal((FrameAction.Transmit, 0), (v.Action, v.Link));
        output = back.Buffer[v.Offset..(v.Offset + v.Length)];
        Assert.Equal((lab.Vip, lab.Client), (InetAddress.ReadIPv4(output.AsSpan(14 + 12)), InetAddress.ReadIPv4(output.AsSpan(14 + 16))));
        icmp = output.AsSpan(34);
        Assert.Equal((lab.Client, lab.Vip), (InetAddress.ReadIPv4(icmp[(8 + 12)..]), InetAddress.ReadIPv4(icmp[(8 + 16)..])));

        // With no IKE connection between the two hosts the error is not translated.
        var stranger = Packet(Lab.ClientLinkMac, Lab.RouterMac, lab.Vip, lab.RemoteClient, Esp);
        Assert.NotEqual(FrameAction.Transmit, lab.Send(IcmpError(Lab.RouterMac, Lab.ClientLinkMac, router, lab.Vip, stranger, quote: 36), 0).Action);
    }

    /// <summary>An ICMPv4 error (type 3) from <paramref name="from"/> quoting the first <paramref name="quote"/> bytes of <paramref name="quoted"/>'s IP packet.</summary>
    private static Frame IcmpError(MacAddress srcMac, MacAddress dstMac, InetAddress from, InetAddress to, Frame quoted, int quote, byte code = 4)
    {
        var message = new byte[8 + quote];
        message[0] = 3;
        message[1] = code;
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(6), 1400);
        quoted.Buffer.AsSpan(quoted.Offset + 14, quote).CopyTo(message.AsSpan(8));
        return Lab.Ip(srcMac, dstMac, from, to, new IcmpV4Packet(new PacketDotNet.Utils.ByteArraySegment(message)));
    }

    /// <summary>
    /// An ESP packet cut into fragments (IPsec over a path without PMTU discovery): IPVS never reassembles ESP
    /// (dont_defrag), so every fragment, the non-first ones too, follows the IKE connection by its addresses.
    /// </summary>
    [Fact]
    public void Nat_EspNonFirstFragment_FollowsTheIkeConnection()
    {
        using var lab = new Lab();
        _ = AddKeyExchangeService(lab, ForwardingMethod.Nat);
        int server = StartKeyExchange(lab);
        var fragment = Packet(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, lab.Vip, Esp);
        int ip = fragment.Offset + 14;
        BinaryPrimitives.WriteUInt16BigEndian(fragment.Buffer.AsSpan(ip + 6), 0x00B9); // offset 1480 bytes, the last fragment
        fragment.Buffer[ip + 10] = 0;
        fragment.Buffer[ip + 11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(fragment.Buffer.AsSpan(ip + 10), Checksum.Compute(fragment.Buffer.AsSpan(ip, 20)));
        byte[] body = Body(fragment, ipv6: false);

        var v = lab.Send(fragment, 0);

        Assert.Equal((FrameAction.Transmit, 1), (v.Action, v.Link));
        var output = (IPv4Packet)PacketAssert.Ip(fragment.Output(v));
        Assert.Equal((lab.Server(server).ToIPAddress(), 1480, true), (output.DestinationAddress, output.FragmentOffset * 8, output.ValidIPChecksum));
        Assert.Equal(body, Body(fragment.Next(v), ipv6: false));
    }

    /// <summary>Each ESP packet keeps the IKE connection alive, as ip_vs_conn_put's timer refresh.</summary>
    [Fact]
    public void Esp_RefreshesTheIkeConnectionsTimer()
    {
        using var lab = new Lab();
        _ = AddKeyExchangeService(lab, ForwardingMethod.Nat);
        _ = StartKeyExchange(lab);
        var udpTimeout = Assert.Single(lab.Engine.Connections.Enumerate()).Expires;

        lab.Time.Advance(TimeSpan.FromSeconds(200));
        _ = lab.Engine.Connections.RunHousekeeping(); // the packet path's clock moves with housekeeping
        Assert.InRange(Assert.Single(lab.Engine.Connections.Enumerate()).Expires, udpTimeout - TimeSpan.FromSeconds(201), udpTimeout - TimeSpan.FromSeconds(199));
        Assert.Equal(FrameAction.Transmit, lab.Send(Packet(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, lab.Vip, Esp), 0).Action);

        Assert.Equal(udpTimeout, Assert.Single(lab.Engine.Connections.Enumerate()).Expires);
    }

    /// <summary>
    /// No IKE connection between the two hosts (none at all, one from another client port, or a FULLNAT one, whose
    /// local port is not 500): the ESP packet is the host's, which has no ESP handler and answers with a protocol
    /// unreachable; a real server's ESP to a client it has no IKE connection with is delivered to the host, not sent on.
    /// </summary>
    [Fact]
    public void NoIkeConnection_EspIsTheHosts()
    {
        using var lab = new Lab(new DirectorOptions { LocalAddresses = [Lab.LocalV4] });
        _ = AddKeyExchangeService(lab, ForwardingMethod.Nat);
        var v = lab.Send(Packet(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, lab.Vip, Esp), 0);
        Assert.Equal((FrameAction.Transmit, 0, DropReason.NoVirtualService), (v.Action, v.Link, v.Reason));

        _ = StartKeyExchange(lab, clientPort: 4500);
        var esp = Packet(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, lab.Vip, Esp);
        v = lab.Send(esp, 0);
        Assert.Equal((FrameAction.Transmit, 0), (v.Action, v.Link));
        var icmp = PacketAssert.Ip(esp.Output(v)).PayloadData ?? PacketAssert.Ip(esp.Output(v)).PayloadPacket.Bytes;
        Assert.Equal(((byte)3, (byte)2), (icmp[0], icmp[1]));

        var reply = lab.Send(Packet(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), lab.Client, Esp), 1);
        Assert.Equal(FrameAction.Deliver, reply.Action);

        using var fullNat = new Lab(new DirectorOptions { LocalAddresses = [Lab.LocalV4] });
        _ = AddKeyExchangeService(fullNat, ForwardingMethod.FullNat);
        _ = StartKeyExchange(fullNat);
        v = fullNat.Send(Packet(Lab.ClientMac, Lab.ClientLinkMac, fullNat.Client, fullNat.Vip, Esp), 0);
        Assert.Equal((FrameAction.Transmit, 0, DropReason.NoVirtualService), (v.Action, v.Link, v.Reason));
    }

    /// <summary>
    /// A firewall-mark service takes only the protocols IPVS has a handler for: a GRE packet the mark rule covers is
    /// the host's (ip_vs_in accepts a protocol without ip_vs_proto_data), not scheduled.
    /// </summary>
    [Fact]
    public void FirewallMarkService_DoesNotScheduleOtherProtocols()
    {
        var rule = new FirewallMarkRule(7, InetPrefix.Parse("10.0.0.100/32"));
        using var lab = new Lab(new DirectorOptions { FirewallMarks = [rule] });
        var key = VirtualServiceKey.ForFirewallMark(7);
        lab.Table.AddService(new VirtualServiceOptions(key) { Scheduler = "rr" });
        lab.Table.AddRealServer(key, new RealServerOptions(new InetEndpoint(lab.Server(1), 0)) { Method = ForwardingMethod.DirectRouting });
        lab.Engine.Neighbors.Set(1, lab.Server(1), Lab.ServerMac(1));

        var gre = Packet(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, lab.Vip, 47);
        var v = lab.Send(gre, 0);

        Assert.Equal((FrameAction.Transmit, 0, DropReason.NoVirtualService), (v.Action, v.Link, v.Reason));
        var icmp = PacketAssert.Ip(gre.Output(v)).PayloadData ?? PacketAssert.Ip(gre.Output(v)).PayloadPacket.Bytes;
        Assert.Equal(((byte)3, (byte)2), (icmp[0], icmp[1]));
        Assert.Empty(lab.Engine.Connections.Enumerate());

        // A TCP SYN the rule covers is scheduled as before.
        Assert.Equal((FrameAction.Transmit, 1), lab.Send(Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S"), 0) is var syn ? (syn.Action, syn.Link) : default);
    }
}
