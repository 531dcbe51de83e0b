using System.Buffers.Binary;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Director;

/// <summary>
/// What a host's SCTP stack answers an "out of the blue" packet with (RFC 9260 section 8.4; the kernel's
/// <c>sctp_rcv_ootb</c>, <c>sctp_sf_ootb</c> and <c>sctp_sf_shut_8_4_5</c>), written in place of the packet: what a
/// kernel director's host answers when IPVS lets an SCTP packet for a VIP that matches no association and may not
/// create one through to it.
/// </summary>
internal static class SctpAbortReply
{
    private const int ReplyLength = SctpHeader.Length + SctpHeader.ChunkHeaderLength;

    /// <summary>The chunk flag that says the verification tag is the one received, reflected (RFC 9260 section 3.3.7).</summary>
    private const byte TagReflected = 0x01;

    /// <summary>The shortest INIT chunk: its header and the initiate tag, a_rwnd, stream counts and initial TSN.</summary>
    private const int InitLength = SctpHeader.ChunkHeaderLength + 16;

    /// <summary>The ERROR cause "Stale Cookie Error".</summary>
    private const ushort StaleCookieCause = 3;

    /// <summary>
    /// Turns the SCTP packet of <paramref name="parsed"/> into the answer RFC 9260 section 8.4 gives it, addressed back
    /// to its sender from the address and port it was sent to, with the packet's verification tag and the T bit: a
    /// SHUTDOWN COMPLETE for a SHUTDOWN ACK, an ABORT for anything else (for an INIT, with the INIT's initiate tag and
    /// no T bit). No answer goes to a packet with an ABORT, SHUTDOWN COMPLETE or COOKIE ACK chunk, a "Stale Cookie"
    /// ERROR, or an INIT that is not alone or shorter than 20 bytes; nor to a packet whose chunks do not fit it, or
    /// from an address no host answers. The link header is kept with the MAC
    /// addresses swapped (the sender's becomes the destination, <paramref name="linkMac"/> the source).
    /// </summary>
    /// <returns>The answer's length from <paramref name="offset"/>, or 0 when none is sent.</returns>
    public static int Write(Span<byte> buffer, int offset, in ParsedFrame parsed, MacAddress linkMac, byte hopLimit)
    {
        var frame = buffer.Slice(offset, parsed.FrameLength);
        var sctp = frame[parsed.L4Offset..];
        var flow = parsed.Flow;
        if (!HostReply.MayAnswer(flow.SourceAddress) || !TryAnswerType(sctp, out byte answer))
        {
            return 0;
        }

        // An INIT has no tag of the receiver's to reflect: the ABORT carries the INIT's initiate tag, without the T bit
        // (RFC 9260 section 8.4 rule 3; the kernel's sctp_make_abort and sctp_ootb_pkt_new).
        bool init = sctp[SctpHeader.Length] == SctpHeader.ChunkInit;
        uint tag = BinaryPrimitives.ReadUInt32BigEndian(init ? sctp[(SctpHeader.Length + SctpHeader.ChunkHeaderLength)..] : sctp[4..]);
        HostReply.TurnAround(frame, linkMac);
        var ip = frame[parsed.L3Offset..];
        int ipLength = HostReply.WriteIpHeader(ip, flow, ReplyLength, hopLimit);
        var reply = ip.Slice(ipLength, ReplyLength);
        BinaryPrimitives.WriteUInt16BigEndian(reply, flow.DestinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(reply[2..], flow.SourcePort);
        BinaryPrimitives.WriteUInt32BigEndian(reply[4..], tag);
        reply[SctpHeader.Length] = answer;
        reply[SctpHeader.Length + 1] = init ? (byte)0 : TagReflected;
        BinaryPrimitives.WriteUInt16BigEndian(reply[(SctpHeader.Length + 2)..], SctpHeader.ChunkHeaderLength);
        SctpChecksum.Write(reply);
        return parsed.L3Offset + ipLength + ReplyLength;
    }

    /// <summary>
    /// Walks the packet's chunks (the kernel's <c>sctp_rcv_ootb</c>): false when the packet gets no answer, else the
    /// chunk type to answer with, from the first chunk.
    /// </summary>
    private static bool TryAnswerType(ReadOnlySpan<byte> sctp, out byte answer)
    {
        answer = SctpHeader.ChunkAbort;
        int at = SctpHeader.Length;
        if (sctp.Length < at + SctpHeader.ChunkHeaderLength)
        {
            return false;
        }

        byte first = sctp[at];
        if (first == SctpHeader.ChunkInit)
        {
            // sctp_sf_do_5_1B_init discards an INIT shorter than 20 bytes, or not alone: another chunk header would fit
            // after it (the kernel's singleton test).
            int length = BinaryPrimitives.ReadUInt16BigEndian(sctp[(at + 2)..]);
            int end = at + ((length + 3) & ~3);
            return length >= InitLength && length <= sctp.Length - at && end + SctpHeader.ChunkHeaderLength > sctp.Length;
        }

        while (at <= sctp.Length - SctpHeader.ChunkHeaderLength)
        {
            byte type = sctp[at];
            int length = BinaryPrimitives.ReadUInt16BigEndian(sctp[(at + 2)..]);
            if (length < SctpHeader.ChunkHeaderLength || length > sctp.Length - at)
            {
                // A chunk that does not fit the packet: the stack discards it as malformed.
                return false;
            }

            bool discard = type switch
            {
                SctpHeader.ChunkAbort or SctpHeader.ChunkShutdownComplete or SctpHeader.ChunkCookieAck => true,
                SctpHeader.ChunkInit => at != SctpHeader.Length,
                SctpHeader.ChunkError => length >= SctpHeader.ChunkHeaderLength + 4
                    && BinaryPrimitives.ReadUInt16BigEndian(sctp[(at + SctpHeader.ChunkHeaderLength)..]) == StaleCookieCause,
                _ => false,
            };
            if (discard)
            {
                return false;
            }

            at += (length + 3) & ~3;
        }

        answer = first == SctpHeader.ChunkShutdownAck ? SctpHeader.ChunkShutdownComplete : SctpHeader.ChunkAbort;
        return true;
    }
}
