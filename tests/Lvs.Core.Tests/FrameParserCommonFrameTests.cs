using System.Reflection;
using FsCheck;
using FsCheck.Xunit;

namespace Lvs.Core.Tests;

/// <summary>
/// The parser's straight-line path for the common frame (untagged IPv4 without options, TCP or UDP, not a fragment)
/// finds exactly what the general parse finds, and takes nothing the general parse would drop.
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
        bool common = !spec.V6 && !spec.Vlan && spec.IpOptionWords == 0;
        Assert.Equal(common, FrameParser.TryParseCommon(frame, out _));
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
        // Random bytes (FsCheck's own arrays are too short to reach a transport header) under EtherType IPv4, version 4
        // with no options, TCP or UDP, a total length from 20 up, mostly inside the buffer, mostly whole packets (else first
        // or any fragments), a TCP data offset or UDP length near the packet's: most of them reach the transport checks,
        // on either side of each.
        var random = new Random(seed.Item);
        byte[] bytes = new byte[35 + random.Next(100)];
        random.NextBytes(bytes);
        bool tcp = random.Next(2) == 0;
        int totalLength = 20 + random.Next(bytes.Length - 34 + 1 + 4);
        int fragment = random.Next(4);
        bytes[12] = 0x08;
        bytes[13] = 0x00;
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

    [Fact]
    public void TcpPacketShorterThanATcpHeader_IsLeftToTheGeneralParse()
    {
        // 20 + 19 bytes: room for a UDP header but not a TCP one. The data offset at byte 12 of the segment is not read.
        byte[] frame = new byte[14 + 39];
        frame[12] = 0x08;
        frame[14] = 0x45;
        frame[17] = 39;
        frame[23] = 6;
        Assert.False(FrameParser.TryParseCommon(frame, out _));
        Assert.Equal(DropReason.Truncated, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void FirstFragment_IsLeftToTheGeneralParse()
    {
        byte[] frame = FrameParserTests.BuildTcpV4("10.0.0.1", 40000, "10.0.0.2", 80, 10);
        frame[20] = 0x20;
        Assert.False(FrameParser.TryParseCommon(frame, out _));
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(FragmentKind.First, parsed.Fragment);
    }

    [Fact]
    public void DontFragmentAndTheReservedBit_StayOnTheFastPath_AndAreWholePackets()
    {
        byte[] frame = FrameParserTests.BuildTcpV4("10.0.0.1", 40000, "10.0.0.2", 80, 10);
        frame[20] = 0xC0;
        Assert.True(FrameParser.TryParseCommon(frame, out var parsed));
        Assert.Equal(FragmentKind.None, parsed.Fragment);
        AssertSameAsGeneralParse(frame);
    }

    private static void AssertSameAsGeneralParse(ReadOnlySpan<byte> frame)
    {
        DropReason expected = FrameParser.ParseAny(frame, out var general);
        DropReason actual = FrameParser.Parse(frame, out var parsed);
        Assert.Equal(expected, actual);
        if (FrameParser.TryParseCommon(frame, out var common))
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
