using System.Buffers.Binary;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Forwarding;

/// <summary>
/// TOA, the "TCP option address" of Alibaba's FULLNAT and DPVS: kind 254, length 8 (port, IPv4 address) or 20
/// (port, IPv6 address), read on the real server by the TOA kernel module (DPVS include/ipvs/proto_tcp.h,
/// <c>struct tcpopt_ip4_addr</c> / <c>tcpopt_ip6_addr</c>).
/// </summary>
internal static class TcpAddressOption
{
    public const int IPv4Length = 8;
    public const int IPv6Length = 20;

    /// <summary>Inserts the option after the fixed TCP header of a frame already translated; returns the verdict for the grown frame, or the given one noted when there is no room.</summary>
    public static ForwardingVerdict TryInsert(Span<byte> buffer, ForwardingVerdict translated, in ParsedFrame parsed, InetEndpoint client)
    {
        int offset = translated.FrameOffset;
        int optionLength = client.Address.IsIPv4 ? IPv4Length : IPv6Length;
        int l4 = parsed.L4Offset;
        int tcpHeaderLength = (buffer[offset + l4 + 12] >> 4) * 4;
        if (tcpHeaderLength + optionLength > TcpHeader.MaxLength || offset < optionLength || parsed.FrameLength + optionLength > 0xFFFF)
        {
            return ForwardingVerdict.Transmit(offset, translated.FrameLength, translated.Notes | ForwardingNotes.ToaNotInserted);
        }

        // Everything in front of the insertion point moves back; the options and payload stay where they are.
        int insertAt = l4 + TcpHeader.MinLength;
        int start = offset - optionLength;
        buffer.Slice(offset, insertAt).CopyTo(buffer.Slice(start, insertAt));
        Span<byte> frame = buffer.Slice(start, translated.FrameLength + optionLength);

        Span<byte> option = frame.Slice(insertAt, optionLength);
        option[0] = FullNatRewriter.ToaKind;
        option[1] = (byte)optionLength;
        BinaryPrimitives.WriteUInt16BigEndian(option[2..], client.Port);
        _ = client.Address.WriteTo(option[4..]);

        Span<byte> tcp = frame[l4..];
        ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(tcp[12..]);
        ushort newWord = (ushort)(oldWord + ((optionLength / 4) << 12));
        BinaryPrimitives.WriteUInt16BigEndian(tcp[12..], newWord);

        int l3 = parsed.L3Offset;
        int oldSegmentLength = parsed.FrameLength - l4;
        Span<byte> ip = frame[l3..];
        if (parsed.IpVersion == 4)
        {
            ushort oldTotal = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
            ushort newTotal = (ushort)(oldTotal + optionLength);
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], newTotal);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Update16(BinaryPrimitives.ReadUInt16BigEndian(ip[10..]), oldTotal, newTotal));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(BinaryPrimitives.ReadUInt16BigEndian(ip[4..]) + optionLength));
        }

        // The TCP checksum gains the option's words, the new data offset, and the longer pseudo-header length.
        uint delta = Checksum.Add(Checksum.Delta16(oldWord, newWord), Checksum.Delta16((ushort)oldSegmentLength, (ushort)(oldSegmentLength + optionLength)));
        delta = Checksum.Add(delta, Checksum.Sum(option));
        Span<byte> field = tcp.Slice(16, 2);
        BinaryPrimitives.WriteUInt16BigEndian(field, Checksum.ApplyDelta(BinaryPrimitives.ReadUInt16BigEndian(field), delta));

        return ForwardingVerdict.Transmit(start, translated.FrameLength + optionLength, translated.Notes | ForwardingNotes.ToaInserted);
    }
}
