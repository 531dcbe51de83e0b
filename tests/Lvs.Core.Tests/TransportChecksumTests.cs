using System.Buffers.Binary;
using FsCheck.Xunit;
using Lvs.Core.Headers;
using Lvs.TestSupport;
using PacketDotNet;

namespace Lvs.Core.Tests;

/// <summary>
/// <see cref="TransportChecksum"/> against checksums written by independent code: PacketDotNet for TCP, UDP, ICMP and
/// ICMPv6, the bitwise CRC32c reference for SCTP.
/// </summary>
[Properties(Arbitrary = [typeof(FrameArbitraries)], MaxTest = 300)]
public class TransportChecksumTests
{
    [Property]
    public void IsValid_FrameChecksummedByTheOracle_True(FrameSpec spec)
    {
        byte[] frame = TestFrames.Build(spec);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.True(TransportChecksum.IsValid(frame, parsed));
    }

    /// <summary>One bit flipped anywhere the checksum covers: the segment, or an address of the pseudo-header.</summary>
    [Property]
    public void IsValid_OneBitFlippedInTheSegmentOrAnAddress_False(FrameSpec spec, uint where, byte bit)
    {
        byte[] frame = TestFrames.Build(spec);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        int addresses = spec.V6 ? 32 : 8;
        int addressStart = parsed.L3Offset + (spec.V6 ? 8 : 12);
        int segment = parsed.FrameLength - parsed.L4Offset;
        int at = (int)(where % (uint)(addresses + segment));
        int index = at < addresses ? addressStart + at : parsed.L4Offset + (at - addresses);
        frame[index] ^= (byte)(1 << (bit % 8));

        // Over IPv4 a UDP checksum flipped to 0 means "no checksum" (RFC 768), which is valid.
        bool noUdpChecksum = spec.Udp && !spec.V6 && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(parsed.L4Offset + 6)) == 0;
        Assert.Equal(noUdpChecksum, TransportChecksum.IsValid(frame, parsed));
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void IsValid_UdpWithoutChecksum_ValidOverIpv4Only(bool ipv6, bool valid)
    {
        byte[] frame = TestFrames.Build(new FrameSpec(ipv6, true, Address(ipv6, 1), Address(ipv6, 2), 5000, 53, 0, 0, 0, 12, 64, false, 0));
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        frame[parsed.L4Offset + 6] = 0;
        frame[parsed.L4Offset + 7] = 0;
        Assert.Equal(valid, TransportChecksum.IsValid(frame, parsed));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void IsValid_IcmpEcho_ChecksummedByPacketDotNet_TrueAndFalseWhenCorrupted(bool ipv6)
    {
        byte[] frame = Echo(ipv6);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(ipv6 ? L4Protocol.IcmpV6 : L4Protocol.Icmp, parsed.Protocol);
        Assert.True(TransportChecksum.IsValid(frame, parsed));

        frame[parsed.FrameLength - 1] ^= 0x40;
        Assert.False(TransportChecksum.IsValid(frame, parsed));
    }

    /// <summary>ICMPv6 covers the pseudo-header (RFC 4443 2.3), ICMP does not (RFC 792): a changed source address tells them apart.</summary>
    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void IsValid_IcmpEchoWithAnotherSourceAddress_OnlyIcmpV6Notices(bool ipv6, bool stillValid)
    {
        byte[] frame = Echo(ipv6);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        frame[parsed.L3Offset + (ipv6 ? 23 : 15)] ^= 0x01;
        if (!ipv6)
        {
            // Keep the IPv4 header's own checksum right, so only the ICMP question is asked.
            FixIpv4HeaderChecksum(frame, parsed);
        }

        Assert.Equal(stillValid, TransportChecksum.IsValid(frame, parsed));
    }

    [Fact]
    public void IsValid_Sctp_CheckedWithTheCrc32cReference()
    {
        byte[] packet = SctpTests.Packet(SctpTests.Chunk(SctpHeader.ChunkData, 20));
        Assert.Equal(Crc32cReference.Compute(WithZeroChecksum(packet)), BinaryPrimitives.ReadUInt32LittleEndian(packet.AsSpan(8)));
        byte[] frame = SctpTests.Ipv4Frame(132, packet);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.True(TransportChecksum.IsValid(frame, parsed));

        frame[^1] ^= 0x01;
        Assert.False(TransportChecksum.IsValid(frame, parsed));
    }

    /// <summary>
    /// UDP-Lite (udplite_checksum_init): the checksum covers the pseudo-header (with the datagram's whole length) and
    /// the bytes its coverage names, 0 meaning all; a coverage below 8 or beyond the datagram, or a zero checksum, is
    /// refused. The checksum here is summed by the test's own loop.
    /// </summary>
    [Theory]
    [InlineData(0, -1, true)]
    [InlineData(12, -1, true)]
    [InlineData(12, 15, true)] // a byte beyond the coverage
    [InlineData(12, 10, false)] // a byte within it
    [InlineData(0, 15, false)]
    [InlineData(4, -1, false)]
    [InlineData(24, -1, false)]
    public void IsValid_UdpLite_OverItsCoverage(int coverage, int flip, bool valid)
    {
        byte[] datagram = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(datagram, 5353);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), 53);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(4), (ushort)coverage);
        for (int i = 8; i < datagram.Length; i++)
        {
            datagram[i] = (byte)(i * 7);
        }

        byte[] frame = SctpTests.Ipv4Frame(136, datagram);
        int covered = coverage >= 8 && coverage <= datagram.Length ? coverage : datagram.Length;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(34 + 6), ReferenceChecksum(frame.AsSpan(26, 8), datagram.Length, frame.AsSpan(34, covered)));
        if (flip >= 0)
        {
            frame[34 + flip] ^= 0x01;
        }

        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(valid, TransportChecksum.IsValid(frame, parsed));

        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(34 + 6), 0);
        Assert.False(TransportChecksum.IsValid(frame, parsed));
    }

    /// <summary>RFC 1071 over an IPv4 pseudo-header (addresses, protocol 136, length) and the covered bytes, in plain 32-bit arithmetic.</summary>
    private static ushort ReferenceChecksum(ReadOnlySpan<byte> addresses, int length, ReadOnlySpan<byte> covered)
    {
        uint sum = 136u + (uint)length;
        byte[] all = [.. addresses, .. covered, .. (covered.Length % 2 == 1 ? new byte[] { 0 } : [])];
        for (int i = 0; i < all.Length; i += 2)
        {
            sum += (uint)((all[i] << 8) | all[i + 1]);
        }

        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    [Fact]
    public void IsValid_Fragment_FalseSinceItCannotBeCheckedAlone()
    {
        byte[] frame = TestFrames.Build(new FrameSpec(false, true, Address(false, 1), Address(false, 2), 5000, 53, 0, 0, 0, 40, 64, false, 0));
        var ip = frame.AsSpan(14);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x2000); // more fragments, offset 0: a whole first fragment
        ip[10] = 0;
        ip[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..20]));
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(FragmentKind.First, parsed.Fragment);
        Assert.False(TransportChecksum.IsValid(frame, parsed));
    }

    [Fact]
    public void IsValid_NotParsed_False()
    {
        byte[] frame = TestFrames.Build(new FrameSpec(false, false, Address(false, 1), Address(false, 2), 5000, 80, 0, 0, 0, 0, 64, false, 7));
        Assert.False(TransportChecksum.IsValid(frame, default));
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.False(TransportChecksum.IsValid(frame.AsSpan(0, parsed.FrameLength - 1), parsed));
    }

    private static byte[] Address(bool ipv6, byte last)
    {
        byte[] address = ipv6 ? [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] : [10, 0, 0, 0];
        address[^1] = last;
        return address;
    }

    /// <summary>An echo request with its checksum computed by PacketDotNet.</summary>
    private static byte[] Echo(bool ipv6)
    {
        byte[] message = [ipv6 ? (byte)128 : (byte)8, 0, 0, 0, 0x12, 0x34, 0, 1, 1, 2, 3, 4, 5, 6, 7];
        var source = new System.Net.IPAddress(Address(ipv6, 1));
        var destination = new System.Net.IPAddress(Address(ipv6, 2));
        var mac = System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-01");
        if (ipv6)
        {
            // PacketDotNet does not compute ICMPv6 checksums: RFC 4443's sum, word by word, over the pseudo-header and message.
            byte[] pseudo = [.. Address(ipv6, 1), .. Address(ipv6, 2), 0, 0, 0, (byte)message.Length, 0, 0, 0, 58];
            BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), WordByWordChecksum([.. pseudo, .. message]));
            var icmp = new IcmpV6Packet(new PacketDotNet.Utils.ByteArraySegment(message));
            var ip = new IPv6Packet(source, destination) { Protocol = ProtocolType.IcmpV6, PayloadPacket = icmp };
            var eth = new EthernetPacket(mac, mac, EthernetType.IPv6) { PayloadPacket = ip };
            ip.UpdateCalculatedValues();
            return eth.Bytes;
        }
        else
        {
            var icmp = new IcmpV4Packet(new PacketDotNet.Utils.ByteArraySegment(message));
            var ip = new IPv4Packet(source, destination) { Protocol = ProtocolType.Icmp, PayloadPacket = icmp };
            var eth = new EthernetPacket(mac, mac, EthernetType.IPv4) { PayloadPacket = ip };
            icmp.UpdateIcmpChecksum();
            ip.UpdateCalculatedValues();
            ip.UpdateIPChecksum();
            return eth.Bytes;
        }
    }

    /// <summary>RFC 1071's one's complement sum, one 16-bit word at a time with the carry folded back each time.</summary>
    private static ushort WordByWordChecksum(byte[] data)
    {
        int sum = 0;
        for (int i = 0; i < data.Length; i += 2)
        {
            sum += (data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0);
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    private static void FixIpv4HeaderChecksum(byte[] frame, in ParsedFrame parsed)
    {
        var header = frame.AsSpan(parsed.L3Offset, parsed.L3HeaderLength);
        header[10] = 0;
        header[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], Checksum.Compute(header));
    }

    private static byte[] WithZeroChecksum(byte[] packet)
    {
        byte[] copy = (byte[])packet.Clone();
        copy.AsSpan(8, 4).Clear();
        return copy;
    }
}
