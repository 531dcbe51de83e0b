using System.Buffers.Binary;
using System.Net;
using Lvs.Core;

namespace Lvs.Forwarding.Tests;

/// <summary>
/// NAT and FULLNAT of SCTP (the kernel's sctp_dnat_handler / sctp_snat_handler: ports rewritten, the CRC32c of the
/// whole packet computed afresh when a port changed) and ICMP errors quoting SCTP (ip_vs_nat_icmp: quoted ports
/// translated). Frames are built here by hand; the SCTP checksum by a bitwise CRC32c written for the test.
/// </summary>
public sealed class SctpForwardingTests
{
    private static readonly MacAddress Director = PacketFactory.DirectorMac;
    private static readonly MacAddress NextHop = PacketFactory.NextHopMac;
    private const string ClientMac = "020000000001";
    private const string DirectorMacHex = "020000000002";
    private const string NextHopMacHex = "020000000099";

    /// <summary>The bitwise reflected CRC32c (polynomial 0x82F63B78), independent of Lvs.Core.</summary>
    internal static uint ReferenceCrc32C(ReadOnlySpan<byte> data) => Lvs.TestSupport.Crc32cReference.Compute(data);

    /// <summary>True when the SCTP packet's stored checksum is the reference CRC32c over it with the field zero (RFC 9260 appendix B, little-endian).</summary>
    internal static bool ReferenceValid(ReadOnlySpan<byte> sctp)
    {
        byte[] copy = sctp.ToArray();
        copy.AsSpan(8, 4).Clear();
        return BinaryPrimitives.ReadUInt32LittleEndian(sctp[8..]) == ReferenceCrc32C(copy);
    }

    /// <summary>An SCTP packet: common header and the chunks, with the reference checksum (or a wrong one).</summary>
    internal static byte[] SctpPacket(ushort sourcePort, ushort destinationPort, byte[] chunks, uint tag = 0xA1B2C3D4, bool wrongChecksum = false)
    {
        byte[] packet = new byte[12 + chunks.Length];
        BinaryPrimitives.WriteUInt16BigEndian(packet, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), tag);
        chunks.CopyTo(packet, 12);
        uint crc = ReferenceCrc32C(packet);
        BinaryPrimitives.WriteUInt32LittleEndian(packet.AsSpan(8), wrongChecksum ? crc ^ 0x5A : crc);
        return packet;
    }

    /// <summary>A DATA chunk carrying <paramref name="length"/> bytes of user data (padded to 4).</summary>
    internal static byte[] DataChunk(int length)
    {
        byte[] chunk = new byte[(16 + length + 3) & ~3];
        BinaryPrimitives.WriteUInt16BigEndian(chunk.AsSpan(2), (ushort)(16 + length));
        for (int i = 16; i < 16 + length; i++)
        {
            chunk[i] = (byte)(i * 7);
        }

        return chunk;
    }

    /// <summary>An Ethernet frame holding an IP packet of <paramref name="protocol"/> with <paramref name="payload"/>.</summary>
    internal static byte[] IpFrame(string source, string destination, byte protocol, byte[] payload, byte ttl = 64, string sourceMac = ClientMac, string destinationMac = DirectorMacHex, ushort fragment = 0x4000)
    {
        var src = IPAddress.Parse(source);
        var dst = IPAddress.Parse(destination);
        bool ipv4 = src.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;
        byte[] header = new byte[ipv4 ? 20 : 40];
        if (ipv4)
        {
            header[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)(20 + payload.Length));
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), 7);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), fragment);
            header[8] = ttl;
            header[9] = protocol;
            src.GetAddressBytes().CopyTo(header, 12);
            dst.GetAddressBytes().CopyTo(header, 16);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), ReferenceChecksum.Compute(header));
        }
        else
        {
            header[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), (ushort)payload.Length);
            header[6] = protocol;
            header[7] = ttl;
            src.GetAddressBytes().CopyTo(header, 8);
            dst.GetAddressBytes().CopyTo(header, 24);
        }

        return [.. Convert.FromHexString(destinationMac), .. Convert.FromHexString(sourceMac), (byte)(ipv4 ? 0x08 : 0x86), (byte)(ipv4 ? 0x00 : 0xDD), .. header, .. payload];
    }

    private static byte[] Sctp(string source, ushort sourcePort, string destination, ushort destinationPort, byte ttl = 64, string sourceMac = ClientMac, string destinationMac = DirectorMacHex, bool wrongChecksum = false) =>
        IpFrame(source, destination, 132, SctpPacket(sourcePort, destinationPort, DataChunk(37), wrongChecksum: wrongChecksum), ttl, sourceMac, destinationMac);

    private static byte[] SctpOf(byte[] frame) => frame[((frame[12] == 0x08 ? 20 : 40) + 14)..];

    public static TheoryData<string, string, string> Families() => new()
    {
        { "198.51.100.7", "192.0.2.10", "10.0.0.5" },
        { "2001:db8:1::7", "2001:db8::10", "fd00::5" },
    };

    [Theory]
    [MemberData(nameof(Families))]
    public void NatInbound_Sctp_RewritesDestinationAddressAndPort_AndRecomputesTheCrc32c(string client, string vip, string realServer)
    {
        byte[] input = Sctp(client, 5000, vip, 36412);
        var (verdict, output) = RewriteHarness.Run(input, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter().RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.Parse(realServer), 9000), Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        RewriteHarness.AssertGolden(Sctp(client, 5000, realServer, 9000, 63, DirectorMacHex, NextHopMacHex), output);
        Assert.True(ReferenceValid(SctpOf(output)));
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void NatOutbound_Sctp_RewritesSourceAddressAndPort_AndRecomputesTheCrc32c(string client, string vip, string realServer)
    {
        byte[] input = Sctp(realServer, 9000, client, 5000);
        var (verdict, output) = RewriteHarness.Run(input, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter().RewriteOutbound(b, o, l, p, new InetEndpoint(InetAddress.Parse(vip), 36412), Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        RewriteHarness.AssertGolden(Sctp(vip, 36412, client, 5000, 63, DirectorMacHex, NextHopMacHex), output);
        Assert.True(ReferenceValid(SctpOf(output)));
    }

    [Theory]
    [InlineData("198.51.100.7", "192.0.2.10", "10.0.0.100", "10.0.0.5")]
    [InlineData("2001:db8:1::7", "2001:db8::10", "fd00::100", "fd00::5")]
    public void FullNat_Sctp_BothWays_RewritesAddressesAndPorts_AndRecomputesTheCrc32c(string client, string vip, string local, string realServer)
    {
        var rewriter = new FullNatRewriter();
        var (verdict, output) = RewriteHarness.Run(Sctp(client, 5000, vip, 36412), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.Parse(local), 40001), new InetEndpoint(InetAddress.Parse(realServer), 9000), Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        RewriteHarness.AssertGolden(Sctp(local, 40001, realServer, 9000, 63, DirectorMacHex, NextHopMacHex), output);

        (verdict, output) = RewriteHarness.Run(Sctp(realServer, 9000, local, 40001), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.RewriteOutbound(b, o, l, p, new InetEndpoint(InetAddress.Parse(vip), 36412), new InetEndpoint(InetAddress.Parse(client), 5000), Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        RewriteHarness.AssertGolden(Sctp(vip, 36412, client, 5000, 63, DirectorMacHex, NextHopMacHex), output);
        Assert.True(ReferenceValid(SctpOf(output)));
    }

    [Fact]
    public void NatInbound_SctpToTheSamePort_LeavesTheChecksumAsItCame()
    {
        // sctp_dnat_handler recomputes only when the port changes: a wrong checksum stays wrong, for the server to drop.
        byte[] input = Sctp("198.51.100.7", 5000, "192.0.2.10", 36412, wrongChecksum: true);
        var (verdict, output) = RewriteHarness.Run(input, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter().RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.Parse("10.0.0.5"), 36412), Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        RewriteHarness.AssertGolden(Sctp("198.51.100.7", 5000, "10.0.0.5", 36412, 63, DirectorMacHex, NextHopMacHex, wrongChecksum: true), output);
        Assert.False(ReferenceValid(SctpOf(output)));
    }

    [Fact]
    public void NatInbound_SctpWithWrongChecksumAndVerifyAndDrop_IsDropped()
    {
        byte[] input = Sctp("198.51.100.7", 5000, "192.0.2.10", 36412, wrongChecksum: true);
        var (verdict, _) = RewriteHarness.Run(input, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter(new ForwardingOptions { InputChecksum = InputChecksumPolicy.VerifyAndDrop })
                .RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.Parse("10.0.0.5"), 9000), Director, NextHop));
        Assert.Equal(DropReason.BadInputChecksum, verdict.Reason);
    }

    [Fact]
    public void NatInbound_SctpFirstFragment_IsDroppedAsFragmentedSctp()
    {
        byte[] input = IpFrame("198.51.100.7", "192.0.2.10", 132, SctpPacket(5000, 36412, DataChunk(37)), fragment: 0x2000);
        var (verdict, _) = RewriteHarness.Run(input, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter().RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.Parse("10.0.0.5"), 9000), Director, NextHop));
        Assert.Equal(DropReason.FragmentedSctp, verdict.Reason);
    }

    [Fact]
    public void NatInbound_SctpTtlOne_AnswersTimeExceeded()
    {
        byte[] input = Sctp("198.51.100.7", 5000, "192.0.2.10", 36412, ttl: 1);
        var (verdict, output) = RewriteHarness.Run(input, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter().RewriteInbound(b, o, l, p, new InetEndpoint(InetAddress.Parse("10.0.0.5"), 9000), Director, NextHop));
        Assert.Equal(ForwardingAction.SendIcmpError, verdict.Action);
        Assert.Equal(1, output[14 + 9]); // ICMP
        Assert.Equal(11, output[34]); // time exceeded
    }

    [Fact]
    public void IcmpErrorQuotingSctp_ToRealServer_TranslatesTheQuotedPorts_AndIsMatchedByItsEmbeddedFlow()
    {
        // The client's side says the director's packet (VIP:36412 -> client:5000) needs fragmentation.
        byte[] sent = IpFrame("192.0.2.10", "198.51.100.7", 132, SctpPacket(36412, 5000, DataChunk(8)))[14..];
        byte[] input = IcmpError("203.0.113.1", "192.0.2.10", sent[..28]);
        var parsedOk = FrameParser.Parse(input, out var parsed);
        Assert.Equal(DropReason.None, parsedOk);
        Assert.Equal(DropReason.None, IcmpErrorTranslator.TryGetEmbeddedFlow(input, parsed, out var embedded));
        Assert.Equal(new FlowKey(L4Protocol.Sctp, InetEndpoint.Parse("192.0.2.10:36412"), InetEndpoint.Parse("198.51.100.7:5000")), embedded);

        var connection = NatEndpoints.ForNat(InetEndpoint.Parse("198.51.100.7:5000"), InetEndpoint.Parse("192.0.2.10:36412"), InetEndpoint.Parse("10.0.0.5:9000"));
        var (verdict, output) = RewriteHarness.Run(input, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new IcmpErrorTranslator().TranslateToRealServer(b, o, l, p, connection, Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);

        // The quote as the real server sent it; its CRC32c is left as quoted (ip_vs_nat_icmp touches no SCTP checksum).
        byte[] quote = sent[..28];
        IPAddress.Parse("10.0.0.5").GetAddressBytes().CopyTo(quote, 12);
        BinaryPrimitives.WriteUInt16BigEndian(quote.AsSpan(10), 0);
        BinaryPrimitives.WriteUInt16BigEndian(quote.AsSpan(10), ReferenceChecksum.Compute(quote.AsSpan(0, 20)));
        BinaryPrimitives.WriteUInt16BigEndian(quote.AsSpan(20), 9000);
        RewriteHarness.AssertGolden(IcmpError("203.0.113.1", "10.0.0.5", quote, ttl: 63, sourceMac: DirectorMacHex, destinationMac: NextHopMacHex), output);
    }

    [Fact]
    public void Nat_RandomSctpPackets_NeverThrow_AndLeaveWithARightCrc32c_BothFamilies()
    {
        var random = new Random(132);
        for (int i = 0; i < 300; i++)
        {
            bool v6 = (i & 1) != 0;
            byte[] chunks = new byte[random.Next(0, 400)];
            random.NextBytes(chunks);
            byte[] input = IpFrame(v6 ? "2001:db8:1::7" : "198.51.100.7", v6 ? "2001:db8::10" : "192.0.2.10", 132, SctpPacket((ushort)random.Next(1, 65536), 36412, chunks, (uint)random.Next()));
            var realServer = new InetEndpoint(InetAddress.Parse(v6 ? "fd00::5" : "10.0.0.5"), (ushort)random.Next(1, 65536));
            var (verdict, output) = RewriteHarness.Run(input, (Span<byte> b, int o, int l, in ParsedFrame p) =>
                new NatRewriter().RewriteInbound(b, o, l, p, realServer, Director, NextHop));
            Assert.Equal(ForwardingAction.Transmit, verdict.Action);
            Assert.Equal(realServer.Port, BinaryPrimitives.ReadUInt16BigEndian(SctpOf(output).AsSpan(2)));
            Assert.True(ReferenceValid(SctpOf(output)));
        }
    }

    [Fact]
    public void Parse_SctpShorterThanItsCommonHeader_IsTruncated()
    {
        byte[] input = IpFrame("198.51.100.7", "192.0.2.10", 132, new byte[11]);
        Assert.Equal(DropReason.Truncated, FrameParser.Parse(input, out _));
    }

    private static byte[] IcmpError(string source, string destination, byte[] quote, byte ttl = 64, string sourceMac = ClientMac, string destinationMac = DirectorMacHex)
    {
        byte[] icmp = [3, 4, 0, 0, 0, 0, 0x05, 0x78, .. quote];
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), ReferenceChecksum.Compute(icmp));
        return IpFrame(source, destination, 1, icmp, ttl, sourceMac, destinationMac, fragment: 0);
    }
}
