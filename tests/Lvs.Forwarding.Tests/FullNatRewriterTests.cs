using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;
using PacketDotNet;

namespace Lvs.Forwarding.Tests;

public class FullNatRewriterTests
{
    private static readonly MacAddress Director = PacketFactory.DirectorMac;
    private static readonly MacAddress NextHop = PacketFactory.NextHopMac;

    [Theory]
    [InlineData("198.51.100.7", "192.0.2.10", "10.0.0.100", "10.0.0.5", ProtocolType.Tcp)]
    [InlineData("198.51.100.7", "192.0.2.10", "10.0.0.100", "10.0.0.5", ProtocolType.Udp)]
    [InlineData("2001:db8:1::7", "2001:db8::10", "fd00::100", "fd00::5", ProtocolType.Tcp)]
    [InlineData("2001:db8:1::7", "2001:db8::10", "fd00::100", "fd00::5", ProtocolType.Udp)]
    public void RewriteInbound_ClientToVip_MatchesGoldenFrame(string client, string vip, string local, string realServer, ProtocolType protocol)
    {
        var input = new FrameSpec { Source = client, Destination = vip, Protocol = protocol, PayloadLength = 70 };
        var expected = input.Forwarded() with { Source = local, SourcePort = 5001, Destination = realServer, DestinationPort = 8080 };
        var rewriter = new FullNatRewriter();
        RewriteHarness.AssertRewritesTo(input, expected, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.Parse(local), 5001), new InetEndpoint(InetAddress.Parse(realServer), 8080), Director, NextHop));
    }

    [Theory]
    [InlineData("10.0.0.5", "10.0.0.100", "198.51.100.7", "192.0.2.10")]
    [InlineData("fd00::5", "fd00::100", "2001:db8:1::7", "2001:db8::10")]
    public void RewriteOutbound_RealServerToLocal_MatchesGoldenFrame(string realServer, string local, string client, string vip)
    {
        var input = new FrameSpec { Source = realServer, SourcePort = 8080, Destination = local, DestinationPort = 5001, PayloadLength = 300 };
        var expected = input.Forwarded() with { Source = vip, SourcePort = 80, Destination = client, DestinationPort = 43210 };
        var rewriter = new FullNatRewriter();
        RewriteHarness.AssertRewritesTo(input, expected, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteOutbound(b, o, l, p, new InetEndpoint(InetAddress.Parse(vip), 80), new InetEndpoint(InetAddress.Parse(client), 43210), Director, NextHop));
    }

    /// <summary>
    /// A FULLNAT reply is addressed to the local address, which the director owns: icmp_send answers from a local
    /// destination, so the time exceeded comes from the local address (on the real server's link), not the VIP.
    /// </summary>
    [Theory]
    [InlineData("10.0.0.5", "10.0.0.100", "198.51.100.7", "192.0.2.10")]
    [InlineData("fd00::5", "fd00::100", "2001:db8:1::7", "2001:db8::10")]
    public void RewriteOutbound_TtlOne_TimeExceededComesFromLocalAddress(string realServer, string local, string client, string vip)
    {
        var input = new FrameSpec { Source = realServer, SourcePort = 8080, Destination = local, DestinationPort = 5001, Ttl = 1, PayloadLength = 30 };
        var rewriter = new FullNatRewriter();
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteOutbound(b, o, l, p, new InetEndpoint(InetAddress.Parse(vip), 80), new InetEndpoint(InetAddress.Parse(client), 43210), Director, NextHop));

        Assert.Equal(ForwardingAction.SendIcmpError, verdict.Action);
        Assert.Equal(DropReason.HopLimitExceeded, verdict.Reason);
        PacketFactory.AssertChecksumsValid(output);
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<IPPacket>();
        Assert.Equal(local, ip.SourceAddress.ToString());
        Assert.Equal(realServer, ip.DestinationAddress.ToString());
    }

    [Theory]
    [InlineData("198.51.100.7", "192.0.2.10", "10.0.0.100", "10.0.0.5", new byte[] { 254, 8, 0xA8, 0xCA, 198, 51, 100, 7 })]
    [InlineData("2001:db8:1::7", "2001:db8::10", "fd00::100", "fd00::5", new byte[] { 254, 20, 0xA8, 0xCA, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7 })]
    public void RewriteInbound_SynWithToa_InsertsOptionBeforeOtherOptions(string client, string vip, string local, string realServer, byte[] toa)
    {
        // MSS 1460, SACK permitted, then end of options: TOA must come before the EOL to be seen.
        byte[] options = [2, 4, 0x05, 0xB4, 4, 2, 0, 0];
        var input = new FrameSpec { Source = client, Destination = vip, Syn = true, Ack = false, PayloadLength = 0, TcpOptions = options };
        var expected = input.Forwarded() with { Source = local, SourcePort = 5001, Destination = realServer, DestinationPort = 8080, TcpOptions = [.. toa, .. options] };
        var rewriter = new FullNatRewriter(new ForwardingOptions { InsertToa = true });
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.Parse(local), 5001), new InetEndpoint(InetAddress.Parse(realServer), 8080), Director, NextHop));

        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(ForwardingNotes.ToaInserted, verdict.Notes);
        Assert.Equal(FrameHeadroom.Required - toa.Length, verdict.FrameOffset);
        RewriteHarness.AssertGolden(PacketFactory.Build(expected), output);
        PacketFactory.AssertChecksumsValid(output);
    }

    [Fact]
    public void RewriteInbound_SynWithFullOptions_ForwardsWithoutToaAndNotes()
    {
        byte[] options = [.. Enumerable.Repeat((byte)1, 36), 0, 0, 0, 0];
        var input = new FrameSpec { Syn = true, Ack = false, PayloadLength = 0, TcpOptions = options };
        var rewriter = new FullNatRewriter(new ForwardingOptions { InsertToa = true });
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 100), 5001), new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 5), 80), Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(ForwardingNotes.ToaNotInserted, verdict.Notes);
        PacketFactory.AssertChecksumsValid(output);
    }

    [Fact]
    public void RewriteInbound_SynWithoutHeadroom_ForwardsWithoutToa()
    {
        var rewriter = new FullNatRewriter(new ForwardingOptions { InsertToa = true });
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(new FrameSpec { Syn = true, Ack = false }), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 100), 5001), new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 5), 80), Director, NextHop), headroom: 0);
        Assert.Equal(ForwardingNotes.ToaNotInserted, verdict.Notes);
        PacketFactory.AssertChecksumsValid(output);
    }

    [Fact]
    public void RewriteInbound_AckWithToaEnabled_DoesNotInsert()
    {
        var rewriter = new FullNatRewriter(new ForwardingOptions { InsertToa = true });
        var input = PacketFactory.Build(new FrameSpec());
        var (verdict, output) = RewriteHarness.Run(input, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 100), 5001), new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, 5), 80), Director, NextHop));
        Assert.Equal(ForwardingNotes.None, verdict.Notes);
        Assert.Equal(input.Length, output.Length);
    }

    /// <summary>FULLNAT both ways: the real server sees local to itself, the client sees the VIP it addressed; every frame passes PacketDotNet's checksums.</summary>
    [FsCheck.Xunit.Property(MaxTest = 200)]
    public Property InboundThenOutboundReply_BothSidesSeeTheirEndpoints_AndChecksumsValid()
    {
        return Prop.ForAll(Arb.From(FrameGenerators.Flows()), Arb.From(Gen.Elements(false, true)), (flow, toa) =>
        {
            var request = flow.Request;
            var rewriter = new FullNatRewriter(new ForwardingOptions { InsertToa = toa });
            var (inVerdict, forwarded) = RewriteHarness.Run(PacketFactory.Build(request), (Span<byte> b, int o, int l, in ParsedFrame p) =>
                rewriter.RewriteInbound(b, o, l, p, flow.Local, flow.RealServer, Director, NextHop));
            Assert.Equal(ForwardingAction.Transmit, inVerdict.Action);
            PacketFactory.AssertChecksumsValid(forwarded);
            var atServer = Packet.ParsePacket(LinkLayers.Ethernet, forwarded);
            var ip = atServer.Extract<IPPacket>();
            var transport = atServer.Extract<TransportPacket>();
            Assert.Equal((flow.Local.Address.ToIPAddress(), flow.Local.Port, flow.RealServer.Address.ToIPAddress(), flow.RealServer.Port), (ip.SourceAddress, transport.SourcePort, ip.DestinationAddress, transport.DestinationPort));
            // PacketDotNet dissects some ports' payloads (UDP 1701 as L2TP): their length is then the payload packet's.
            Assert.Equal(request.PayloadLength, transport.PayloadPacket?.TotalPacketLength ?? transport.PayloadData.Length);

            var reply = request with { Source = flow.RealServer.Address.ToString(), SourcePort = flow.RealServer.Port, Destination = flow.Local.Address.ToString(), DestinationPort = flow.Local.Port, PayloadLength = flow.ReplyLength, Syn = false, Ack = true };
            var vs = new InetEndpoint(InetAddress.Parse(request.Destination), request.DestinationPort);
            var client = new InetEndpoint(InetAddress.Parse(request.Source), request.SourcePort);
            var (outVerdict, back) = RewriteHarness.Run(PacketFactory.Build(reply), (Span<byte> b, int o, int l, in ParsedFrame p) => rewriter.RewriteOutbound(b, o, l, p, vs, client, Director, NextHop));
            Assert.Equal(ForwardingAction.Transmit, outVerdict.Action);
            RewriteHarness.AssertGolden(
                PacketFactory.Build(reply.Forwarded() with { Source = request.Destination, SourcePort = request.DestinationPort, Destination = request.Source, DestinationPort = request.SourcePort }),
                back);
        });
    }
}
