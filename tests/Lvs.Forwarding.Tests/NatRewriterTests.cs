using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;
using PacketDotNet;

namespace Lvs.Forwarding.Tests;

public class NatRewriterTests
{
    private static readonly MacAddress Director = PacketFactory.DirectorMac;
    private static readonly MacAddress NextHop = PacketFactory.NextHopMac;

    [Theory]
    [InlineData("198.51.100.7", "192.0.2.10", "10.0.0.5", ProtocolType.Tcp)]
    [InlineData("198.51.100.7", "192.0.2.10", "10.0.0.5", ProtocolType.Udp)]
    [InlineData("2001:db8:1::7", "2001:db8::10", "fd00::5", ProtocolType.Tcp)]
    [InlineData("2001:db8:1::7", "2001:db8::10", "fd00::5", ProtocolType.Udp)]
    public void RewriteInbound_ClientToVip_MatchesGoldenFrame(string client, string vip, string realServer, ProtocolType protocol)
    {
        var input = new FrameSpec { Source = client, Destination = vip, DestinationPort = 80, Protocol = protocol, PayloadLength = 33 };
        var rewriter = new NatRewriter();
        var rs = new InetEndpoint(InetAddress.Parse(realServer), 8080);
        RewriteHarness.AssertRewritesTo(input, input.Forwarded() with { Destination = realServer, DestinationPort = 8080 }, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteInbound(b, o, l, p, rs, Director, NextHop));
    }

    /// <summary>Real server, client and VIP addresses of a reply, IPv4 and IPv6.</summary>
    public static TheoryData<string, string, string> Replies() => new()
    {
        { "10.0.0.5", "198.51.100.7", "192.0.2.10" },
        { "fd00::5", "2001:db8:1::7", "2001:db8::10" },
    };

    [Theory]
    [MemberData(nameof(Replies))]
    public void RewriteOutbound_RealServerToClient_MatchesGoldenFrame(string realServer, string client, string vip)
    {
        var input = Reply(realServer, client) with { PayloadLength = 100 };
        var rewriter = new NatRewriter();
        var vs = new InetEndpoint(InetAddress.Parse(vip), 80);
        RewriteHarness.AssertRewritesTo(input, input.Forwarded() with { Source = vip, SourcePort = 80 }, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteOutbound(b, o, l, p, vs, Director, NextHop));
    }

    [Fact]
    public void RewriteInbound_UdpWithoutChecksum_KeepsZeroChecksum()
    {
        var input = new FrameSpec { Protocol = ProtocolType.Udp, ZeroUdpChecksum = true };
        var rewriter = new NatRewriter();
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 5), 53), Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(0, Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<UdpPacket>().Checksum);
    }

    /// <summary>
    /// The reply the property test found in CI: rewriting its source to the virtual service makes its UDP checksum fold
    /// to zero, which a sender writes as 0xFFFF (RFC 768), and over IPv6 must (RFC 8200 section 8.1).
    /// </summary>
    [Fact]
    public void RewriteOutbound_UdpChecksumFoldingToZero_IsWrittenAsAllOnes()
    {
        var reply = new FrameSpec
        {
            Protocol = ProtocolType.Udp,
            Source = "2001:c40a:6310:a21a:1483:8a2c:eaa2:c191",
            SourcePort = 20856,
            Destination = "2001:bb8e:e53b:f3a:44a1:57bc:7d56:3790",
            DestinationPort = 34616,
            Ttl = 91,
            TypeOfService = 35,
            Syn = true,
            PayloadLength = 1022,
        };
        var vs = new InetEndpoint(InetAddress.Parse("2001:41da:a73b:33ca:fb86:d23e:a9e4:5932"), 14494);
        var rewriter = new NatRewriter();
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(reply), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteOutbound(b, o, l, p, vs, Director, NextHop));

        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(0xFFFF, Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<UdpPacket>().Checksum);
        PacketFactory.AssertChecksumsValid(output);
        RewriteHarness.AssertGolden(PacketFactory.Build(reply.Forwarded() with { Source = vs.Address.ToString(), SourcePort = 14494 }), output);
    }

    [Theory]
    [InlineData("198.51.100.7", "192.0.2.10")]
    [InlineData("2001:db8:1::7", "2001:db8::10")]
    public void RewriteInbound_TtlOne_ReturnsTimeExceededToClientFromVip(string client, string vip)
    {
        var input = new FrameSpec { Source = client, Destination = vip, Ttl = 1, PayloadLength = 40 };
        var rewriter = new NatRewriter();
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.Parse(client.Contains(':') ? "fd00::5" : "10.0.0.5"), 80), Director, NextHop));

        var ip = AssertTimeExceeded(verdict, output, from: vip, to: client);
        Assert.Equal(client.Contains(':') ? 3 : 11, ip.PayloadPacket?.Bytes[0] ?? ip.PayloadData[0]);
        var ethernet = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, output);
        Assert.Equal("020000000001", ethernet.DestinationHardwareAddress.ToString());
    }

    [Theory]
    [MemberData(nameof(Replies))]
    public void RewriteOutbound_TtlOneWithoutRealServerLinkAddress_ReturnsTimeExceededToRealServerFromVip(string realServer, string client, string vip)
    {
        var input = Reply(realServer, client) with { Ttl = 1 };
        var rewriter = new NatRewriter();
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteOutbound(b, o, l, p, new InetEndpoint(InetAddress.Parse(vip), 80), Director, NextHop));

        _ = AssertTimeExceeded(verdict, output, from: vip, to: realServer);
    }

    /// <summary>
    /// A reply from a real server with TTL 1 expires in the director's ip_forward, whose icmp_send takes the source by
    /// routing back to the real server: the director's address on that link, which the caller supplies, not the VIP.
    /// </summary>
    [Theory]
    [InlineData("10.0.0.5", "198.51.100.7", "192.0.2.10", "10.0.0.1")]
    [InlineData("fd00::5", "2001:db8:1::7", "2001:db8::10", "fd00::1")]
    public void RewriteOutbound_TtlOne_TimeExceededComesFromDirectorAddressOnRealServerLink(string realServer, string client, string vip, string link)
    {
        var input = Reply(realServer, client) with { Ttl = 1, PayloadLength = 40 };
        var rewriter = new NatRewriter(new ForwardingOptions { RealServerLinkIPv4 = InetAddress.Parse("10.0.0.1"), RealServerLinkIPv6 = InetAddress.Parse("fd00::1") });
        byte[] frame = PacketFactory.Build(input);
        var (verdict, output) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteOutbound(b, o, l, p, new InetEndpoint(InetAddress.Parse(vip), 80), Director, NextHop));

        var ip = AssertTimeExceeded(verdict, output, from: link, to: realServer);
        byte[] icmp = ip.PayloadPacket?.Bytes ?? ip.PayloadData;
        Assert.Equal(frame[14..], icmp[8..]); // the reply as the real server sent it, untranslated
    }

    [Fact]
    public void Constructor_RealServerLinkAddressOfWrongFamily_Throws()
    {
        _ = Assert.Throws<ArgumentException>(() => new NatRewriter(new ForwardingOptions { RealServerLinkIPv4 = InetAddress.Parse("fd00::1") }));
        _ = Assert.Throws<ArgumentException>(() => new NatRewriter(new ForwardingOptions { RealServerLinkIPv6 = InetAddress.Parse("10.0.0.1") }));
    }

    [Fact]
    public void RewriteInbound_TtlOneWithDecrementOff_Forwards()
    {
        var rewriter = new NatRewriter(new ForwardingOptions { DecrementHopLimit = false });
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(new FrameSpec { Ttl = 1 }), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 5), 80), Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(1, Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<IPv4Packet>().TimeToLive);
        PacketFactory.AssertChecksumsValid(output);
    }

    [Fact]
    public void RewriteInbound_CorruptChecksum_FollowsPolicy()
    {
        byte[] frame = PacketFactory.Build(new FrameSpec { PayloadLength = 20 });
        frame[^1] ^= 0x55;
        var rs = new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 5), 80);

        var ignore = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) => new NatRewriter().RewriteInbound(b, o, l, p, rs, Director, NextHop));
        var count = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter(new ForwardingOptions { InputChecksum = InputChecksumPolicy.VerifyAndCount }).RewriteInbound(b, o, l, p, rs, Director, NextHop));
        var drop = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter(new ForwardingOptions { InputChecksum = InputChecksumPolicy.VerifyAndDrop }).RewriteInbound(b, o, l, p, rs, Director, NextHop));

        Assert.Equal(ForwardingNotes.None, ignore.Verdict.Notes);
        Assert.Equal(ForwardingAction.Transmit, count.Verdict.Action);
        Assert.Equal(ForwardingNotes.BadInputChecksum, count.Verdict.Notes);
        Assert.False(Packet.ParsePacket(LinkLayers.Ethernet, count.Output).Extract<TcpPacket>().ValidTcpChecksum);
        Assert.Equal(DropReason.BadInputChecksum, drop.Verdict.Reason);
        Assert.Equal(ForwardingAction.Drop, drop.Verdict.Action);
    }

    [Fact]
    public void RewriteInbound_GoodChecksumVerified_ForwardsWithoutNote()
    {
        var rewriter = new NatRewriter(new ForwardingOptions { InputChecksum = InputChecksumPolicy.VerifyAndDrop });
        var (verdict, _) = RewriteHarness.Run(PacketFactory.Build(new FrameSpec { PayloadLength = 21 }), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 5), 80), Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(ForwardingNotes.None, verdict.Notes);
    }

    [Fact]
    public void RewriteInbound_FamilyMismatch_Drops()
    {
        var (verdict, _) = RewriteHarness.Run(PacketFactory.Build(new FrameSpec()), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter().RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.Parse("fd00::5"), 80), Director, NextHop));
        Assert.Equal(DropReason.AddressFamilyMismatch, verdict.Reason);
    }

    [Fact]
    public void RewriteInbound_IPv4Options_TranslatesBehindTheOptions()
    {
        byte[] frame = FrameMutations.WithIPv4Options(PacketFactory.Build(new FrameSpec { PayloadLength = 30 }));
        var (verdict, output) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter().RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 5), 8080), Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        PacketFactory.AssertChecksumsValid(output);
        var tcp = Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<TcpPacket>();
        Assert.Equal(8080, tcp.DestinationPort);
        Assert.Equal(frame[34..38], output[34..38]);
    }

    [Fact]
    public void RewriteInbound_NonFirstFragmentForwarded_RewritesOnlyTheIpHeader()
    {
        byte[] frame = FrameMutations.AsNonFirstFragment(PacketFactory.Build(new FrameSpec { PayloadLength = 40 }));
        var rewriter = new NatRewriter(new ForwardingOptions { NonFirstFragments = FragmentPolicy.Forward });
        var (verdict, output) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 5), 8080), Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(ForwardingNotes.NonFirstFragment, verdict.Notes);
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<IPv4Packet>();
        Assert.True(ip.ValidIPChecksum);
        Assert.Equal("10.0.0.5", ip.DestinationAddress.ToString());
        Assert.Equal(frame[34..], output[34..]);
    }

    /// <summary>ESP and AH fragments are forwarded under the default policy: IPVS never reassembles them (dont_defrag) and relates each by its addresses.</summary>
    [Theory]
    [InlineData(50)]
    [InlineData(51)]
    public void RewriteInbound_EspOrAhNonFirstFragmentByDefault_RewritesOnlyTheIpHeader(byte protocol)
    {
        byte[] frame = FrameMutations.AsNonFirstFragment(WithProtocol(PacketFactory.Build(new FrameSpec { Protocol = ProtocolType.Udp, PayloadLength = 40 }), protocol));
        var (verdict, output) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter().RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 5), 500), Director, NextHop));
        Assert.Equal((ForwardingAction.Transmit, ForwardingNotes.NonFirstFragment), (verdict.Action, verdict.Notes));
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<IPv4Packet>();
        Assert.True(ip.ValidIPChecksum);
        Assert.Equal("10.0.0.5", ip.DestinationAddress.ToString());
        Assert.Equal(frame[34..], output[34..]);
    }

    [Fact]
    public void RewriteInbound_NonFirstFragmentByDefault_Drops()
    {
        byte[] frame = FrameMutations.AsNonFirstFragment(PacketFactory.Build(new FrameSpec { PayloadLength = 40 }));
        var (verdict, _) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter().RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 5), 8080), Director, NextHop));
        Assert.Equal(DropReason.NonFirstFragment, verdict.Reason);
    }

    [Fact]
    public void RewriteInbound_TruncatedFrame_DropsTruncated()
    {
        byte[] frame = PacketFactory.Build(new FrameSpec { PayloadLength = 40 });
        byte[] buffer = PacketFactory.InBuffer(frame);
        var parsed = PacketFactory.Parse(buffer, FrameHeadroom.Required, frame.Length);
        var verdict = new NatRewriter().RewriteInbound(buffer, FrameHeadroom.Required, frame.Length - 1, parsed, new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 5), 80), Director, NextHop);
        Assert.Equal(DropReason.Truncated, verdict.Reason);
    }

    [Fact]
    public void RewriteInbound_Icmp_IsUnsupportedProtocol()
    {
        byte[] frame = PacketFactory.Build(new FrameSpec());
        frame[14 + 9] = 1; // ICMP, the rest is an echo-shaped body
        frame[34] = 8;
        FrameMutations.FixIPv4HeaderChecksum(frame);
        var (verdict, _) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter().RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 5), 80), Director, NextHop));
        Assert.Equal(DropReason.UnsupportedProtocol, verdict.Reason);
    }

    /// <summary>
    /// ESP and AH have no ports and no checksum IPVS translates (their protocol has no snat or dnat handler), so NAT
    /// rewrites their IP header alone, as ip_vs_nat_xmit and handle_response do: the destination inbound, the source
    /// outbound, the TTL and the IPv4 header checksum; every byte after the IP header stays as it was.
    /// </summary>
    [Theory]
    [InlineData("198.51.100.7", "192.0.2.10", "10.0.0.5", 50, false)]
    [InlineData("198.51.100.7", "192.0.2.10", "10.0.0.5", 51, false)]
    [InlineData("2001:db8:1::7", "2001:db8::10", "fd00::5", 50, false)]
    [InlineData("198.51.100.7", "192.0.2.10", "10.0.0.5", 50, true)]
    [InlineData("2001:db8:1::7", "2001:db8::10", "fd00::5", 50, true)]
    public void Rewrite_EspOrAh_RewritesTheIpHeaderAlone(string client, string vip, string realServer, byte protocol, bool outbound)
    {
        var spec = outbound
            ? new FrameSpec { Source = realServer, Destination = client, SourcePort = 500, DestinationPort = 500, Protocol = ProtocolType.Udp, PayloadLength = 60 }
            : new FrameSpec { Source = client, Destination = vip, SourcePort = 500, DestinationPort = 500, Protocol = ProtocolType.Udp, PayloadLength = 60 };
        byte[] input = WithProtocol(PacketFactory.Build(spec), protocol);
        var rewriter = new NatRewriter();
        var (verdict, output) = RewriteHarness.Run(input, (Span<byte> b, int o, int l, in ParsedFrame p) => outbound
            ? rewriter.RewriteOutbound(b, o, l, p, new InetEndpoint(InetAddress.Parse(vip), 500), Director, NextHop)
            : rewriter.RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.Parse(realServer), 4500), Director, NextHop));

        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        byte[] expected = [.. input];
        Director.WriteTo(expected.AsSpan(6));
        NextHop.WriteTo(expected.AsSpan(0));
        bool ipv4 = !client.Contains(':');
        var address = InetAddress.Parse(outbound ? vip : realServer);
        if (ipv4)
        {
            _ = address.WriteTo(expected.AsSpan(14 + (outbound ? 12 : 16)));
            expected[14 + 8]--;
            FrameMutations.FixIPv4HeaderChecksum(expected);
        }
        else
        {
            _ = address.WriteTo(expected.AsSpan(14 + (outbound ? 8 : 24)));
            expected[14 + 7]--;
        }

        RewriteHarness.AssertGolden(expected, output);
    }

    [Fact]
    public void RewriteInbound_Gre_IsUnsupportedProtocol()
    {
        byte[] frame = WithProtocol(PacketFactory.Build(new FrameSpec { Protocol = ProtocolType.Udp }), 47);
        var (verdict, _) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter().RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 5), 80), Director, NextHop));
        Assert.Equal(DropReason.UnsupportedProtocol, verdict.Reason);
    }

    /// <summary>The frame with its IP protocol (IPv4) or next header (IPv6, no extension header) changed, the IPv4 header checksum fixed.</summary>
    private static byte[] WithProtocol(byte[] frame, byte protocol)
    {
        byte[] result = [.. frame];
        if (result[14] >> 4 == 4)
        {
            result[14 + 9] = protocol;
            FrameMutations.FixIPv4HeaderChecksum(result);
        }
        else
        {
            result[14 + 6] = protocol;
        }

        return result;
    }

    /// <summary>Every NAT output passes PacketDotNet's checksum validation, and the reply rewritten outbound shows the client exactly the endpoints it addressed.</summary>
    [FsCheck.Xunit.Property(MaxTest = 200)]
    public Property InboundThenOutboundReply_ClientSeesTheVirtualService_AndChecksumsValid()
    {
        return Prop.ForAll(Arb.From(FrameGenerators.Flows()), flow =>
        {
            var request = flow.Request;
            var rewriter = new NatRewriter();
            var rs = flow.RealServer;
            var (inVerdict, forwarded) = RewriteHarness.Run(PacketFactory.Build(request), (Span<byte> b, int o, int l, in ParsedFrame p) => rewriter.RewriteInbound(b, o, l, p, rs, Director, NextHop));
            Assert.Equal(ForwardingAction.Transmit, inVerdict.Action);
            PacketFactory.AssertChecksumsValid(forwarded);
            var seenByServer = Packet.ParsePacket(LinkLayers.Ethernet, forwarded).Extract<IPPacket>();
            Assert.Equal(request.Source, seenByServer.SourceAddress.ToString());
            Assert.Equal(rs.Address.ToIPAddress(), seenByServer.DestinationAddress);

            var reply = request with { Source = rs.Address.ToString(), SourcePort = rs.Port, Destination = request.Source, DestinationPort = request.SourcePort, PayloadLength = flow.ReplyLength };
            var vs = new InetEndpoint(InetAddress.Parse(request.Destination), request.DestinationPort);
            var (outVerdict, back) = RewriteHarness.Run(PacketFactory.Build(reply), (Span<byte> b, int o, int l, in ParsedFrame p) => rewriter.RewriteOutbound(b, o, l, p, vs, Director, NextHop));
            Assert.Equal(ForwardingAction.Transmit, outVerdict.Action);
            PacketFactory.AssertChecksumsValid(back);
            RewriteHarness.AssertGolden(PacketFactory.Build(reply.Forwarded() with { Source = request.Destination, SourcePort = request.DestinationPort }), back);
        });
    }

    /// <summary>A reply from the real server's port 8080 to the client's port 43210.</summary>
    private static FrameSpec Reply(string realServer, string client) =>
        new() { Source = realServer, SourcePort = 8080, Destination = client, DestinationPort = 43210 };

    /// <summary>The verdict is an ICMP time exceeded whose frame has valid checksums and goes from <paramref name="from"/> to <paramref name="to"/>; returns its IP packet.</summary>
    private static IPPacket AssertTimeExceeded(ForwardingVerdict verdict, byte[] output, string from, string to)
    {
        Assert.Equal(ForwardingAction.SendIcmpError, verdict.Action);
        Assert.Equal(DropReason.HopLimitExceeded, verdict.Reason);
        PacketFactory.AssertChecksumsValid(output);
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<IPPacket>();
        Assert.Equal(from, ip.SourceAddress.ToString());
        Assert.Equal(to, ip.DestinationAddress.ToString());
        return ip;
    }
}
