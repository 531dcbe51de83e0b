using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Director;

/// <summary>
/// What the replies the director sends as a host share (echo replies, the TCP reset, the SCTP ABORT): the frame goes
/// back the way it came, from the address it was sent to.
/// </summary>
internal static class HostReply
{
    /// <summary>Addresses a received frame's Ethernet header back to its sender: the sender's MAC becomes the destination, the link's the source.</summary>
    /// <param name="frame">The frame, from its Ethernet header.</param>
    /// <param name="linkMac">The MAC address of the link the frame came in on.</param>
    public static void TurnAround(Span<byte> frame, MacAddress linkMac)
    {
        var sender = MacAddress.Read(frame[6..]);
        sender.WriteTo(frame);
        linkMac.WriteTo(frame[6..]);
    }

    /// <summary>
    /// Writes, over the received packet's IP header, the header of a reply to <paramref name="received"/>'s sender from
    /// the address it was sent to, without options or extension headers: IPv4 with DF and identification 0 (RFC 6864),
    /// as the kernel's replies, and its header checksum; IPv6 with the kernel's automatic flow label (<see cref="Ipv6FlowLabel"/>).
    /// </summary>
    /// <param name="ip">The packet from its IP header.</param>
    /// <param name="received">The received packet's flow.</param>
    /// <param name="payloadLength">The length of what follows the IP header.</param>
    /// <param name="hopLimit">The TTL or hop limit.</param>
    /// <param name="dsField">The reply's DS field (IPv4 type of service, IPv6 traffic class).</param>
    /// <returns>The header's length: 20 or 40.</returns>
    public static int WriteIpHeader(Span<byte> ip, in FlowKey received, int payloadLength, byte hopLimit, byte dsField = 0)
    {
        if (received.IsIPv4)
        {
            Ipv4Header.Write(ip, received.DestinationAddress, received.SourceAddress, received.Protocol, payloadLength, hopLimit, dsField);
            return Ipv4Header.MinLength;
        }

        // The kernel's replies carry its automatic flow label, a hash of the reply's flow (ports included).
        uint label = Ipv6FlowLabel.Compute(received.DestinationAddress, received.SourceAddress, received.Protocol, ((uint)received.DestinationPort << 16) | received.SourcePort);
        Ipv6Header.Write(ip, received.DestinationAddress, received.SourceAddress, received.Protocol, payloadLength, hopLimit, dsField, label);
        return Ipv6Header.Length;
    }

    /// <summary>The DS field (DSCP and ECN) of the packet whose IP header starts <paramref name="ip"/>.</summary>
    /// <param name="ip">The packet from its IP header.</param>
    /// <returns>The IPv4 type of service or the IPv6 traffic class.</returns>
    public static byte DsFieldOf(ReadOnlySpan<byte> ip) =>
        (ip[0] >> 4) == 4 ? ip[1] : (byte)((ip[0] << 4) | (ip[1] >> 4));

    /// <summary>
    /// True when a host may answer a packet from <paramref name="source"/>: not a multicast, broadcast, reserved
    /// (240.0.0.0/4) or unspecified address, to which neither a reset (RFC 1122 section 4.2.3.10) nor an ABORT (RFC 9260
    /// section 8.4) is sent.
    /// </summary>
    /// <param name="source">The received packet's source address.</param>
    /// <returns>False when the packet must not be answered.</returns>
    public static bool MayAnswer(InetAddress source)
    {
        if (source.IsIPv4)
        {
            uint value = source.IPv4Value;
            return value != 0 && (value >> 28) < 0xE;
        }

        return (source.High >> 56) != 0xFF && (source.High | source.Low) != 0;
    }
}
