using System.Buffers.Binary;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// Removes IPIP, IPv6-in-IPv6 (and the mixed forms), GUE and GRE encapsulation, for real servers whose kernel lacks
/// the tunnel module: the inner packet is handed to the local stack (for example through a TUN device) and the real
/// server answers from the VIP it owns.
/// </summary>
/// <remarks>
/// Anything that is not exactly what <see cref="TunnelEncapsulator"/> (and the kernel) sends is rejected with a
/// reason: an outer fragment, a protocol or UDP port not accepted, a GUE header other than version 0 without
/// control flag or extension fields, a GRE header with routing, key, sequence or a version other than 0, a wrong
/// outer UDP or GRE checksum, an inner packet that is not the announced IP version or whose own length disagrees
/// with the outer packet. The result is an Ethernet frame: the outer link header (MACs kept, EtherType set to the
/// inner family) moved forward in front of the inner packet, which is not copied; the inner IP packet starts
/// <see cref="ParsedFrame.L3Offset"/> bytes after <see cref="ForwardingVerdict.FrameOffset"/>.
/// </remarks>
public sealed class TunnelDecapsulator
{
    private readonly TunnelDecapsulatorOptions _options;

    /// <summary>Creates the decapsulator.</summary>
    /// <param name="options">Which tunnel types to accept; null accepts IPIP and GRE (GUE needs a port).</param>
    public TunnelDecapsulator(TunnelDecapsulatorOptions? options = null) => _options = options ?? new TunnelDecapsulatorOptions();

    /// <summary>Decapsulates a tunnel frame.</summary>
    /// <param name="buffer">The buffer holding the frame.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The outer frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <returns>Transmit (deliver) the inner frame, or drop with a reason.</returns>
    public ForwardingVerdict Decapsulate(Span<byte> buffer, int offset, int length, in ParsedFrame parsed)
    {
        if ((uint)offset > (uint)buffer.Length || (uint)length > (uint)(buffer.Length - offset))
        {
            return ForwardingVerdict.Drop(DropReason.Truncated);
        }

        int link = parsed.L3Offset;
        if (parsed.IpVersion is not (4 or 6) || link < 14 || parsed.FrameLength > length || (buffer[offset + link] >> 4) != parsed.IpVersion)
        {
            return ForwardingVerdict.Drop(parsed.IpVersion is 4 or 6 ? DropReason.Truncated : DropReason.NotIp);
        }

        if (parsed.Fragment != FragmentKind.None)
        {
            return ForwardingVerdict.Drop(DropReason.FragmentedTunnel);
        }

        Span<byte> frame = buffer.Slice(offset, parsed.FrameLength);
        int end = parsed.FrameLength;
        int innerOffset;
        int innerVersion;
        switch (parsed.Protocol)
        {
            case (L4Protocol)4 when _options.AcceptIpIp:
            case (L4Protocol)41 when _options.AcceptIpIp:
                innerOffset = link + parsed.L3HeaderLength;
                innerVersion = parsed.Protocol == (L4Protocol)4 ? 4 : 6;
                break;

            case L4Protocol.Udp when _options.GuePort != 0:
            {
                int l4 = parsed.L4Offset;
                if (l4 < 0 || l4 + 8 > end || BinaryPrimitives.ReadUInt16BigEndian(frame[(l4 + 2)..]) != _options.GuePort)
                {
                    return ForwardingVerdict.Drop(DropReason.NotTunnel);
                }

                if (l4 + 12 > end)
                {
                    return ForwardingVerdict.Drop(DropReason.Truncated);
                }

                Span<byte> udp = frame[l4..end];
                if (BinaryPrimitives.ReadUInt16BigEndian(udp[6..]) != 0 && !Checksum.IsValid(udp, PseudoHeader(frame, parsed, L4Protocol.Udp, udp.Length)))
                {
                    return ForwardingVerdict.Drop(DropReason.BadTunnelChecksum);
                }

                // Version 0, C = 0, Hlen = 0, flags 0: a plain data message with no extension fields.
                byte protocol = udp[9];
                if (udp[8] != 0 || BinaryPrimitives.ReadUInt16BigEndian(udp[10..]) != 0 || protocol is not (4 or 41))
                {
                    return ForwardingVerdict.Drop(DropReason.BadTunnelHeader);
                }

                innerOffset = l4 + 12;
                innerVersion = protocol == 4 ? 4 : 6;
                break;
            }

            case L4Protocol.Gre when _options.AcceptGre:
            {
                int l4 = parsed.L4Offset;
                if (l4 < 0 || l4 + 4 > end)
                {
                    return ForwardingVerdict.Drop(DropReason.Truncated);
                }

                // RFC 2784: only the C bit may be set; RFC 1701 routing, key and sequence fields, and version != 0, are refused.
                ushort flags = BinaryPrimitives.ReadUInt16BigEndian(frame[l4..]);
                ushort protocolType = BinaryPrimitives.ReadUInt16BigEndian(frame[(l4 + 2)..]);
                bool hasChecksum = flags == 0x8000;
                if ((flags != 0 && !hasChecksum) || protocolType is not (0x0800 or 0x86DD))
                {
                    return ForwardingVerdict.Drop(DropReason.BadTunnelHeader);
                }

                int greLength = hasChecksum ? 8 : 4;
                if (l4 + greLength > end)
                {
                    return ForwardingVerdict.Drop(DropReason.Truncated);
                }

                if (hasChecksum && !Checksum.IsValid(frame[l4..end]))
                {
                    return ForwardingVerdict.Drop(DropReason.BadTunnelChecksum);
                }

                innerOffset = l4 + greLength;
                innerVersion = protocolType == 0x0800 ? 4 : 6;
                break;
            }

            default:
                return ForwardingVerdict.Drop(DropReason.NotTunnel);
        }

        int innerLength = end - innerOffset;
        if (!IsWholeIpPacket(frame[innerOffset..end], innerVersion))
        {
            return ForwardingVerdict.Drop(DropReason.BadInnerPacket);
        }

        int start = offset + innerOffset - link;
        EthernetRewrite.Move(buffer, offset, start, link, EthernetRewrite.EtherTypeOf(innerVersion), keepAddresses: true);
        return ForwardingVerdict.Transmit(start, link + innerLength);
    }

    private static bool IsWholeIpPacket(ReadOnlySpan<byte> inner, int version)
    {
        if (version == 4)
        {
            return inner.Length >= 20
                && inner[0] >> 4 == 4
                && (inner[0] & 0x0F) >= 5
                && BinaryPrimitives.ReadUInt16BigEndian(inner[2..]) == inner.Length
                && (inner[0] & 0x0F) * 4 <= inner.Length;
        }

        return inner.Length >= 40
            && inner[0] >> 4 == 6
            && BinaryPrimitives.ReadUInt16BigEndian(inner[4..]) + 40 == inner.Length;
    }

    private static ushort PseudoHeader(ReadOnlySpan<byte> frame, in ParsedFrame parsed, L4Protocol protocol, int length)
    {
        int l3 = parsed.L3Offset;
        return parsed.IpVersion == 4
            ? Checksum.PseudoHeaderSum(InetAddress.ReadIPv4(frame[(l3 + 12)..]), InetAddress.ReadIPv4(frame[(l3 + 16)..]), protocol, length)
            : Checksum.PseudoHeaderSum(InetAddress.ReadIPv6(frame[(l3 + 8)..]), InetAddress.ReadIPv6(frame[(l3 + 24)..]), protocol, length);
    }
}
