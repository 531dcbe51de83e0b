using Lvs.Core;

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
        IcmpErrorBuilder.PortUnreachable(buffer, offset, parsed, source, hopLimit, reason);
}
