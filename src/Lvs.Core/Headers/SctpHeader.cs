using System.Buffers.Binary;

namespace Lvs.Core.Headers;

/// <summary>The SCTP common header and chunk header (RFC 9260 sections 3.1 and 3.2): sizes, chunk types and the event IPVS derives from them.</summary>
public static class SctpHeader
{
    /// <summary>The common header's length: source port, destination port, verification tag, checksum.</summary>
    public const int Length = 12;

    /// <summary>The offset of the CRC32c checksum in the common header.</summary>
    public const int ChecksumOffset = 8;

    /// <summary>A chunk header's length: type, flags, length.</summary>
    public const int ChunkHeaderLength = 4;

    /// <summary>Chunk type DATA.</summary>
    public const byte ChunkData = 0;

    /// <summary>Chunk type INIT.</summary>
    public const byte ChunkInit = 1;

    /// <summary>Chunk type INIT ACK.</summary>
    public const byte ChunkInitAck = 2;

    /// <summary>Chunk type ABORT.</summary>
    public const byte ChunkAbort = 6;

    /// <summary>Chunk type SHUTDOWN.</summary>
    public const byte ChunkShutdown = 7;

    /// <summary>Chunk type SHUTDOWN ACK.</summary>
    public const byte ChunkShutdownAck = 8;

    /// <summary>Chunk type ERROR (operation error).</summary>
    public const byte ChunkError = 9;

    /// <summary>Chunk type COOKIE ECHO.</summary>
    public const byte ChunkCookieEcho = 10;

    /// <summary>Chunk type COOKIE ACK.</summary>
    public const byte ChunkCookieAck = 11;

    /// <summary>Chunk type SHUTDOWN COMPLETE.</summary>
    public const byte ChunkShutdownComplete = 14;

    // The kernel's sctp_events[] for chunk types 0..14 (DATA, INIT, INIT ACK, SACK, HEARTBEAT, HEARTBEAT ACK, ABORT,
    // SHUTDOWN, SHUTDOWN ACK, ERROR, COOKIE ECHO, COOKIE ACK, ECNE, CWR, SHUTDOWN COMPLETE); higher types are DATA.
    private static ReadOnlySpan<byte> Events =>
    [
        (byte)SctpChunkEvent.Data, (byte)SctpChunkEvent.Init, (byte)SctpChunkEvent.InitAck, (byte)SctpChunkEvent.Data,
        (byte)SctpChunkEvent.Data, (byte)SctpChunkEvent.Data, (byte)SctpChunkEvent.Abort, (byte)SctpChunkEvent.Shutdown,
        (byte)SctpChunkEvent.ShutdownAck, (byte)SctpChunkEvent.Error, (byte)SctpChunkEvent.CookieEcho, (byte)SctpChunkEvent.CookieAck,
        (byte)SctpChunkEvent.Data, (byte)SctpChunkEvent.Data, (byte)SctpChunkEvent.ShutdownComplete,
    ];

    /// <summary>
    /// The event of an SCTP packet as the kernel's <c>set_sctp_state</c> picks it: from the first chunk's type through
    /// <c>sctp_events[]</c> (types it does not list count as DATA), except that a COOKIE ECHO or COOKIE ACK followed by
    /// an ABORT chunk counts as an ABORT. Reads only within <paramref name="packet"/>; never throws.
    /// </summary>
    /// <param name="packet">The SCTP packet from its common header to its end.</param>
    /// <returns>The event, or <see cref="SctpChunkEvent.None"/> when no whole chunk header follows the common header.</returns>
    public static SctpChunkEvent EventOf(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < Length + ChunkHeaderLength)
        {
            return SctpChunkEvent.None;
        }

        byte type = packet[Length];
        if (type is ChunkCookieEcho or ChunkCookieAck)
        {
            int chunkLength = BinaryPrimitives.ReadUInt16BigEndian(packet[(Length + 2)..]);
            if (chunkLength >= ChunkHeaderLength)
            {
                int next = Length + ((chunkLength + 3) & ~3);
                if (next <= packet.Length - ChunkHeaderLength && packet[next] == ChunkAbort)
                {
                    return SctpChunkEvent.AbortAfterCookie;
                }
            }
        }

        ReadOnlySpan<byte> events = Events;
        return type < events.Length ? (SctpChunkEvent)events[type] : SctpChunkEvent.Data;
    }
}
