using FsCheck;
using FsCheck.Xunit;

namespace Lvs.Core.Tests;

/// <summary>Malformed input never throws and always yields a drop reason.</summary>
[Properties(Arbitrary = [typeof(FrameArbitraries)], MaxTest = 300)]
public class FrameParserBadInputTests
{
    [Property]
    public void Parse_TruncatedFrame_NeverThrowsAndReportsADropReason(FrameSpec spec, PositiveInt cut)
    {
        byte[] frame = TestFrames.Build(spec);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var whole));
        // Any cut inside the IP packet makes a length field point past the buffer.
        int length = cut.Get % whole.FrameLength;
        DropReason reason = FrameParser.Parse(frame.AsSpan(0, length), out _);
        Assert.NotEqual(DropReason.None, reason);
    }

    [Property]
    public void Parse_CorruptedFrame_NeverThrowsAndStaysInsideTheBuffer(FrameSpec spec, byte[] offsets, byte[] values)
    {
        byte[] frame = TestFrames.Build(spec);
        // Corrupt the headers (the first 128 bytes), where every length field lives.
        for (int i = 0; i < Math.Min(offsets.Length, values.Length); i++)
        {
            frame[offsets[i] % Math.Min(frame.Length, 128)] = values[i];
        }

        DropReason reason = FrameParser.Parse(frame, out var parsed);
        if (reason == DropReason.None)
        {
            Assert.InRange(parsed.FrameLength, 0, frame.Length);
            Assert.InRange(parsed.L4Offset, -1, frame.Length);
            Assert.InRange(parsed.PayloadOffset, -1, frame.Length);
        }
    }

    [Property(MaxTest = 2000)]
    public void Parse_RandomBytes_NeverThrows(byte[] bytes, bool v6, bool asIp)
    {
        // Give random data a plausible start so that the deeper layers are reached.
        if (bytes.Length > 14)
        {
            bytes[12] = v6 ? (byte)0x86 : (byte)0x08;
            bytes[13] = v6 ? (byte)0xDD : (byte)0x00;
            bytes[14] = (byte)((v6 ? 0x60 : 0x40) | (bytes[14] & 0x0F));
        }

        DropReason reason = asIp ? FrameParser.ParseIp(bytes, out var parsed) : FrameParser.Parse(bytes, out parsed);
        Assert.True(reason != DropReason.None || parsed.FrameLength <= bytes.Length);
    }

    [Fact]
    public void Parse_ZeroLengthBuffer_IsTruncated()
    {
        Assert.Equal(DropReason.Truncated, FrameParser.Parse([], out _));
        Assert.Equal(DropReason.Truncated, FrameParser.ParseIp([], out _));
    }

    [Fact]
    public void Parse_IhlBelowFive_IsBadIhl()
    {
        byte[] frame = ValidV4();
        frame[14] = 0x44;
        Assert.Equal(DropReason.BadIhl, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void Parse_TotalLengthBeyondBuffer_IsBadTotalLength()
    {
        byte[] frame = ValidV4();
        frame[16] = 0xFF;
        Assert.Equal(DropReason.BadTotalLength, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void Parse_TotalLengthShorterThanHeader_IsBadTotalLength()
    {
        byte[] frame = ValidV4();
        frame[16] = 0;
        frame[17] = 19;
        Assert.Equal(DropReason.BadTotalLength, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void Parse_WrongIpVersion_IsBadIpVersion()
    {
        byte[] frame = ValidV4();
        frame[14] = 0x65;
        Assert.Equal(DropReason.BadIpVersion, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void Parse_UnknownEtherType_IsUnsupported()
    {
        byte[] frame = ValidV4();
        frame[12] = 0x88;
        frame[13] = 0xCC;
        Assert.Equal(DropReason.UnsupportedEtherType, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void Parse_ThreeVlanTags_IsTooManyVlanTags()
    {
        byte[] frame = new byte[64];
        frame[12] = 0x88; frame[13] = 0xA8;
        frame[16] = 0x81; frame[17] = 0x00;
        frame[20] = 0x81; frame[21] = 0x00;
        Assert.Equal(DropReason.TooManyVlanTags, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void Parse_TcpDataOffsetBelowFive_IsBadTcpHeader()
    {
        byte[] frame = ValidV4();
        frame[34 + 12] = 0x40;
        Assert.Equal(DropReason.BadTcpHeader, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void Parse_TcpOptionsPastThePacket_IsBadTcpHeader()
    {
        byte[] frame = ValidV4(payload: 0);
        frame[34 + 12] = 0xF0;
        Assert.Equal(DropReason.BadTcpHeader, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void Parse_EndlessIpv6ExtensionChain_IsExtensionChainTooLong()
    {
        // Nine destination-options headers, each naming another: more than any legitimate chain.
        const int headers = 9;
        byte[] frame = new byte[14 + 40 + (8 * headers) + 20];
        frame[12] = 0x86; frame[13] = 0xDD;
        frame[14] = 0x60;
        frame[14 + 4] = 0;
        frame[14 + 5] = (byte)((8 * headers) + 20);
        frame[14 + 6] = 60;
        for (int i = 0; i < headers; i++)
        {
            frame[14 + 40 + (8 * i)] = 60;
        }

        Assert.Equal(DropReason.ExtensionChainTooLong, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void Parse_TruncatedIpv6ExtensionHeader_IsBadExtensionChain()
    {
        // A hop-by-hop header claiming 16 bytes where the payload holds 8.
        byte[] frame = new byte[14 + 40 + 8];
        frame[12] = 0x86; frame[13] = 0xDD;
        frame[14] = 0x60;
        frame[14 + 5] = 8;
        frame[14 + 6] = 0;
        frame[14 + 40] = 6;
        frame[14 + 41] = 1;
        Assert.Equal(DropReason.BadExtensionChain, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void Parse_Ipv6PayloadLengthBeyondBuffer_IsBadPayloadLength()
    {
        byte[] frame = new byte[14 + 40 + 8];
        frame[12] = 0x86; frame[13] = 0xDD;
        frame[14] = 0x60;
        frame[14 + 5] = 200;
        frame[14 + 6] = 59;
        Assert.Equal(DropReason.BadPayloadLength, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void Parse_NonFirstIpv4Fragment_HasNoPortsAndNoTransportHeader()
    {
        byte[] frame = ValidV4();
        frame[20] = 0x00;
        frame[21] = 0x10; // offset 16 x 8 bytes
        TestFrames.FixChecksumsWithOracle(frame);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(FragmentKind.NonFirst, parsed.Fragment);
        Assert.Equal(-1, parsed.L4Offset);
        Assert.Equal(0, parsed.Flow.SourcePort);
        Assert.Equal(0, parsed.Flow.DestinationPort);
        Assert.Equal(L4Protocol.Tcp, parsed.Protocol);
    }

    [Fact]
    public void Parse_FirstIpv4Fragment_HasPorts()
    {
        byte[] frame = ValidV4();
        frame[20] = 0x20; // MF
        frame[21] = 0x00;
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(FragmentKind.First, parsed.Fragment);
        Assert.Equal(40000, parsed.Flow.SourcePort);
    }

    [Fact]
    public void Parse_NonFirstIpv6Fragment_HasNoPorts()
    {
        byte[] frame = new byte[14 + 40 + 8 + 16];
        frame[12] = 0x86; frame[13] = 0xDD;
        frame[14] = 0x60;
        frame[14 + 5] = 24;
        frame[14 + 6] = 44;
        frame[14 + 40] = 17;     // fragment of a UDP datagram
        frame[14 + 42] = 0x00;
        frame[14 + 43] = 0xB9;   // offset 23 x 8, M set
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(FragmentKind.NonFirst, parsed.Fragment);
        Assert.Equal(L4Protocol.Udp, parsed.Protocol);
        Assert.Equal(-1, parsed.L4Offset);
        Assert.Equal(0, parsed.Flow.DestinationPort);
        Assert.Equal(40 + 8, parsed.L3HeaderLength);
    }

    private static byte[] ValidV4(int payload = 10) => FrameParserTests.BuildTcpV4("10.0.0.1", 40000, "10.0.0.2", 80, payload);
}
