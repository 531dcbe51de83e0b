using System.Reflection;
using FsCheck;
using FsCheck.Xunit;

namespace Lvs.Core.Tests;

/// <summary>
/// The parser's straight-line path for the common frame (untagged IPv4 without options or IPv6 without extension
/// headers, TCP or UDP, not a fragment) finds exactly what the general parse finds, and takes nothing the general parse
/// would drop.
/// </summary>
[Properties(Arbitrary = [typeof(FrameArbitraries)], MaxTest = 500)]
public class FrameParserCommonFrameTests
{
    private static readonly PropertyInfo[] Fields = typeof(ParsedFrame).GetProperties(BindingFlags.Public | BindingFlags.Instance);

    [Property]
    public void ValidFrame_ParsesAsTheGeneralParse_AndTheCommonOnesTakeTheFastPath(FrameSpec spec)
    {
        byte[] frame = TestFrames.Build(spec);
        AssertSameAsGeneralParse(frame);
        bool common = !spec.Vlan && (spec.V6 ? spec.ExtensionHeaders == 0 : spec.IpOptionWords == 0);
        Assert.Equal(common, TakesFastPath(frame, out _));
    }

    [Property]
    public void CorruptedFrame_ParsesAsTheGeneralParse(FrameSpec spec, byte[] offsets, byte[] values, PositiveInt cut)
    {
        byte[] frame = TestFrames.Build(spec);
        // Corrupt the first 64 bytes (the link, IP and transport headers of the common frame, where every field it
        // checks lives), then maybe cut the frame short.
        for (int i = 0; i < Math.Min(offsets.Length, values.Length); i++)
        {
            frame[offsets[i] % Math.Min(frame.Length, 64)] = values[i];
        }

        AssertSameAsGeneralParse(frame);
        AssertSameAsGeneralParse(frame.AsSpan(0, cut.Get % (frame.Length + 1)));
    }

    [Property(MaxTest = 3000)]
    public void RandomBytesWithAnIpv4Start_ParseAsTheGeneralParse(DoNotSize<int> seed)
    {
        // Random bytes (FsCheck's own arrays are too short to reach a transport header) under EtherType IPv4 (now and
        // then IPv6), version 4 with no options, TCP or UDP, a total length from 20 up, mostly inside the buffer, mostly
        // whole packets (else first or any fragments), a TCP data offset or UDP length near the packet's: most of them
        // reach the transport checks, on either side of each.
        var random = new Random(seed.Item);
        byte[] bytes = new byte[35 + random.Next(100)];
        random.NextBytes(bytes);
        bool tcp = random.Next(2) == 0;
        int totalLength = 20 + random.Next(bytes.Length - 34 + 1 + 4);
        int fragment = random.Next(4);
        bool otherType = random.Next(12) == 0;
        bytes[12] = otherType ? (byte)0x86 : (byte)0x08;
        bytes[13] = otherType ? bytes[13] : (byte)0x00;
        bytes[14] = 0x45;
        bytes[16] = (byte)(totalLength >> 8);
        bytes[17] = (byte)totalLength;
        bytes[20] = fragment switch
        {
            0 or 1 => (byte)(bytes[20] & 0xC0),
            2 => (byte)((bytes[20] & 0xC0) | 0x20),
            _ => bytes[20],
        };
        bytes[21] = fragment < 3 ? (byte)0 : bytes[21];
        bytes[23] = tcp ? (byte)6 : (byte)17;
        if (tcp && bytes.Length > 46)
        {
            bytes[46] = (byte)(((4 + random.Next(5)) << 4) | (bytes[46] & 0x0F));
        }
        else if (!tcp && bytes.Length > 39)
        {
            int datagramLength = Math.Max(0, totalLength - 20 + 2 - random.Next(12));
            bytes[38] = (byte)(datagramLength >> 8);
            bytes[39] = (byte)datagramLength;
        }

        AssertSameAsGeneralParse(bytes);
    }

    [Property(MaxTest = 3000)]
    public void RandomBytesWithAnIpv6Start_ParseAsTheGeneralParse(DoNotSize<int> seed)
    {
        // As the IPv4 property: mostly EtherType IPv6 and version 6, a payload length from 0 up, mostly inside the buffer, mostly
        // TCP or UDP right after the header (else an extension header, ICMPv6 or a fragment header), addresses now
        // and then IPv4-mapped or with a zero upper half, a TCP data offset or UDP length near the packet's.
        var random = new Random(seed.Item);
        byte[] bytes = new byte[55 + random.Next(100)];
        random.NextBytes(bytes);
        int payloadLength = random.Next(bytes.Length - 54 + 1 + 4);
        bool otherType = random.Next(12) == 0;
        bytes[12] = otherType ? bytes[12] : (byte)0x86;
        bytes[13] = otherType ? (byte)0x00 : (byte)0xDD;
        bytes[14] = random.Next(10) == 0 ? bytes[14] : (byte)(0x60 | (bytes[14] & 0x0F));
        bytes[18] = (byte)(payloadLength >> 8);
        bytes[19] = (byte)payloadLength;
        int kind = random.Next(8);
        bytes[20] = kind switch
        {
            < 3 => 6,
            < 6 => 17,
            6 => (byte)random.GetItems<int>([0, 43, 44, 58, 60, 59], 1)[0],
            _ => bytes[20],
        };
        if (random.Next(6) == 0)
        {
            // ::ffff:a.b.c.d (dropped by the general parse) or another address with a zero upper half.
            int at = random.Next(2) == 0 ? 22 : 38;
            bytes.AsSpan(at, 8).Clear();
            bool mapped = random.Next(2) == 0;
            bytes[at + 8] = mapped ? (byte)0 : bytes[at + 8];
            bytes[at + 9] = mapped ? (byte)0 : bytes[at + 9];
            bytes[at + 10] = mapped ? (byte)0xFF : bytes[at + 10];
            bytes[at + 11] = mapped ? (byte)0xFF : bytes[at + 11];
        }

        if (bytes[20] == 6 && bytes.Length > 66)
        {
            bytes[66] = (byte)(((4 + random.Next(5)) << 4) | (bytes[66] & 0x0F));
        }
        else if (bytes[20] == 17 && bytes.Length > 59)
        {
            int datagramLength = Math.Max(0, payloadLength + 2 - random.Next(12));
            bytes[58] = (byte)(datagramLength >> 8);
            bytes[59] = (byte)datagramLength;
        }

        AssertSameAsGeneralParse(bytes);
    }

    [Fact]
    public void Ipv6WithAnIpv4MappedAddress_IsLeftToTheGeneralParse_WhichDropsIt()
    {
        byte[] frame = TestFrames.Build(new FrameSpec(
            true, false, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], new byte[16], 40000, 80, 0, 0, 0, 10, 64, false, 1));
        // The destination becomes ::ffff:192.0.2.1.
        frame[14 + 24 + 10] = 0xFF;
        frame[14 + 24 + 11] = 0xFF;
        frame[14 + 24 + 12] = 192;
        frame[14 + 24 + 14] = 2;
        frame[14 + 24 + 15] = 1;
        Assert.False(TakesFastPath(frame, out _));
        Assert.Equal(DropReason.Ipv6MappedAddress, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void TcpPacketShorterThanATcpHeader_IsLeftToTheGeneralParse()
    {
        // 20 + 19 bytes: room for a UDP header but not a TCP one. The data offset at byte 12 of the segment is not read.
        byte[] frame = new byte[14 + 39];
        frame[12] = 0x08;
        frame[14] = 0x45;
        frame[17] = 39;
        frame[23] = 6;
        Assert.False(TakesFastPath(frame, out _));
        Assert.Equal(DropReason.Truncated, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void FirstFragment_IsLeftToTheGeneralParse()
    {
        byte[] frame = FrameParserTests.BuildTcpV4("10.0.0.1", 40000, "10.0.0.2", 80, 10);
        frame[20] = 0x20;
        Assert.False(TakesFastPath(frame, out _));
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(FragmentKind.First, parsed.Fragment);
    }

    [Fact]
    public void DontFragmentAndTheReservedBit_StayOnTheFastPath_AndAreWholePackets()
    {
        byte[] frame = FrameParserTests.BuildTcpV4("10.0.0.1", 40000, "10.0.0.2", 80, 10);
        frame[20] = 0xC0;
        Assert.True(TakesFastPath(frame, out var parsed));
        Assert.Equal(FragmentKind.None, parsed.Fragment);
        AssertSameAsGeneralParse(frame);
    }

    private static bool TakesFastPath(ReadOnlySpan<byte> frame, out ParsedFrame parsed) =>
        FrameParser.TryParseCommon(frame, out parsed) || FrameParser.TryParseCommonIPv6(frame, out parsed);

    private static void AssertSameAsGeneralParse(ReadOnlySpan<byte> frame)
    {
        DropReason expected = FrameParser.ParseAny(frame, out var general);
        DropReason actual = FrameParser.Parse(frame, out var parsed);
        Assert.Equal(expected, actual);
        if (TakesFastPath(frame, out var common))
        {
            Assert.Equal(DropReason.None, expected);
            AssertSameFields(general, common);
        }

        if (expected == DropReason.None)
        {
            AssertSameFields(general, parsed);
        }
    }

    private static void AssertSameFields(ParsedFrame expected, ParsedFrame actual)
    {
        foreach (var field in Fields)
        {
            Assert.True(
                Equals(field.GetValue(expected), field.GetValue(actual)),
                $"{field.Name}: expected {field.GetValue(expected)}, found {field.GetValue(actual)}");
        }
    }
}
