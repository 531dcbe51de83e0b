using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>The buffer contract of the rewriters.</summary>
/// <remarks>
/// A frame lies in a caller-owned buffer at some offset. Rewriters that add headers (tunnel encapsulation, TOA,
/// ICMP errors built in place) write them into the bytes in front of the frame instead of moving the payload, so a
/// buffer should have at least <see cref="Required"/> bytes of headroom before the frame. With less, those rewrites
/// drop with <see cref="DropReason.InsufficientHeadroom"/>; the others need none. Fragmentation also uses room after
/// the frame: every rewriter writes the fragments of an IPv4 packet without DF over the egress MTU there (for
/// <see cref="TunnelEncapsulator"/>, of the outer packet; <see cref="ForwardingAction.TransmitFragments"/>), and drops
/// with <see cref="DropReason.ExceedsMtu"/> without it.
/// </remarks>
public static class FrameHeadroom
{
    /// <summary>
    /// The headroom that covers every rewrite: the largest is an IPv6 outer header with UDP and GUE (40 + 8 + 4 = 52
    /// bytes); an ICMPv6 error needs 48, TOA 20. Rounded up to 64, a cache-line multiple.
    /// </summary>
    public const int Required = 64;
}
