using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Forwarding;

/// <summary>ICMP errors a director originates itself, built in the frame's own buffer (the original packet becomes the quoted datagram).</summary>
public static class IcmpErrors
{
    /// <summary>
    /// Replaces a frame with an ICMP port unreachable (ICMPv6 destination unreachable, port unreachable) back to its
    /// sender, as the kernel's <c>ip_vs_leave</c> answers a new connection no real server can take, for TCP and UDP alike.
    /// Nothing is sent about an ICMP error or a non-first fragment.
    /// </summary>
    /// <param name="buffer">The buffer; the error is written into the headroom before the frame (at least 48 bytes).</param>
    /// <param name="offset">The frame's offset.</param>
    /// <param name="parsed">The frame as parsed.</param>
    /// <param name="source">The error's source address (the address the packet was sent to).</param>
    /// <param name="hopLimit">The error's TTL or hop limit.</param>
    /// <param name="reason">The reason the verdict carries.</param>
    /// <returns>An ICMP-error verdict (or a drop when none may be sent).</returns>
    public static ForwardingVerdict PortUnreachable(Span<byte> buffer, int offset, in ParsedFrame parsed, InetAddress source, byte hopLimit, DropReason reason) =>
        IcmpErrorBuilder.PortUnreachable(buffer, offset, parsed, source, hopLimit, reason, IpIdentification.Shared);

    /// <summary>
    /// <see cref="PortUnreachable(Span{byte}, int, in ParsedFrame, InetAddress, byte, DropReason)"/> under a rate
    /// limit, as the kernel's <c>icmp_send</c> limits port unreachables: when <paramref name="limiter"/> refuses it,
    /// the frame is dropped with <paramref name="reason"/> and the note <see cref="ForwardingNotes.IcmpErrorRateLimited"/>.
    /// </summary>
    /// <param name="buffer">The buffer; the error is written into the headroom before the frame (at least 48 bytes).</param>
    /// <param name="offset">The frame's offset.</param>
    /// <param name="parsed">The frame as parsed.</param>
    /// <param name="source">The error's source address (the address the packet was sent to).</param>
    /// <param name="hopLimit">The error's TTL or hop limit.</param>
    /// <param name="reason">The reason the verdict carries.</param>
    /// <param name="limiter">The rate limit (the one of the rewriters' <see cref="ForwardingOptions.IcmpRateLimiter"/>); null for none.</param>
    /// <returns>An ICMP-error verdict, or a drop when none may be sent.</returns>
    public static ForwardingVerdict PortUnreachable(
        Span<byte> buffer, int offset, in ParsedFrame parsed, InetAddress source, byte hopLimit, DropReason reason, IcmpRateLimiter? limiter) =>
        new IcmpErrorSender(limiter, IpIdentification.Shared, hopLimit).PortUnreachable(buffer, offset, parsed, source, reason);

    /// <summary>
    /// The IPv4 identification of an ICMP message a director sends as a host (an echo or timestamp reply) from
    /// <paramref name="source"/> to <paramref name="destination"/>: the next of the generator the rewriters built from
    /// <paramref name="options"/> use (the kernel's <c>ip_select_ident</c> for <c>icmp_reply</c>).
    /// </summary>
    /// <param name="options">The rewriters' options.</param>
    /// <param name="source">The message's source address.</param>
    /// <param name="destination">The message's destination address.</param>
    /// <returns>The identification.</returns>
    public static ushort NextIdentification(ForwardingOptions options, uint source, uint destination)
    {
        ArgumentNullException.ThrowIfNull(options);
        return IpIdentification.For(options).NextIPv4(source, destination, (uint)L4Protocol.Icmp);
    }

    /// <summary>
    /// Replaces a frame with the error a host's stack sends about a packet for one of its addresses whose protocol no
    /// handler takes (<c>ip_local_deliver</c>'s <c>icmp_send</c> and <c>icmpv6_send</c>): an ICMP protocol unreachable,
    /// or an ICMPv6 parameter problem, unrecognised next header, whose pointer is the Next Header field that names the
    /// protocol. Under the rate limit, as <see cref="PortUnreachable(Span{byte}, int, in ParsedFrame, InetAddress, byte, DropReason, IcmpRateLimiter?)"/>;
    /// nothing is sent about an ICMP error or a fragment.
    /// </summary>
    /// <param name="buffer">The buffer; the error is written into the headroom before the frame (at least 48 bytes).</param>
    /// <param name="offset">The frame's offset.</param>
    /// <param name="parsed">The frame as parsed.</param>
    /// <param name="source">The error's source address (the address the packet was sent to).</param>
    /// <param name="hopLimit">The error's TTL or hop limit.</param>
    /// <param name="reason">The reason the verdict carries.</param>
    /// <param name="limiter">The rate limit; null for none.</param>
    /// <returns>An ICMP-error verdict, or a drop when none may be sent.</returns>
    public static ForwardingVerdict ProtocolUnreachable(
        Span<byte> buffer, int offset, in ParsedFrame parsed, InetAddress source, byte hopLimit, DropReason reason, IcmpRateLimiter? limiter)
    {
        int pointer = 0;
        if (parsed.IsIcmpError || parsed.Fragment != FragmentKind.None || (parsed.IpVersion != 4 && !TryGetNextHeaderField(buffer[offset..], parsed, out pointer)))
        {
            return ForwardingVerdict.Drop(reason);
        }

        return new IcmpErrorSender(limiter, IpIdentification.Shared, hopLimit).ProtocolUnreachable(buffer, offset, parsed, source, pointer, reason);
    }

    /// <summary>Where the IPv6 packet's Next Header field that names its upper-layer protocol lies, from the start of its IPv6 header.</summary>
    private static bool TryGetNextHeaderField(ReadOnlySpan<byte> frame, in ParsedFrame parsed, out int pointer)
    {
        pointer = 0;
        int l3 = parsed.L3Offset;
        if ((uint)parsed.FrameLength > (uint)frame.Length || l3 < 0 || parsed.FrameLength - l3 < Ipv6Header.Length)
        {
            return false;
        }

        var ip = frame[l3..parsed.FrameLength];
        if (Ipv6ExtensionHeaders.Walk(ip[Ipv6Header.Length..], ip[6], out var upper) != DropReason.None)
        {
            return false;
        }

        pointer = upper.NextHeaderFieldOffset;
        return true;
    }

    /// <summary>
    /// Replaces an ICMPv4 error about a tunnel packet with the same error about the packet it carried: the kernel's
    /// <c>ip_vs_in_icmp</c> relays an error a router sends about an IPIP, GUE or GRE packet the director sent to a real
    /// server to the client, with <c>icmp_send</c> about the client's packet. The new error goes from the address the
    /// client's packet was sent to (the VIP) to the client, quoting the client's packet as far as the error quoted it
    /// (at most 548 bytes), written over the headers in front of it.
    /// </summary>
    /// <param name="buffer">The buffer holding the frame.</param>
    /// <param name="offset">Where the frame starts.</param>
    /// <param name="frameLength">The frame's length up to the end of its IP packet.</param>
    /// <param name="innerOffset">Where the client's packet (its IPv4 header) starts inside the quote, from <paramref name="offset"/>.</param>
    /// <param name="type">The error's type.</param>
    /// <param name="code">The error's code.</param>
    /// <param name="rest">The rest of the ICMP header (for "fragmentation needed", the MTU the client must use).</param>
    /// <param name="hopLimit">The error's TTL.</param>
    /// <param name="sourceMac">The director's MAC on the link towards the client.</param>
    /// <param name="nextHopMac">The client's, or its gateway's, MAC.</param>
    /// <param name="reason">The reason the verdict carries.</param>
    /// <returns>An ICMP-error verdict for the new frame, or a drop when the quote cannot hold a packet.</returns>
    public static ForwardingVerdict RelayAboutInnerPacket(
        Span<byte> buffer, int offset, int frameLength, int innerOffset, byte type, byte code, uint rest, byte hopLimit,
        MacAddress sourceMac, MacAddress nextHopMac, DropReason reason) =>
        IcmpErrorBuilder.AboutQuotedIPv4(buffer, offset, frameLength, innerOffset, type, code, rest, hopLimit, sourceMac, nextHopMac, reason, IpIdentification.Shared);
}
