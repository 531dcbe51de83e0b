using System.Buffers.Binary;
using Lvs.Core;

namespace Lvs.Forwarding.Tests;

public class TunnelDecapsulatorTests
{
    private static readonly TunnelDecapsulator Decapsulator = new(new TunnelDecapsulatorOptions { GuePort = 6080 });

    private static byte[] Encapsulated(TunnelType type, TunnelFlags flags = TunnelFlags.None, bool ipv6 = false)
    {
        var input = ipv6 ? new FrameSpec { Source = "2001:db8:1::7", Destination = "2001:db8::10" } : new FrameSpec();
        var route = new TunnelRoute(InetAddress.FromIPv4(10, 0, 0, 1), InetAddress.FromIPv4(10, 0, 0, 5), type, 6080, flags);
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new TunnelEncapsulator().Encapsulate(b, o, l, p, route, PacketFactory.DirectorMac, PacketFactory.NextHopMac));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        return output;
    }

    private static ForwardingVerdict Decapsulate(byte[] frame, TunnelDecapsulator? decapsulator = null) =>
        RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) => (decapsulator ?? Decapsulator).Decapsulate(b, o, l, p)).Verdict;

    [Theory]
    [InlineData(TunnelType.IpIp, false)]
    [InlineData(TunnelType.IpIp, true)]
    [InlineData(TunnelType.Gue, false)]
    [InlineData(TunnelType.Gre, true)]
    public void Decapsulate_ValidTunnel_ReturnsInnerFrameWithInnerEtherType(TunnelType type, bool innerIPv6)
    {
        byte[] frame = Encapsulated(type, ipv6: innerIPv6);
        var (verdict, output) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) => Decapsulator.Decapsulate(b, o, l, p));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(innerIPv6 ? 0x86DD : 0x0800, BinaryPrimitives.ReadUInt16BigEndian(output.AsSpan(12)));
        Assert.Equal(DropReason.None, FrameParser.Parse(output, out var inner));
        Assert.Equal(innerIPv6 ? 6 : 4, inner.IpVersion);
        Assert.Equal(frame[..12], output[..12]);
    }

    [Fact]
    public void Decapsulate_PlainTcp_IsNotTunnel() =>
        Assert.Equal(DropReason.NotTunnel, Decapsulate(PacketFactory.Build(new FrameSpec())).Reason);

    [Fact]
    public void Decapsulate_GueOnOtherPort_IsNotTunnel()
    {
        byte[] frame = Encapsulated(TunnelType.Gue);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14 + 20 + 2), 6081);
        Assert.Equal(DropReason.NotTunnel, Decapsulate(frame).Reason);
    }

    [Fact]
    public void Decapsulate_GueNotAccepted_IsNotTunnel() =>
        Assert.Equal(DropReason.NotTunnel, Decapsulate(Encapsulated(TunnelType.Gue), new TunnelDecapsulator()).Reason);

    [Fact]
    public void Decapsulate_IpIpNotAccepted_IsNotTunnel() =>
        Assert.Equal(DropReason.NotTunnel, Decapsulate(Encapsulated(TunnelType.IpIp), new TunnelDecapsulator(new TunnelDecapsulatorOptions { AcceptIpIp = false })).Reason);

    [Theory]
    [InlineData(0x40)] // GUE version 1
    [InlineData(0x20)] // control message
    [InlineData(0x01)] // extension fields
    public void Decapsulate_GueHeaderNotPlainVersion0_IsBadTunnelHeader(byte first)
    {
        byte[] frame = Encapsulated(TunnelType.Gue);
        frame[14 + 20 + 8] = first;
        Assert.Equal(DropReason.BadTunnelHeader, Decapsulate(frame).Reason);
    }

    [Theory]
    [InlineData(0x2000)] // key present
    [InlineData(0x1000)] // sequence number present
    [InlineData(0x0001)] // version 1 (PPTP)
    public void Decapsulate_GreWithUnsupportedFlags_IsBadTunnelHeader(ushort flags)
    {
        byte[] frame = Encapsulated(TunnelType.Gre);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14 + 20), flags);
        Assert.Equal(DropReason.BadTunnelHeader, Decapsulate(frame).Reason);
    }

    [Fact]
    public void Decapsulate_GreWithWrongChecksum_IsBadTunnelChecksum()
    {
        byte[] frame = Encapsulated(TunnelType.Gre, TunnelFlags.Checksum);
        frame[^1] ^= 0x01;
        Assert.Equal(DropReason.BadTunnelChecksum, Decapsulate(frame).Reason);
    }

    [Fact]
    public void Decapsulate_GueWithWrongUdpChecksum_IsBadTunnelChecksum()
    {
        byte[] frame = Encapsulated(TunnelType.Gue, TunnelFlags.Checksum);
        frame[^1] ^= 0x01;
        Assert.Equal(DropReason.BadTunnelChecksum, Decapsulate(frame).Reason);
    }

    [Fact]
    public void Decapsulate_InnerVersionDiffersFromAnnounced_IsBadInnerPacket()
    {
        byte[] frame = Encapsulated(TunnelType.IpIp);
        frame[14 + 9] = 41; // says IPv6 inside, carries IPv4
        FrameMutations.FixIPv4HeaderChecksum(frame);
        Assert.Equal(DropReason.BadInnerPacket, Decapsulate(frame).Reason);
    }

    [Fact]
    public void Decapsulate_InnerLengthDisagrees_IsBadInnerPacket()
    {
        byte[] frame = Encapsulated(TunnelType.IpIp);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14 + 20 + 2), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(14 + 20 + 2)) + 1));
        Assert.Equal(DropReason.BadInnerPacket, Decapsulate(frame).Reason);
    }

    [Fact]
    public void Decapsulate_OuterFragment_IsFragmentedTunnel()
    {
        byte[] frame = Encapsulated(TunnelType.IpIp);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14 + 6), 0x2000); // more fragments
        FrameMutations.FixIPv4HeaderChecksum(frame);
        Assert.Equal(DropReason.FragmentedTunnel, Decapsulate(frame).Reason);
    }
}
