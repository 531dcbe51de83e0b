using System.Buffers.Binary;

namespace Lvs.Core;

/// <summary>
/// The transport checksum a host's stack verifies before it takes a packet in: TCP and UDP over the pseudo-header
/// (the kernel's <c>tcp_v4_rcv</c>/<c>tcp_v6_rcv</c> and <c>__udp4_lib_rcv</c>/<c>__udp6_lib_rcv</c>), SCTP's CRC32c
/// (<c>sctp_rcv</c>), ICMP over the message alone (<c>icmp_rcv</c>), ICMPv6 over the pseudo-header
/// (<c>icmpv6_rcv</c>), and UDP-Lite over the pseudo-header and the bytes its checksum coverage names
/// (<c>udplite_checksum_init</c>: a coverage of 0 is the whole datagram, otherwise 8 bytes up to its length; a zero
/// checksum is not allowed).
/// </summary>
/// <remarks>
/// The frame must carry the checksum its sender computed: a frame whose checksum was left to offload
/// (CHECKSUM_PARTIAL) must be completed first, as Lvs.Devices' links do on receive. A zero UDP checksum means "none"
/// over IPv4 (RFC 768) and is valid there; over IPv6 it is not (RFC 8200 section 8.1), as the kernel drops it by
/// default. Allocates nothing and throws nothing on packet data.
/// </remarks>
public static class TransportChecksum
{
    /// <summary>True when the transport checksum of a parsed, unfragmented packet is right.</summary>
    /// <param name="frame">The frame <paramref name="parsed"/> describes.</param>
    /// <param name="parsed">What <see cref="FrameParser.Parse"/> read from <paramref name="frame"/>.</param>
    /// <returns>
    /// False when the checksum is wrong, and for a fragment or a packet without a whole transport header, whose
    /// checksum cannot be checked alone. True for a protocol that has no checksum of its own here (IP in IP, GRE).
    /// </returns>
    public static bool IsValid(ReadOnlySpan<byte> frame, in ParsedFrame parsed)
    {
        int end = parsed.FrameLength;
        if (parsed.IpVersion is not (4 or 6) || parsed.Fragment != FragmentKind.None || parsed.L4Offset < 0
            || (uint)end > (uint)frame.Length || parsed.L4Offset > end)
        {
            return false;
        }

        var segment = frame[parsed.L4Offset..end];
        var covered = segment;
        switch (parsed.Protocol)
        {
            case L4Protocol.UdpLite:
                if (segment.Length < 8 || BinaryPrimitives.ReadUInt16BigEndian(segment[6..]) == 0)
                {
                    return false;
                }

                int coverage = BinaryPrimitives.ReadUInt16BigEndian(segment[4..]);
                if (coverage != 0 && (coverage < 8 || coverage > segment.Length))
                {
                    return false;
                }

                covered = coverage == 0 ? segment : segment[..coverage];
                break;
            case L4Protocol.Sctp:
                return SctpChecksum.IsValid(segment);
            case L4Protocol.Icmp:
                return parsed.IpVersion == 4 && Checksum.IsValid(segment);
            case L4Protocol.Udp when segment.Length >= 8 && BinaryPrimitives.ReadUInt16BigEndian(segment[6..]) == 0:
                return parsed.IpVersion == 4;
            case L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.IcmpV6:
                break;
            default:
                return true;
        }

        var ip = frame[parsed.L3Offset..];
        var (source, destination) = parsed.IpVersion == 4
            ? (InetAddress.ReadIPv4(ip[12..]), InetAddress.ReadIPv4(ip[16..]))
            : (InetAddress.ReadIPv6(ip[8..]), InetAddress.ReadIPv6(ip[24..]));
        return Checksum.IsValid(covered, Checksum.PseudoHeaderSum(source, destination, parsed.Protocol, segment.Length));
    }
}
