namespace Lvs.Core.Headers;

/// <summary>
/// The flow label a Linux host gives the IPv6 packets it originates (<c>ip6_make_flowlabel</c> with the default
/// <c>net.ipv6.auto_flowlabels = 1</c>): a hash of the packet's flow under a secret chosen once per process (the
/// kernel's is chosen once per boot), so every packet of a flow carries the same label and different flows carry
/// different ones, which routers use to keep a flow on one path (RFC 6437, ECMP). As on a 6.18 kernel (measured): a
/// TCP reset's label depends on its ports, so each connection gets its own; an ICMPv6 message's on its type and code,
/// so the echo replies, or the errors, between two hosts share one; neighbour discovery carries 0.
/// </summary>
public static class Ipv6FlowLabel
{
    /// <summary>The 20 bits of the label.</summary>
    public const uint Mask = 0xF_FFFF;

    /// <summary>The label of a packet of a flow.</summary>
    /// <param name="source">The packet's source address.</param>
    /// <param name="destination">The packet's destination address.</param>
    /// <param name="protocol">The upper-layer protocol.</param>
    /// <param name="ports">What tells the flows between the two addresses apart: the source port in the high 16 bits and the destination port in the low ones (TCP, UDP, SCTP), or an ICMPv6 message's type and code (<see cref="IcmpPorts"/>).</param>
    /// <returns>The label, 20 bits (it may be 0, as the kernel's may).</returns>
    public static uint Compute(InetAddress source, InetAddress destination, L4Protocol protocol, uint ports)
    {
        // HashCode's seed is random per process: the role of the kernel's boot-time hashrnd.
        uint hash = (uint)HashCode.Combine(source.High, source.Low, destination.High, destination.Low, (byte)protocol, ports);
        hash ^= hash >> 12;
        return hash & Mask;
    }

    /// <summary>The <c>ports</c> of an ICMPv6 message for <see cref="Compute"/>: its type and code, as the kernel's flow key holds them.</summary>
    /// <param name="type">The message type.</param>
    /// <param name="code">The message code.</param>
    /// <returns>The value to hash.</returns>
    public static uint IcmpPorts(byte type, byte code) => ((uint)type << 8) | code;
}
