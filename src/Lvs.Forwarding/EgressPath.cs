using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// What the kernel's <c>__ip_vs_get_out_rt</c> does to every packet direct routing, NAT and FULLNAT send, after the
/// route: <c>decrement_ttl</c> (an ICMP time exceeded instead of a packet that would expire), then
/// <c>ensure_mtu_is_adequate</c> against the egress MTU (ICMP fragmentation needed for an IPv4 packet with DF over it,
/// ICMPv6 packet too big for any IPv6 packet over it), and, for an IPv4 packet without DF over it, the fragmentation
/// that <c>ip_fragment</c> does once the packet is rewritten (IPVS sets <c>ignore_df</c>). A NAT reply takes the same
/// steps in <c>ip_forward</c> / <c>ip6_forward</c>, which check the MTU before decrementing the TTL.
/// </summary>
/// <remarks>Only reached when the TTL would expire or the packet exceeds the MTU: the callers test both inline.</remarks>
internal static class EgressPath
{
    /// <summary>Whether a packet leaves the common path: its TTL would expire (when decremented) or it exceeds the egress MTU.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsRare(ref byte ip, in ParsedFrame parsed, bool decrement, int mtu) =>
        (decrement && AddressTranslation.HopLimit(ref ip, parsed.IpVersion == 4) <= 1) || parsed.L3Length > mtu;

    /// <summary>
    /// The checks of a packet on the rare path, before it is rewritten. Returns false with the verdict to return
    /// instead (an ICMP error built in the buffer, or a drop); true to rewrite it, with <paramref name="fragment"/>
    /// set when the rewritten packet must then be cut by <see cref="Fragment"/>.
    /// </summary>
    /// <param name="policy">The rewriter's policy (TTL handling, ICMP settings).</param>
    /// <param name="buffer">The buffer.</param>
    /// <param name="offset">The frame's offset.</param>
    /// <param name="length">The frame's length (the fragments go after it).</param>
    /// <param name="parsed">The parse result, checked by <see cref="RewritePolicy.Check"/>.</param>
    /// <param name="mtu">The egress MTU.</param>
    /// <param name="icmpSource">The source of an ICMP error about the packet.</param>
    /// <param name="forwarded">True for a NAT reply, which the kernel forwards (<c>ip_forward</c>: the MTU is checked before the TTL is decremented, so an error quotes the TTL the packet came with).</param>
    /// <param name="refusal">The verdict when the packet does not go on.</param>
    /// <param name="fragment">Whether the rewritten packet must be fragmented.</param>
    public static bool TryPass(
        in RewritePolicy policy, Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int mtu, InetAddress icmpSource, bool forwarded,
        out ForwardingVerdict refusal, out bool fragment)
    {
        fragment = false;
        bool ipv4 = parsed.IpVersion == 4;
        ref byte ip = ref Unsafe.Add(ref MemoryMarshal.GetReference(buffer), offset + parsed.L3Offset);
        bool decrement = policy.DecrementHopLimit;
        if (decrement && AddressTranslation.HopLimit(ref ip, ipv4) <= 1)
        {
            refusal = policy.Icmp.TimeExceeded(buffer, offset, parsed, icmpSource);
            return false;
        }

        if (parsed.L3Length <= mtu)
        {
            refusal = default;
            return true;
        }

        if (mtu < (ipv4 ? 68 : 1280))
        {
            refusal = ForwardingVerdict.Drop(DropReason.MtuTooSmall);
            return false;
        }

        bool dontFragment = !ipv4 || (NetworkOrder.ReadUInt16(ref ip, 6) & 0x4000) != 0;
        if (dontFragment && !(ipv4 && parsed.IsIcmpError))
        {
            // __ip_vs_get_out_rt decrements the TTL before ensure_mtu_is_adequate, so the error quotes the
            // decremented header; ip_forward checks the MTU first. No error about an ICMP error or a non-first
            // fragment (the builder drops those quietly, as icmpv6_send's callers skip them).
            if (decrement && !forwarded)
            {
                AddressTranslation.DecrementHopLimit(ref ip, ipv4);
            }

            refusal = policy.Icmp.PacketTooBig(buffer, offset, parsed, icmpSource, mtu);
            return false;
        }

        // IPv4 without DF (or an ICMP error, which ensure_mtu_is_adequate lets through): fragmented after the rewrite,
        // into the room after the frame.
        int headerLength = (ip & 0xF) * 4;
        if ((long)buffer.Length - offset - length < Ipv4Fragmenter.RoomNeeded(parsed.L3Offset, headerLength, parsed.L3Length, mtu))
        {
            refusal = ForwardingVerdict.Drop(DropReason.ExceedsMtu);
            return false;
        }

        refusal = default;
        fragment = true;
        return true;
    }

    /// <summary>Cuts the rewritten frame of a transmit verdict into fragments of at most <paramref name="mtu"/> bytes after <paramref name="tail"/>.</summary>
    public static ForwardingVerdict Fragment(Span<byte> buffer, ForwardingVerdict rewritten, int link, int mtu, int tail) =>
        Ipv4Fragmenter.Write(buffer, rewritten.FrameOffset, link, rewritten.FrameLength - link, mtu, tail);
}
