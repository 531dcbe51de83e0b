using System.Net.NetworkInformation;
using Lvs.Core;
using PacketDotNet;

namespace Lvs.Director.Tests;

/// <summary>The director's host duties: ARP and neighbour discovery for the addresses it owns, echo replies, learning neighbours.</summary>
public class DirectorEngineHostTests
{
    private static Frame ArpRequest(MacAddress senderMac, InetAddress sender, InetAddress target)
    {
        var arp = new ArpPacket(ArpOperation.Request, PhysicalAddress.Parse("00-00-00-00-00-00"), target.ToIPAddress(), Lab.Phys(senderMac), sender.ToIPAddress());
        var eth = new EthernetPacket(Lab.Phys(senderMac), PhysicalAddress.Parse("FF-FF-FF-FF-FF-FF"), EthernetType.Arp) { PayloadPacket = arp };
        return Frame.From(eth.Bytes);
    }

    [Fact]
    public void ArpRequestForVip_AnsweredWithTheLinkMacAndSenderLearned()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var stranger = InetAddress.Parse("10.0.0.9");
        var strangerMac = MacAddress.Parse("02:00:00:00:00:09");
        var request = ArpRequest(strangerMac, stranger, lab.Vip);
        var v = lab.Send(request, 0);
        Assert.Equal(FrameAction.Transmit, v.Action);
        Assert.Equal(0, v.Link);
        var eth = request.Output(v);
        PacketAssert.Addresses(eth, Lab.ClientLinkMac, strangerMac);
        var arp = eth.Extract<ArpPacket>();
        Assert.Equal(ArpOperation.Response, arp.Operation);
        Assert.Equal(lab.Vip.ToIPAddress(), arp.SenderProtocolAddress);
        Assert.Equal(Lab.Phys(Lab.ClientLinkMac), arp.SenderHardwareAddress);
        Assert.Equal(stranger.ToIPAddress(), arp.TargetProtocolAddress);
        Assert.True(lab.Engine.Neighbors.TryGet(0, stranger, out var learned));
        Assert.Equal(strangerMac, learned);
    }

    [Fact]
    public void ArpRequestForSomeoneElse_DeliveredAndNotLearned()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var request = ArpRequest(MacAddress.Parse("02:00:00:00:00:09"), InetAddress.Parse("10.0.0.9"), InetAddress.Parse("10.0.0.33"));
        Assert.Equal(FrameAction.Deliver, lab.Send(request, 0).Action);
        Assert.False(lab.Engine.Neighbors.TryGet(0, InetAddress.Parse("10.0.0.9"), out _));
    }

    [Fact]
    public void ArpRequestForLocalAddressOnServerLink_AnsweredThere()
    {
        using var lab = new Lab(new DirectorOptions { LocalAddresses = [Lab.LocalV4] });
        var request = ArpRequest(Lab.ServerMac(1), lab.Server(1), lab.Local);
        var v = lab.Send(request, 1);
        Assert.Equal(FrameAction.Transmit, v.Action);
        Assert.Equal(FrameAction.Deliver, lab.Send(ArpRequest(Lab.ClientMac, lab.Client, lab.Local), 0).Action);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EchoRequestToVip_Answered(bool ipv6)
    {
        using var lab = new Lab(ipv6: ipv6);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var frame = EchoRequest(lab);
        var v = lab.Send(frame, 0);
        Assert.Equal(FrameAction.Transmit, v.Action);
        var eth = frame.Output(v);
        PacketAssert.Addresses(eth, Lab.ClientLinkMac, Lab.ClientMac);
        var ip = PacketAssert.Ip(eth);
        Assert.Equal(lab.Vip.ToIPAddress(), ip.SourceAddress);
        Assert.Equal(lab.Client.ToIPAddress(), ip.DestinationAddress);
        if (ipv6)
        {
            var reply = eth.Extract<IcmpV6Packet>();
            Assert.Equal(IcmpV6Type.EchoReply, reply.Type);
            Assert.True(Checksum.IsValid(reply.Bytes, Checksum.PseudoHeaderSum(lab.Vip, lab.Client, L4Protocol.IcmpV6, reply.Bytes.Length)));
        }
        else
        {
            var reply = eth.Extract<IcmpV4Packet>();
            Assert.Equal(IcmpV4TypeCode.EchoReply, reply.TypeCode);
            Assert.True(Checksum.IsValid(reply.Bytes));
        }
    }

    /// <summary>
    /// The IPv4 header of a host reply, as the kernel's icmp_reply writes it (checked on 6.18): the request's type of
    /// service, DF clear (and a new identification, from the rewriters' generator), the host's TTL, a valid checksum.
    /// </summary>
    [Fact]
    public void EchoAndTimestampReplies_HaveTheKernelsIpHeader()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        foreach (var request in new[] { EchoRequest(lab), TimestampRequest(lab, 20) })
        {
            int ip = request.Offset + 14;
            request.Buffer[ip + 1] = 0x28;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(request.Buffer.AsSpan(ip + 4), 0x5555);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(request.Buffer.AsSpan(ip + 6), 0x4000);
            request.Buffer[ip + 8] = 17;
            request.Buffer[ip + 10] = 0;
            request.Buffer[ip + 11] = 0;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(request.Buffer.AsSpan(ip + 10), Checksum.Compute(request.Buffer.AsSpan(ip, 20)));

            var v = lab.Send(request, 0);

            var reply = (IPv4Packet)PacketAssert.Ip(request.Output(v));
            Assert.Equal((0x28, 0, 64, true), (reply.TypeOfService, (int)reply.FragmentFlags, reply.TimeToLive, reply.ValidIPChecksum));
        }
    }

    /// <summary>
    /// An ICMP timestamp request to the VIP: the host answers it (icmp_timestamp, checked on a 6.18 kernel) with a
    /// 20-byte reply carrying the identifier, sequence number and originate timestamp, and the receive and transmit
    /// timestamps both the milliseconds since midnight UT (inet_current_timestamp), whatever the request's length.
    /// </summary>
    [Theory]
    [InlineData(20)]
    [InlineData(12)]
    [InlineData(28)]
    public void TimestampRequestToVip_AnsweredWithMillisecondsSinceMidnight(int messageLength)
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        lab.Time.Advance(new TimeSpan(0, 3, 25, 7, 500));
        var frame = TimestampRequest(lab, messageLength);

        var v = lab.Send(frame, 0);

        Assert.Equal((FrameAction.Transmit, 0, 14 + 20 + 20), (v.Action, v.Link, v.Length));
        var eth = frame.Output(v);
        PacketAssert.Addresses(eth, Lab.ClientLinkMac, Lab.ClientMac);
        var ip = (IPv4Packet)PacketAssert.Ip(eth);
        Assert.Equal((lab.Vip.ToIPAddress(), lab.Client.ToIPAddress(), 64, 40), (ip.SourceAddress, ip.DestinationAddress, ip.TimeToLive, ip.TotalLength));
        Assert.True(ip.ValidIPChecksum);
        byte[] reply = frame.Buffer[(v.Offset + 34)..(v.Offset + v.Length)];
        Assert.True(Checksum.IsValid(reply));
        Assert.Equal(((byte)14, (byte)0, 0x1234u, 0x00000001u, 1000u), (reply[0], reply[1], (uint)System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(4)), (uint)System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(6)), System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(8))));
        uint expected = ((3 * 3600) + (25 * 60) + 7) * 1000 + 500;
        Assert.Equal((expected, expected), (System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(12)), System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(16))));
    }

    /// <summary>No timestamp reply with a wrong checksum, for a message without its originate timestamp, or with the echo answers off.</summary>
    [Fact]
    public void TimestampRequestToVip_NotAnsweredWhenTheHostWouldNotAnswer()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var corrupted = TimestampRequest(lab, 20);
        corrupted.Buffer[corrupted.Offset + corrupted.Length - 1] ^= 1;
        Assert.Equal((FrameAction.Drop, DropReason.BadInputChecksum), lab.Send(corrupted, 0) is var bad ? (bad.Action, bad.Reason) : default);
        Assert.Equal((FrameAction.Drop, DropReason.BadIcmpHeader), lab.Send(TimestampRequest(lab, 10), 0) is var shortMessage ? (shortMessage.Action, shortMessage.Reason) : default);

        using var quiet = new Lab(new DirectorOptions { AnswerEcho = false });
        quiet.AddService("rr", ForwardingMethod.Nat, count: 1);
        Assert.Equal(FrameAction.Drop, quiet.Send(TimestampRequest(quiet, 20), 0).Action);
    }

    /// <summary>An ICMP timestamp request from the client to the VIP: identifier 0x1234, sequence 1, originate 1000 ms, the rest zero up to <paramref name="messageLength"/> bytes.</summary>
    private static Frame TimestampRequest(Lab lab, int messageLength)
    {
        var message = new byte[messageLength];
        message[0] = 13;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(4), 0x1234);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(6), 1);
        if (messageLength >= 12)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(8), 1000);
        }

        return Lab.Ip(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, lab.Vip, new IcmpV4Packet(new PacketDotNet.Utils.ByteArraySegment(message)));
    }

    /// <summary>
    /// A port of the VIP that no service has: on a kernel director the host owns the VIP, and its TCP stack, with no
    /// socket there, refuses a SYN with a reset (tcp_v4_send_reset: RST and ACK, acknowledging the SYN).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TcpSynToAnUnservedPortOfTheVip_RefusedWithTheHostsReset(bool ipv6)
    {
        using var lab = new Lab(ipv6: ipv6);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 81, "S");

        var v = lab.Send(syn, 0);

        Assert.Equal((FrameAction.Transmit, 0, DropReason.NoVirtualService), (v.Action, v.Link, v.Reason));
        var eth = syn.Output(v);
        PacketAssert.Addresses(eth, Lab.ClientLinkMac, Lab.ClientMac);
        var ip = PacketAssert.Ip(eth);
        var reset = PacketAssert.Tcp(eth);
        PacketAssert.Endpoints(ip, reset, lab.Vip, 81, lab.Client, 40000);
        Assert.True(reset.Reset && reset.Acknowledgment && !reset.Synchronize);
        Assert.Equal((0u, 1001u), (reset.SequenceNumber, reset.AcknowledgmentNumber));
        Assert.True(reset.ValidChecksum);
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.NoVirtualService));
        Assert.Empty(lab.Engine.Connections.Enumerate());

        // A reset is not answered; with the option off nothing is.
        Assert.Equal(FrameAction.Drop, lab.Send(Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 81, "R"), 0).Action);
        using var quiet = new Lab(new DirectorOptions { ResetUnmatchedTcp = false }, ipv6: ipv6);
        quiet.AddService("rr", ForwardingMethod.Nat, count: 1);
        Assert.Equal(FrameAction.Drop, quiet.Send(Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, quiet.Client, 40000, quiet.Vip, 81, "S"), 0).Action);
        Assert.Equal(1, quiet.Engine.GetDropCount(DropReason.NoVirtualService));
    }

    /// <summary>
    /// A UDP datagram for a port of the VIP that no service has: the host's UDP stack answers with an ICMP port
    /// unreachable from the VIP (__udp4_lib_rcv, __udp6_lib_rcv), quoting the datagram.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UdpToAnUnservedPortOfTheVip_AnsweredWithPortUnreachable(bool ipv6)
    {
        using var lab = new Lab(ipv6: ipv6);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var datagram = Lab.Udp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 5353, lab.Vip, 53);
        byte[] sent = datagram.Buffer[(datagram.Offset + 14)..(datagram.Offset + datagram.Length)];

        var v = lab.Send(datagram, 0);

        _ = AssertErrorFromTheVip(lab, datagram, v, ipv6 ? ((byte)1, (byte)4) : ((byte)3, (byte)3), sent);
    }

    /// <summary>
    /// Asserts the verdict is an ICMP or ICMPv6 error from the VIP back to the client, of <paramref name="typeAndCode"/>,
    /// quoting <paramref name="sent"/> (the IP packet as the client sent it), its checksum right, counted as
    /// NoVirtualService; returns the ICMP message.
    /// </summary>
    private static byte[] AssertErrorFromTheVip(Lab lab, Frame frame, FrameVerdict v, (byte Type, byte Code) typeAndCode, byte[] sent)
    {
        Assert.Equal((FrameAction.Transmit, 0, DropReason.NoVirtualService), (v.Action, v.Link, v.Reason));
        var eth = frame.Output(v);
        PacketAssert.Addresses(eth, Lab.ClientLinkMac, Lab.ClientMac);
        var ip = PacketAssert.Ip(eth);
        Assert.Equal((lab.Vip.ToIPAddress(), lab.Client.ToIPAddress()), (ip.SourceAddress, ip.DestinationAddress));
        byte[] icmp = ip.PayloadData ?? ip.PayloadPacket.Bytes;
        Assert.Equal(typeAndCode, (icmp[0], icmp[1]));
        Assert.Equal(sent, icmp[8..]);
        Assert.True(lab.IPv6
            ? Checksum.IsValid(icmp, Checksum.PseudoHeaderSum(lab.Vip, lab.Client, L4Protocol.IcmpV6, icmp.Length))
            : Checksum.IsValid(icmp));
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.NoVirtualService));
        return icmp;
    }

    /// <summary>No port unreachable for a datagram with a wrong checksum, from a multicast or unspecified source, or with the option off.</summary>
    [Fact]
    public void UdpToAnUnservedPortOfTheVip_NotAnsweredWhenTheHostWouldNotAnswer()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var corrupted = Lab.Udp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 5353, lab.Vip, 53);
        corrupted.Buffer[corrupted.Offset + corrupted.Length - 1] ^= 0x01;
        Assert.Equal((FrameAction.Drop, DropReason.BadInputChecksum), lab.Send(corrupted, 0) is var bad ? (bad.Action, bad.Reason) : default);
        foreach (string source in new[] { "224.0.0.9", "0.0.0.0" })
        {
            var frame = Lab.Udp(Lab.ClientMac, Lab.ClientLinkMac, InetAddress.Parse(source), 5353, lab.Vip, 53);
            Assert.Equal((FrameAction.Drop, DropReason.NoVirtualService), lab.Send(frame, 0) is var v ? (v.Action, v.Reason) : default);
        }

        using var quiet = new Lab(new DirectorOptions { UnreachableUnservedUdp = false });
        quiet.AddService("rr", ForwardingMethod.Nat, count: 1);
        Assert.Equal(FrameAction.Drop, quiet.Send(Lab.Udp(Lab.ClientMac, Lab.ClientLinkMac, quiet.Client, 5353, quiet.Vip, 53), 0).Action);
        Assert.Equal(1, quiet.Engine.GetDropCount(DropReason.NoVirtualService));
    }

    /// <summary>
    /// A packet for the VIP of a protocol the host has no handler for: the host's stack answers with an ICMP protocol
    /// unreachable (ip_local_deliver), over IPv6 a parameter problem, unrecognised next header, pointing at the Next
    /// Header field that names the protocol (the fixed header's, or the last extension header's), quoting the packet.
    /// </summary>
    [Theory]
    [InlineData(false, 47, false)]
    [InlineData(false, 253, false)]
    [InlineData(true, 47, false)]
    [InlineData(true, 2, false)]
    [InlineData(true, 135, false)] // mobility: an extension header to RFC 8200, a protocol to the kernel
    [InlineData(true, 47, true)]
    public void UnknownProtocolToTheVip_AnsweredAsTheHostsStackAnswers(bool ipv6, byte protocol, bool withDestinationOptions)
    {
        using var lab = new Lab(ipv6: ipv6);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var frame = ProtocolFrame(lab.Client, lab.Vip, protocol, withDestinationOptions);
        byte[] sent = frame.Buffer[(frame.Offset + 14)..(frame.Offset + frame.Length)];

        var v = lab.Send(frame, 0);

        byte[] icmp = AssertErrorFromTheVip(lab, frame, v, ipv6 ? ((byte)4, (byte)1) : ((byte)3, (byte)2), sent);
        Assert.Equal(ipv6 ? (withDestinationOptions ? 40u : 6u) : 0u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(icmp.AsSpan(4)));
        Assert.Equal(protocol, sent[ipv6 ? (withDestinationOptions ? 40 : 6) : 9]);
    }

    /// <summary>
    /// Protocols the host has a handler for (IGMP, UDP-Lite; over IPv6 "no next header") get no protocol unreachable,
    /// nor does a fragment, a packet from a multicast source, or any packet with the option off; a FULLNAT local
    /// address answers as the VIP does, counted as NoConnection.
    /// </summary>
    [Fact]
    public void UnknownProtocol_NotAnsweredWhenTheHostWouldNotAnswer()
    {
        using var lab = new Lab(new DirectorOptions { LocalAddresses = [Lab.LocalV4] });
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var igmp = lab.Send(ProtocolFrame(lab.Client, lab.Vip, 2), 0);
        Assert.Equal((FrameAction.Drop, DropReason.NoVirtualService), (igmp.Action, igmp.Reason));

        // UDP-Lite is the host's too: this body's checksum coverage (0x0506) is beyond the datagram, so it is dropped
        // before any answer (UdpLiteToAnUnservedPort_* below has the ones answered).
        var udpLite = lab.Send(ProtocolFrame(lab.Client, lab.Vip, 136), 0);
        Assert.Equal((FrameAction.Drop, DropReason.BadInputChecksum), (udpLite.Action, udpLite.Reason));

        var fragment = ProtocolFrame(lab.Client, lab.Vip, 47);
        fragment.Buffer[fragment.Offset + 14 + 6] = 0x20; // more fragments
        fragment.FixIPv4HeaderChecksum();
        Assert.Equal(FrameAction.Drop, lab.Send(fragment, 0).Action);
        Assert.Equal(FrameAction.Drop, lab.Send(ProtocolFrame(InetAddress.Parse("224.0.0.9"), lab.Vip, 47), 0).Action);

        var local = lab.Send(ProtocolFrame(lab.Server(1), lab.Local, 47, srcMac: Lab.ServerMac(1), dstMac: Lab.ServerLinkMac), 1);
        Assert.Equal((FrameAction.Transmit, 1, DropReason.NoConnection), (local.Action, local.Link, local.Reason));

        using var v6 = new Lab(ipv6: true);
        v6.AddService("rr", ForwardingMethod.Nat, count: 1);
        Assert.Equal(FrameAction.Drop, v6.Send(ProtocolFrame(v6.Client, v6.Vip, 59), 0).Action);

        using var quiet = new Lab(new DirectorOptions { UnreachableUnknownProtocols = false });
        quiet.AddService("rr", ForwardingMethod.Nat, count: 1);
        Assert.Equal(FrameAction.Drop, quiet.Send(ProtocolFrame(quiet.Client, quiet.Vip, 47), 0).Action);
        Assert.Equal(1, quiet.Engine.GetDropCount(DropReason.NoVirtualService));
    }

    /// <summary>
    /// UDP-Lite to a port of the VIP no service has: the host's udplite stack answers as UDP's, with a port unreachable
    /// (measured on a 6.18 kernel: the sender's connected socket reads ECONNREFUSED), once the checksum coverage and
    /// the checksum over the covered bytes are right (<c>udplite_checksum_init</c>); the bytes beyond the coverage may
    /// be anything.
    /// </summary>
    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(false, 12)]
    [InlineData(true, 8)]
    public void UdpLiteToAnUnservedPort_AnsweredWithAPortUnreachable(bool ipv6, ushort coverage)
    {
        using var lab = new Lab(ipv6: ipv6);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var frame = UdpLiteFrame(lab.Client, lab.Vip, coverage);
        if (coverage != 0)
        {
            // A byte beyond the coverage, which the checksum does not cover.
            frame.Buffer[frame.Offset + frame.Length - 1] ^= 0xFF;
        }

        byte[] sent = frame.Buffer[(frame.Offset + 14)..(frame.Offset + frame.Length)];

        var v = lab.Send(frame, 0);

        byte[] icmp = AssertErrorFromTheVip(lab, frame, v, ipv6 ? ((byte)1, (byte)4) : ((byte)3, (byte)3), sent);
        Assert.Equal(136, sent[ipv6 ? 6 : 9]);
        Assert.NotEmpty(icmp);
    }

    /// <summary>No answer to a UDP-Lite datagram whose checksum is wrong, is 0, or whose coverage is below 8 bytes or beyond the datagram.</summary>
    [Theory]
    [InlineData("checksum")]
    [InlineData("zero")]
    [InlineData("coverage 4")]
    [InlineData("coverage beyond")]
    public void UdpLiteToAnUnservedPort_BadChecksumOrCoverage_DroppedUnanswered(string fault)
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var frame = UdpLiteFrame(lab.Client, lab.Vip, fault switch { "coverage 4" => 4, "coverage beyond" => 40, _ => 0 });
        var udp = frame.Buffer.AsSpan(frame.Offset + 34, frame.Length - 34);
        switch (fault)
        {
            case "checksum":
                udp[^1] ^= 1;
                break;
            case "zero":
                udp[6] = udp[7] = 0;
                break;
        }

        var v = lab.Send(frame, 0);

        Assert.Equal((FrameAction.Drop, DropReason.BadInputChecksum), (v.Action, v.Reason));
    }

    /// <summary>
    /// A UDP-Lite datagram from 5353 to port 53, 12 bytes of data, checksummed over <paramref name="coverage"/> bytes (0:
    /// all); a coverage outside 8 to the datagram's length is written as it is, with the whole datagram summed.
    /// </summary>
    private static Frame UdpLiteFrame(InetAddress src, InetAddress dst, ushort coverage)
    {
        var frame = ProtocolFrame(src, dst, 136);
        int l4 = frame.Offset + 14 + (src.IsIPv4 ? 20 : 40);
        int length = frame.Offset + frame.Length - l4;
        var datagram = frame.Buffer.AsSpan(l4, length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(datagram, 5353);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(datagram[2..], 53);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(datagram[4..], coverage);
        datagram[6] = datagram[7] = 0;
        int covered = coverage >= 8 && coverage <= length ? coverage : length;
        ushort checksum = Checksum.Compute(datagram[..covered], Checksum.PseudoHeaderSum(src, dst, L4Protocol.UdpLite, length));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(datagram[6..], checksum);
        return frame;
    }

    /// <summary>An IP packet of <paramref name="protocol"/> with a 16-byte body (IPv6: after an 8-byte destination options header when asked).</summary>
    private static Frame ProtocolFrame(InetAddress src, InetAddress dst, byte protocol, bool withDestinationOptions = false, MacAddress? srcMac = null, MacAddress? dstMac = null)
    {
        var body = new byte[withDestinationOptions ? 24 : 16];
        for (int i = 0; i < body.Length; i++)
        {
            body[i] = (byte)(i + 1);
        }

        if (withDestinationOptions)
        {
            body[0] = protocol; // next header
            body[1] = 0; // 8 bytes
            body[2] = 1; // PadN, 4 bytes of padding
            body[3] = 4;
            body[4] = body[5] = body[6] = body[7] = 0;
        }

        Packet ip = src.IsIPv4
            ? new IPv4Packet(src.ToIPAddress(), dst.ToIPAddress()) { Protocol = (ProtocolType)protocol, PayloadData = body }
            : new IPv6Packet(src.ToIPAddress(), dst.ToIPAddress()) { Protocol = withDestinationOptions ? (ProtocolType)60 : (ProtocolType)protocol, PayloadData = body };
        var eth = new EthernetPacket(Lab.Phys(srcMac ?? Lab.ClientMac), Lab.Phys(dstMac ?? Lab.ClientLinkMac), src.IsIPv4 ? EthernetType.IPv4 : EthernetType.IPv6) { PayloadPacket = ip };
        ip.UpdateCalculatedValues();
        if (ip is IPv6Packet v6)
        {
            v6.PayloadLength = (ushort)body.Length;
        }
        var frame = Frame.From(eth.Bytes);
        if (src.IsIPv4)
        {
            frame.FixIPv4HeaderChecksum();
        }

        return frame;
    }

    /// <summary>A FULLNAT local address is the host's too: a segment to it that no connection takes is reset, counted as NoConnection.</summary>
    [Fact]
    public void TcpToALocalAddressWithNoConnection_ResetOnTheLinkItCameFrom()
    {
        using var lab = new Lab(new DirectorOptions { LocalAddresses = [Lab.LocalV4] });
        var segment = Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, lab.Local, 40000, "A");

        var v = lab.Send(segment, 1);

        Assert.Equal((FrameAction.Transmit, 1, DropReason.NoConnection), (v.Action, v.Link, v.Reason));
        var eth = segment.Output(v);
        PacketAssert.Addresses(eth, Lab.ServerLinkMac, Lab.ServerMac(1));
        var reset = PacketAssert.Tcp(eth);
        PacketAssert.Endpoints(PacketAssert.Ip(eth), reset, lab.Local, 40000, lab.Server(1), 8080);
        Assert.True(reset.Reset && !reset.Acknowledgment);
        Assert.Equal(2000u, reset.SequenceNumber);
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.NoConnection));
    }

    /// <summary>icmp_rcv and icmpv6_rcv drop a message with a wrong checksum: no echo reply.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EchoRequestToVip_WrongChecksum_DroppedUnanswered(bool ipv6)
    {
        using var lab = new Lab(ipv6: ipv6);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var frame = EchoRequest(lab);
        frame.Buffer[frame.Offset + frame.Length - 1] ^= 0x10;

        var v = lab.Send(frame, 0);

        Assert.Equal((FrameAction.Drop, DropReason.BadInputChecksum), (v.Action, v.Reason));
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.BadInputChecksum));
    }

    /// <summary>
    /// RFC 4861 7.1.1: a solicitation with a wrong checksum, or a code other than 0, is discarded: not answered, and
    /// the solicitor's address is not learned from it (7.1.2 the same for advertisements).
    /// </summary>
    [Theory]
    [InlineData("checksum", DropReason.BadInputChecksum)]
    [InlineData("code", DropReason.BadIcmpHeader)]
    public void NeighborSolicitationForVip_Invalid_DiscardedAndNothingLearned(string broken, DropReason reason)
    {
        using var lab = new Lab(ipv6: true);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var solicitor = InetAddress.Parse("2001:db8::9");
        var frame = NeighborSolicitation(lab, solicitor, MacAddress.Parse("02:00:00:00:00:09"), code: broken == "code" ? (byte)1 : (byte)0);
        if (broken == "checksum")
        {
            frame.Buffer[frame.Offset + frame.Length - 1] ^= 0x01;
        }

        var v = lab.Send(frame, 0);

        Assert.Equal((FrameAction.Drop, reason), (v.Action, v.Reason));
        Assert.False(lab.Engine.Neighbors.TryGet(0, solicitor, out _));
    }

    [Fact]
    public void NeighborAdvertisement_WrongChecksum_NotLearned()
    {
        using var lab = new Lab(ipv6: true);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var neighbor = InetAddress.Parse("2001:db8::9");
        var body = new byte[32];
        body[0] = 136;
        body[4] = 0x20; // override
        neighbor.WriteIPv6To(body.AsSpan(8));
        body[24] = 2;
        body[25] = 1;
        MacAddress.Parse("02:00:00:00:00:09").WriteTo(body.AsSpan(26));
        var advertisement = Lab.IcmpV6(MacAddress.Parse("02:00:00:00:00:09"), Lab.ClientLinkMac, neighbor, InetAddress.Parse("ff02::1"), body, hopLimit: 255);
        lab.Engine.Neighbors.Set(0, neighbor, MacAddress.Parse("02:00:00:00:00:07"));
        var corrupted = Frame.From(advertisement.Buffer[advertisement.Offset..(advertisement.Offset + advertisement.Length)]);
        corrupted.Buffer[corrupted.Offset + corrupted.Length - 1] ^= 0x01;

        Assert.Equal((FrameAction.Drop, DropReason.BadInputChecksum), lab.Send(corrupted, 0) is var v ? (v.Action, v.Reason) : default);
        Assert.True(lab.Engine.Neighbors.TryGet(0, neighbor, out var kept));
        Assert.Equal(MacAddress.Parse("02:00:00:00:00:07"), kept);

        _ = lab.Send(advertisement, 0);
        Assert.True(lab.Engine.Neighbors.TryGet(0, neighbor, out var refreshed));
        Assert.Equal(MacAddress.Parse("02:00:00:00:00:09"), refreshed);
    }

    /// <summary>
    /// icmpv6_echo_reply builds a new packet: an echo request that came with a destination options header is answered
    /// without it, the message right after the fixed header, its checksum still right.
    /// </summary>
    [Fact]
    public void EchoRequestWithExtensionHeader_AnsweredWithoutIt()
    {
        using var lab = new Lab(ipv6: true);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        byte[] message = [128, 0, 0, 0, 0, 7, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8];
        var plain = Lab.IcmpV6(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, lab.Vip, message);
        byte[] icmpSent = plain.Buffer[(plain.Offset + 54)..(plain.Offset + plain.Length)];
        // The same request behind an 8-byte destination options header (PadN): next header 58, length 0.
        byte[] bytes = [.. plain.Buffer[plain.Offset..(plain.Offset + 54)], 58, 0, 1, 4, 0, 0, 0, 0, .. icmpSent];
        bytes[14 + 6] = 60;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(14 + 4), (ushort)(8 + icmpSent.Length));
        var request = Frame.From(bytes);

        var v = lab.Send(request, 0);

        Assert.Equal((FrameAction.Transmit, 14 + 40 + icmpSent.Length), (v.Action, v.Length));
        var ip = request.Buffer.AsSpan(v.Offset + 14, 40 + icmpSent.Length);
        Assert.Equal((byte)58, ip[6]);
        Assert.Equal(icmpSent.Length, System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
        var icmp = ip[40..].ToArray();
        Assert.Equal(129, icmp[0]);
        Assert.Equal(icmpSent[4..], icmp[4..]);
        Assert.True(Checksum.IsValid(icmp, Checksum.PseudoHeaderSum(lab.Vip, lab.Client, L4Protocol.IcmpV6, icmp.Length)));
    }

    /// <summary>An echo request from the client to the VIP, its checksum computed by the lab.</summary>
    private static Frame EchoRequest(Lab lab)
    {
        Packet echo = lab.IPv6
            ? new IcmpV6Packet(new PacketDotNet.Utils.ByteArraySegment([128, 0, 0, 0, 0, 1, 0, 1, 9, 9]))
            : new IcmpV4Packet(new PacketDotNet.Utils.ByteArraySegment([8, 0, 0, 0, 0, 1, 0, 1, 9, 9]));
        return Lab.Ip(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, lab.Vip, echo);
    }

    private static Frame NeighborSolicitation(Lab lab, InetAddress solicitor, MacAddress solicitorMac, byte code = 0)
    {
        var body = new byte[32];
        body[0] = 135;
        body[1] = code;
        lab.Vip.WriteIPv6To(body.AsSpan(8));
        body[24] = 1;
        body[25] = 1;
        solicitorMac.WriteTo(body.AsSpan(26));
        return Lab.IcmpV6(solicitorMac, Lab.ClientLinkMac, solicitor, InetAddress.Parse("ff02::1:ff00:100"), body, hopLimit: 255);
    }

    [Fact]
    public void NeighborSolicitationForVip_AnsweredWithAnAdvertisement()
    {
        using var lab = new Lab(ipv6: true);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var solicitor = InetAddress.Parse("2001:db8::9");
        var solicitorMac = MacAddress.Parse("02:00:00:00:00:09");
        var frame = NeighborSolicitation(lab, solicitor, solicitorMac);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame.Buffer.AsSpan(frame.Offset, frame.Length), out var parsedNs));
        Assert.Equal((L4Protocol.IcmpV6, (byte)135, (byte)255), (parsedNs.Protocol, parsedNs.IcmpType, parsedNs.HopLimit));
        var v = lab.Send(frame, 0);
        Assert.Equal(FrameAction.Transmit, v.Action);
        var eth = frame.Output(v);
        PacketAssert.Addresses(eth, Lab.ClientLinkMac, solicitorMac);
        var ip = PacketAssert.Ip(eth);
        Assert.Equal(lab.Vip.ToIPAddress(), ip.SourceAddress);
        Assert.Equal(solicitor.ToIPAddress(), ip.DestinationAddress);
        Assert.Equal(32, ((IPv6Packet)ip).PayloadLength);
        var na = frame.Buffer[(v.Offset + 54)..(v.Offset + v.Length)];
        Assert.Equal(32, na.Length);
        Assert.Equal(136, na[0]);
        Assert.Equal(0x60, na[4]);
        Assert.Equal(lab.Vip, InetAddress.ReadIPv6(na.AsSpan(8)));
        Assert.True(Checksum.IsValid(na, Checksum.PseudoHeaderSum(lab.Vip, solicitor, L4Protocol.IcmpV6, na.Length)));
        Assert.Equal(Lab.Phys(Lab.ClientLinkMac).GetAddressBytes(), na[26..32]);
        Assert.True(lab.Engine.Neighbors.TryGet(0, solicitor, out var learned));
        Assert.Equal(solicitorMac, learned);
    }
}
