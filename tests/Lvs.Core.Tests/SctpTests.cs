using System.Buffers.Binary;
using Lvs.Core.Headers;

namespace Lvs.Core.Tests;

/// <summary>
/// SCTP in Lvs.Core: the CRC32c checksum (checked against RFC 3720's test vectors and an independent bitwise
/// implementation), the event of a packet's chunks as the kernel's <c>set_sctp_state</c> picks it, and what the
/// parser records.
/// </summary>
public sealed class SctpTests
{
    /// <summary>The bitwise reflected CRC32c (polynomial 0x82F63B78), independent of the code under test.</summary>
    internal static uint ReferenceCrc32C(ReadOnlySpan<byte> data) => Lvs.TestSupport.Crc32cReference.Compute(data);

    /// <summary>The SCTP checksum by the reference: CRC32c with the checksum field zero.</summary>
    internal static uint ReferenceSctpChecksum(ReadOnlySpan<byte> packet)
    {
        byte[] copy = packet.ToArray();
        copy.AsSpan(8, 4).Clear();
        return ReferenceCrc32C(copy);
    }

    [Fact]
    public void ReferenceCrc32C_MatchesTheKnownCheckValue() =>
        Assert.Equal(0xE3069283u, ReferenceCrc32C("123456789"u8));

    [Fact]
    public void SctpChecksum_OfThirtyTwoZeroBytes_IsRfc3720sTestVector_StoredLittleEndian()
    {
        byte[] packet = new byte[32];
        Assert.Equal(0x8A9136AAu, SctpChecksum.Compute(packet));
        SctpChecksum.Write(packet);
        Assert.Equal(new byte[] { 0xAA, 0x36, 0x91, 0x8A }, packet[8..12]);
        Assert.True(SctpChecksum.IsValid(packet));
    }

    [Fact]
    public void SctpChecksum_AgreesWithTheBitwiseReference_ForEveryLengthAndIgnoresTheStoredField()
    {
        var random = new Random(9260);
        for (int length = 12; length < 300; length++)
        {
            byte[] packet = new byte[length];
            random.NextBytes(packet);
            Assert.Equal(ReferenceSctpChecksum(packet), SctpChecksum.Compute(packet));
            SctpChecksum.Write(packet);
            Assert.True(SctpChecksum.IsValid(packet));
            Assert.Equal(ReferenceSctpChecksum(packet), BinaryPrimitives.ReadUInt32LittleEndian(packet.AsSpan(8)));
            packet[^1] ^= 1;
            Assert.False(SctpChecksum.IsValid(packet));
        }
    }

    [Fact]
    public void SctpChecksum_OfLessThanTheCommonHeader_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => SctpChecksum.Compute(new byte[11]));
        Assert.False(SctpChecksum.IsValid(new byte[11]));
    }

    // The kernel's sctp_events[] (net/netfilter/ipvs/ip_vs_proto_sctp.c): chunk type -> event; types past
    // SHUTDOWN COMPLETE (14) count as DATA.
    [Theory]
    [InlineData(0, SctpChunkEvent.Data)]
    [InlineData(1, SctpChunkEvent.Init)]
    [InlineData(2, SctpChunkEvent.InitAck)]
    [InlineData(3, SctpChunkEvent.Data)] // SACK
    [InlineData(4, SctpChunkEvent.Data)] // HEARTBEAT
    [InlineData(5, SctpChunkEvent.Data)] // HEARTBEAT ACK
    [InlineData(6, SctpChunkEvent.Abort)]
    [InlineData(7, SctpChunkEvent.Shutdown)]
    [InlineData(8, SctpChunkEvent.ShutdownAck)]
    [InlineData(9, SctpChunkEvent.Error)]
    [InlineData(10, SctpChunkEvent.CookieEcho)]
    [InlineData(11, SctpChunkEvent.CookieAck)]
    [InlineData(12, SctpChunkEvent.Data)] // ECNE
    [InlineData(13, SctpChunkEvent.Data)] // CWR
    [InlineData(14, SctpChunkEvent.ShutdownComplete)]
    [InlineData(15, SctpChunkEvent.Data)] // AUTH
    [InlineData(0xC1, SctpChunkEvent.Data)] // ASCONF
    [InlineData(0xFF, SctpChunkEvent.Data)]
    public void EventOf_FirstChunkType_IsTheKernelsSctpEvent(byte type, SctpChunkEvent expected) =>
        Assert.Equal(expected, SctpHeader.EventOf(Packet(Chunk(type, 4))));

    [Theory]
    [InlineData(10)]
    [InlineData(11)]
    public void EventOf_CookieChunkFollowedByAbort_IsAnAbort(byte cookie) =>
        Assert.Equal(SctpChunkEvent.AbortAfterCookie, SctpHeader.EventOf(Packet(Chunk(cookie, 7), Chunk(6, 4))));

    [Fact]
    public void EventOf_CookieEchoFollowedByData_IsCookieEcho() =>
        Assert.Equal(SctpChunkEvent.CookieEcho, SctpHeader.EventOf(Packet(Chunk(10, 8), Chunk(0, 20))));

    [Fact]
    public void EventOf_DataFollowedByAbort_IsData() =>
        Assert.Equal(SctpChunkEvent.Data, SctpHeader.EventOf(Packet(Chunk(0, 20), Chunk(6, 4))));

    [Fact]
    public void EventOf_CookieChunkWhoseLengthRunsPastThePacket_IsTheCookieChunk()
    {
        byte[] chunk = Chunk(10, 8);
        BinaryPrimitives.WriteUInt16BigEndian(chunk.AsSpan(2), 4000);
        Assert.Equal(SctpChunkEvent.CookieEcho, SctpHeader.EventOf(Packet(chunk)));
        BinaryPrimitives.WriteUInt16BigEndian(chunk.AsSpan(2), 2); // shorter than a chunk header: no look-ahead
        Assert.Equal(SctpChunkEvent.CookieEcho, SctpHeader.EventOf(Packet(chunk, Chunk(6, 4))));
    }

    [Fact]
    public void EventOf_PacketWithoutAWholeChunkHeader_IsNone()
    {
        Assert.Equal(SctpChunkEvent.None, SctpHeader.EventOf(new byte[12]));
        Assert.Equal(SctpChunkEvent.None, SctpHeader.EventOf(new byte[15]));
    }

    [Fact]
    public void Parse_SctpInit_RecordsPortsAndTheInitEvent()
    {
        byte[] frame = Ipv4Frame(132, Packet(Chunk(1, 20)));
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(L4Protocol.Sctp, parsed.Protocol);
        Assert.Equal(SctpChunkEvent.Init, parsed.SctpEvent);
        Assert.Equal((ushort)5000, parsed.Flow.SourcePort);
        Assert.Equal((ushort)36412, parsed.Flow.DestinationPort);
        Assert.Equal(12, parsed.L4HeaderLength);
    }

    [Fact]
    public void Parse_SctpWithoutChunk_HasNoEvent_AndTcpHasNoSctpEvent()
    {
        Assert.Equal(DropReason.None, FrameParser.Parse(Ipv4Frame(132, Packet()), out var parsed));
        Assert.Equal(SctpChunkEvent.None, parsed.SctpEvent);

        byte[] tcp = new byte[20];
        tcp[12] = 0x50;
        tcp[13] = (byte)(TcpFlags.Syn | TcpFlags.Ack);
        Assert.Equal(DropReason.None, FrameParser.Parse(Ipv4Frame(6, tcp), out parsed));
        Assert.Equal(TcpFlags.Syn | TcpFlags.Ack, parsed.TcpFlags);
        Assert.Equal(SctpChunkEvent.None, parsed.SctpEvent);
    }

    /// <summary>A chunk of <paramref name="length"/> bytes (the length field says so; padded to 4).</summary>
    internal static byte[] Chunk(byte type, int length)
    {
        byte[] chunk = new byte[(length + 3) & ~3];
        chunk[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(chunk.AsSpan(2), (ushort)length);
        return chunk;
    }

    /// <summary>An SCTP packet from port 5000 to 36412 with the chunks given, checksummed by the reference.</summary>
    internal static byte[] Packet(params byte[][] chunks)
    {
        byte[] packet = new byte[12 + chunks.Sum(c => c.Length)];
        BinaryPrimitives.WriteUInt16BigEndian(packet, 5000);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), 36412);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), 0x01020304);
        int at = 12;
        foreach (byte[] chunk in chunks)
        {
            chunk.CopyTo(packet, at);
            at += chunk.Length;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(packet.AsSpan(8), ReferenceSctpChecksum(packet));
        return packet;
    }

    internal static byte[] Ipv4Frame(byte protocol, byte[] payload)
    {
        byte[] frame = new byte[14 + 20 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        var ip = frame.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + payload.Length));
        ip[8] = 64;
        ip[9] = protocol;
        ip[12] = 10;
        ip[15] = 1;
        ip[16] = 10;
        ip[19] = 2;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..20]));
        payload.CopyTo(frame, 34);
        return frame;
    }
}
