using System.Buffers.Binary;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Director;

/// <summary>
/// The reset a host's TCP stack sends for a segment to a port it has no connection on (RFC 793, the kernel's
/// <c>tcp_v4_send_reset</c> / <c>tcp_v6_send_reset</c>), written in place of the segment: what a kernel director's host
/// answers when IPVS lets a non-SYN segment for a VIP that matches no connection through to it.
/// </summary>
internal static class TcpResetReply
{
    private const int TcpHeaderLength = 20;

    /// <summary>The DS field's two ECN bits (INET_ECN_MASK).</summary>
    private const int EcnMask = 0x03;

    /// <summary>
    /// Turns the TCP segment of <paramref name="parsed"/> into the reset that answers it, addressed back to its sender
    /// from the address and port it was sent to: with the segment's acknowledgment number as its sequence number if the
    /// segment had ACK, else with ACK of everything the segment occupied (RFC 793, "Reset Generation"). The link header is
    /// kept with the MAC addresses swapped (the sender's becomes the destination, <paramref name="linkMac"/> the source).
    /// </summary>
    /// <returns>
    /// The reset's length from <paramref name="offset"/>, or 0 when no reset is sent: the segment was a reset, or came
    /// from an address no host answers (multicast, broadcast, unspecified; RFC 1122 section 4.2.3.10).
    /// </returns>
    public static int Write(Span<byte> buffer, int offset, in ParsedFrame parsed, MacAddress linkMac, byte hopLimit) =>
        Write(buffer, offset, parsed, linkMac, hopLimit, default, 0, 0);

    /// <summary>
    /// <see cref="Write(Span{byte}, int, in ParsedFrame, MacAddress, byte)"/> for an IPv4 segment that carried options:
    /// the reset carries <paramref name="ipOptions"/> (the received options as the host echoes them, see
    /// <see cref="ReplyIpOptions"/>: the kernel's <c>ip_send_unicast_reply</c> sends a reset with
    /// <c>__ip_options_echo</c>'s options) and goes from <paramref name="source"/> to <paramref name="destination"/>
    /// (a reversed source route's first hop). Its TCP checksum still covers the segment's own addresses, as
    /// <c>tcp_v4_send_reset</c> computes it: the reset's source and the segment's sender, the route's final hop.
    /// </summary>
    /// <returns>As the other overload.</returns>
    public static int Write(Span<byte> buffer, int offset, in ParsedFrame parsed, MacAddress linkMac, byte hopLimit, ReadOnlySpan<byte> ipOptions, uint source, uint destination)
    {
        var frame = buffer[offset..];
        var tcp = frame[parsed.L4Offset..];
        var flags = (TcpFlags)tcp[13];
        if ((flags & TcpFlags.Rst) != 0)
        {
            return 0;
        }

        uint sequence = BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]);
        uint acknowledged = BinaryPrimitives.ReadUInt32BigEndian(tcp[8..]);
        int segmentLength = parsed.FrameLength - parsed.L4Offset - parsed.L4HeaderLength
            + ((flags & TcpFlags.Syn) != 0 ? 1 : 0) + ((flags & TcpFlags.Fin) != 0 ? 1 : 0);
        bool hadAck = (flags & TcpFlags.Ack) != 0;
        var flow = parsed.Flow;

        if (!HostReply.MayAnswer(flow.SourceAddress))
        {
            return 0;
        }

        HostReply.TurnAround(frame, linkMac);
        var ip = frame[parsed.L3Offset..];

        // The reset carries the segment's DSCP, its ECN bits cleared (tcp_v4_send_reset's arg.tos, tcp_v6_send_reset's tclass).
        byte dscp = (byte)(HostReply.DsFieldOf(ip) & ~EcnMask);
        int ipLength;
        var replySource = flow.DestinationAddress;
        if (ipOptions.IsEmpty)
        {
            ipLength = HostReply.WriteIpHeader(ip, flow, TcpHeaderLength, hopLimit, dscp);
        }
        else
        {
            // The options go behind a 20-byte header, written as for a reset without them, then the IHL, total length
            // and header checksum cover them. They are never longer than the segment's, so the reset stays in its frame.
            replySource = InetAddress.FromIPv4(source);
            ipLength = Ipv4Header.MinLength + ipOptions.Length;
            Ipv4Header.Write(ip, replySource, InetAddress.FromIPv4(destination), L4Protocol.Tcp, ipOptions.Length + TcpHeaderLength, hopLimit, dscp);
            ipOptions.CopyTo(ip[Ipv4Header.MinLength..]);
            ip[0] = (byte)(0x40 | (ipLength / 4));
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..ipLength]));
        }

        uint pseudo = Checksum.PseudoHeaderSum(replySource, flow.SourceAddress, L4Protocol.Tcp, TcpHeaderLength);
        var reset = ip.Slice(ipLength, TcpHeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(reset, flow.DestinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(reset[2..], flow.SourcePort);
        BinaryPrimitives.WriteUInt32BigEndian(reset[4..], hadAck ? acknowledged : 0);
        BinaryPrimitives.WriteUInt32BigEndian(reset[8..], hadAck ? 0 : sequence + (uint)segmentLength);
        reset[12] = TcpHeaderLength / 4 << 4;
        reset[13] = (byte)(hadAck ? TcpFlags.Rst : TcpFlags.Rst | TcpFlags.Ack);
        BinaryPrimitives.WriteUInt16BigEndian(reset[14..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(reset[16..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(reset[18..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(reset[16..], Checksum.Compute(reset, pseudo));
        return parsed.L3Offset + ipLength + TcpHeaderLength;
    }
}
