using System.Buffers.Binary;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// Cuts an IPv4 packet that does not fit the egress MTU into fragments, as the kernel's <c>ip_do_fragment</c> does
/// for a packet sent without DF (or with <c>ignore_df</c>, as IPVS sends every packet it forwards).
/// </summary>
/// <remarks>
/// Every fragment but the last carries (MTU - header) rounded down to 8 bytes of the payload with MF set; each is a
/// copy of the packet's header with its length, offset and checksum. The identification is the packet's. The offsets
/// continue from the packet's own offset, and the last fragment keeps the packet's MF (a fragment cut again stays a
/// part of its datagram). IPv4 options go whole into the first fragment; the later ones keep only the options with the
/// copied flag and carry the others as NOPs, keeping the header's length (<c>ip_options_fragment</c>). DF is clear in
/// every fragment (an ICMP error with DF that IPVS forwards is fragmented too: <c>ip_frag_next</c> keeps DF only for
/// <c>IPSKB_FRAG_PMTU</c>, which forwarded packets lack). The fragments
/// are written back to back from the caller's tail position, each behind a copy of the frame's link header.
/// </remarks>
internal static class Ipv4Fragmenter
{
    /// <summary>The room the fragments of an IPv4 packet of <paramref name="ipLength"/> bytes with a <paramref name="headerLength"/>-byte header take, link headers included.</summary>
    public static long RoomNeeded(int link, int headerLength, int ipLength, int mtu)
    {
        int data = ipLength - headerLength;
        int perFragment = (mtu - headerLength) & ~7;
        int count = (data + perFragment - 1) / perFragment;
        return ((long)count * (link + headerLength)) + data;
    }

    /// <summary>
    /// Writes the fragments of the frame at <paramref name="start"/> (link header, then an IPv4 packet of
    /// <paramref name="ipLength"/> bytes) from <paramref name="tail"/>, which the caller has checked to have
    /// <see cref="RoomNeeded"/> bytes, and returns the verdict that sends them.
    /// </summary>
    public static ForwardingVerdict Write(Span<byte> buffer, int start, int link, int ipLength, int mtu, int tail)
    {
        ReadOnlySpan<byte> source = buffer.Slice(start, link + ipLength);
        int headerLength = (source[link] & 0xF) * 4;
        int data = ipLength - headerLength;
        int perFragment = (mtu - headerLength) & ~7;
        int count = (data + perFragment - 1) / perFragment;
        ushort flagsAndOffset = BinaryPrimitives.ReadUInt16BigEndian(source[(link + 6)..]);
        int baseOffset = (flagsAndOffset & 0x1FFF) * 8;
        bool moreAfter = (flagsAndOffset & 0x2000) != 0;
        ReadOnlySpan<byte> payload = source[(link + headerLength)..];
        int at = tail;
        for (int position = 0; position < data; position += perFragment)
        {
            int chunk = Math.Min(perFragment, data - position);
            bool more = position + chunk < data || moreAfter;
            Span<byte> frame = buffer.Slice(at, link + headerLength + chunk);
            source[..(link + headerLength)].CopyTo(frame);
            Span<byte> ip = frame.Slice(link, headerLength);
            if (position > 0 && headerLength > 20)
            {
                KeepCopiedOptions(ip[20..]);
            }

            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(headerLength + chunk));
            BinaryPrimitives.WriteUInt16BigEndian(ip[6..], (ushort)(((baseOffset + position) >> 3) | (more ? 0x2000 : 0)));
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip));
            payload.Slice(position, chunk).CopyTo(frame[(link + headerLength)..]);
            at += frame.Length;
        }

        return ForwardingVerdict.TransmitFragments(tail, at - tail, count, link + headerLength + perFragment);
    }

    /// <summary>Replaces the options without the copied flag (bit 7 of the type) by NOPs, as the kernel's ip_options_fragment; stops at the end of the list or a malformed length.</summary>
    private static void KeepCopiedOptions(Span<byte> options)
    {
        int i = 0;
        while (i < options.Length)
        {
            byte type = options[i];
            if (type == 0)
            {
                return;
            }

            if (type == 1)
            {
                i++;
                continue;
            }

            if (i + 1 >= options.Length || options[i + 1] < 2 || options[i + 1] > options.Length - i)
            {
                return;
            }

            int length = options[i + 1];
            if ((type & 0x80) == 0)
            {
                options.Slice(i, length).Fill(1);
            }

            i += length;
        }
    }
}
