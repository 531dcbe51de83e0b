using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Forwarding;

/// <summary>
/// Builds an ICMP or ICMPv6 error about a frame in the frame's own buffer: the new IP and ICMP headers go into the
/// headroom right in front of the original IP packet, which stays where it is and becomes the quoted datagram, so
/// nothing is copied but the link header.
/// </summary>
/// <remarks>
/// As the kernel's icmp_send / icmp6_send: the error quotes as much of the original as fits in 576 bytes for IPv4
/// (RFC 1812 section 4.3.2.3) or 1280 for IPv6 (RFC 4443 section 2.4 (c)); it is never sent about an ICMP error or
/// a non-first fragment (RFC 1812 4.3.2.7, RFC 4443 2.4 (e)); its TOS is the original's with precedence
/// "internetwork control" (icmp_send: <c>RT_TOS(tos) | IPTOS_PREC_INTERNETCONTROL</c>). The link header is the
/// original's with the MAC addresses swapped, back to the neighbour that sent the frame.
/// </remarks>
internal static class IcmpErrorBuilder
{
    public const int MaxIPv4ErrorLength = 576;
    public const int MaxIPv6ErrorLength = 1280;

    /// <summary>ICMP type 11 code 0 / ICMPv6 type 3 code 0: the TTL or hop limit ran out in transit.</summary>
    /// <remarks>Out of line, as <see cref="PacketTooBig"/>: a rare path that should not grow the rewriters' hot code.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ForwardingVerdict TimeExceeded(Span<byte> buffer, int offset, in ParsedFrame parsed, InetAddress source, byte hopLimit, IpIdentification identification) =>
        parsed.IpVersion == 4
            ? Build(buffer, offset, parsed, IcmpHeader.TypeTimeExceeded, 0, 0, source, hopLimit, DropReason.HopLimitExceeded, identification)
            : Build(buffer, offset, parsed, IcmpV6Header.TypeTimeExceeded, 0, 0, source, hopLimit, DropReason.HopLimitExceeded, identification);

    /// <summary>ICMP type 3 code 4 with the next-hop MTU (RFC 1191), or ICMPv6 packet too big with the MTU (RFC 8201).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ForwardingVerdict PacketTooBig(Span<byte> buffer, int offset, in ParsedFrame parsed, InetAddress source, byte hopLimit, int mtu, IpIdentification identification) =>
        parsed.IpVersion == 4
            ? Build(buffer, offset, parsed, IcmpHeader.TypeDestinationUnreachable, IcmpHeader.CodeFragmentationNeeded, (uint)(ushort)mtu, source, hopLimit, DropReason.FragmentationNeeded, identification)
            : Build(buffer, offset, parsed, IcmpV6Header.TypePacketTooBig, 0, (uint)mtu, source, hopLimit, DropReason.FragmentationNeeded, identification);

    /// <summary>ICMP type 3 code 3 / ICMPv6 type 1 code 4: nothing takes the port (the kernel's ip_vs_leave when no real server can take a new connection).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ForwardingVerdict PortUnreachable(Span<byte> buffer, int offset, in ParsedFrame parsed, InetAddress source, byte hopLimit, DropReason reason, IpIdentification identification) =>
        parsed.IpVersion == 4
            ? Build(buffer, offset, parsed, IcmpHeader.TypeDestinationUnreachable, 3, 0, source, hopLimit, reason, identification)
            : Build(buffer, offset, parsed, IcmpV6Header.TypeDestinationUnreachable, 4, 0, source, hopLimit, reason, identification);

    /// <summary>
    /// ICMP type 3 code 2 (protocol unreachable) / ICMPv6 type 4 code 1 (parameter problem, unrecognised next header)
    /// pointing at <paramref name="pointer"/>: no handler takes the packet's protocol (the host's <c>ip_local_deliver</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ForwardingVerdict ProtocolUnreachable(Span<byte> buffer, int offset, in ParsedFrame parsed, InetAddress source, byte hopLimit, int pointer, DropReason reason, IpIdentification identification) =>
        parsed.IpVersion == 4
            ? Build(buffer, offset, parsed, IcmpHeader.TypeDestinationUnreachable, 2, 0, source, hopLimit, reason, identification)
            : Build(buffer, offset, parsed, IcmpV6Header.TypeParameterProblem, 1, (uint)pointer, source, hopLimit, reason, identification);

    /// <summary>
    /// An ICMPv4 error about the IPv4 packet quoted at <paramref name="quotedOffset"/> in the frame (as far as the frame
    /// holds it), written over the bytes in front of it: an Ethernet header to <paramref name="nextHopMac"/>, an IPv4
    /// header from the quoted packet's destination to its source, the ICMP header. The quoted packet stays where it is.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ForwardingVerdict AboutQuotedIPv4(
        Span<byte> buffer, int offset, int frameLength, int quotedOffset, byte type, byte code, uint rest, byte hopLimit,
        MacAddress sourceMac, MacAddress nextHopMac, DropReason reason, IpIdentification identification)
    {
        const int Headers = 14 + 20 + 8;
        int start = offset + quotedOffset - Headers;
        int quoted = Math.Min(frameLength - quotedOffset, MaxIPv4ErrorLength - 28);
        if (quotedOffset < Headers || quoted < 20 || (uint)(offset + frameLength) > (uint)buffer.Length)
        {
            return ForwardingVerdict.Drop(reason);
        }

        var original = buffer.Slice(offset + quotedOffset, quoted);
        var frame = buffer.Slice(start, Headers + quoted);
        EthernetRewrite.SetAddresses(frame, sourceMac, nextHopMac);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], 0x0800);
        WriteIPv4Error(frame.Slice(14, 20), frame[34..], original, type, code, rest, InetAddress.ReadIPv4(original[16..]), hopLimit, identification);
        return ForwardingVerdict.IcmpError(reason, start, frame.Length);
    }

    /// <summary>
    /// The IPv4 and ICMP headers of an error about <paramref name="originalIp"/> from <paramref name="source"/> to the
    /// original's source, as <c>icmp_send</c> writes them; <paramref name="icmp"/> runs to the end of the quote, which
    /// is already in place after its 8-byte header.
    /// </summary>
    private static void WriteIPv4Error(
        Span<byte> ip, Span<byte> icmp, ReadOnlySpan<byte> originalIp, byte type, byte code, uint rest, InetAddress source, byte hopLimit,
        IpIdentification identification)
    {
        WriteIcmpHeader(icmp, type, code, rest);
        var destination = InetAddress.ReadIPv4(originalIp[12..]);
        byte tos = (byte)((originalIp[1] & 0x1E) | 0xC0);

        // icmp_send's socket does not set DF (IP_PMTUDISC_DONT), so the identification is ip_select_ident's.
        ushort id = identification.NextIPv4((uint)source.Low, (uint)destination.Low, (uint)L4Protocol.Icmp);
        Ipv4Header.Write(ip, source, destination, L4Protocol.Icmp, icmp.Length, hopLimit, tos, id, dontFragment: false);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp));
    }

    private static void WriteIcmpHeader(Span<byte> icmp, byte type, byte code, uint rest)
    {
        icmp[0] = type;
        icmp[1] = code;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], rest);
    }

    private static ForwardingVerdict Build(
        Span<byte> buffer, int offset, in ParsedFrame parsed, byte type, byte code, uint rest, InetAddress source, byte hopLimit, DropReason reason,
        IpIdentification identification)
    {
        if (parsed.IsIcmpError || parsed.Fragment == FragmentKind.NonFirst)
        {
            return ForwardingVerdict.Drop(reason);
        }

        bool ipv4 = parsed.IpVersion == 4;
        if (source.IsIPv4 != ipv4)
        {
            // No address of the packet's family to send the error from (a link without one): no error is sent.
            return ForwardingVerdict.Drop(reason);
        }

        int headers = (ipv4 ? 20 : 40) + 8;
        if (offset < headers)
        {
            return ForwardingVerdict.Drop(DropReason.InsufficientHeadroom);
        }

        int link = parsed.L3Offset;
        int original = offset + link;
        int quoted = Math.Min(parsed.L3Length, (ipv4 ? MaxIPv4ErrorLength : MaxIPv6ErrorLength) - headers);
        int start = offset - headers;
        Span<byte> originalIp = buffer.Slice(original, parsed.L3Length);

        // Link header: the original's, moved in front of the new headers, MACs swapped back to the sender.
        Span<byte> oldLink = buffer.Slice(offset, link);
        var sender = MacAddress.Read(oldLink[6..]);
        var receiver = MacAddress.Read(oldLink);
        oldLink.CopyTo(buffer.Slice(start, link));
        EthernetRewrite.SetAddresses(buffer[start..], receiver, sender);

        Span<byte> ip = buffer.Slice(start + link, headers - 8);
        Span<byte> icmp = buffer.Slice(start + link + headers - 8, 8 + quoted);
        if (ipv4)
        {
            WriteIPv4Error(ip, icmp, originalIp, type, code, rest, source, hopLimit, identification);
        }
        else
        {
            WriteIcmpHeader(icmp, type, code, rest);
            var destination = InetAddress.ReadIPv6(originalIp[8..]);
            // icmp6_send's packets carry the automatic flow label, a hash of the error's addresses, type and code.
            Ipv6Header.Write(ip, source, destination, L4Protocol.IcmpV6, icmp.Length, hopLimit, 0, Ipv6FlowLabel.Compute(source, destination, L4Protocol.IcmpV6, Ipv6FlowLabel.IcmpPorts(type, code)));
            BinaryPrimitives.WriteUInt16BigEndian(
                icmp[2..], Checksum.Compute(icmp, Checksum.PseudoHeaderSum(source, destination, L4Protocol.IcmpV6, icmp.Length)));
        }

        return ForwardingVerdict.IcmpError(reason, start, link + headers + quoted);
    }
}
