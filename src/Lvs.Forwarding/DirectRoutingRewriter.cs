using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// Direct routing (ipvsadm <c>-g</c>, the kernel's ip_vs_dr_xmit): the frame goes to the real server's MAC; the real
/// server owns the VIP on a non-ARP interface and answers the client directly.
/// </summary>
/// <remarks>
/// The Ethernet addresses change and, as in the kernel (<c>ip_vs_dr_xmit</c> routes the packet through
/// <c>__ip_vs_get_out_rt</c>, which calls <c>decrement_ttl</c> for every method), the TTL / hop limit is decremented,
/// the IPv4 header checksum patched by the constant of RFC 1624 (<see cref="ForwardingOptions.DecrementHopLimit"/>,
/// default true; false leaves the IP header untouched, the behaviour before issue 16). A packet that would expire is
/// answered with an ICMP time exceeded from the VIP; one over the egress MTU with fragmentation needed / packet too big,
/// or fragmented when it is IPv4 without DF, as the kernel's <c>ensure_mtu_is_adequate</c> and <c>ip_fragment</c>.
/// Addresses, ports and the transport checksum are untouched. ICMP errors about a DR connection are forwarded to the
/// real server the same way (as ip_vs_icmp_xmit does).
/// </remarks>
public sealed class DirectRoutingRewriter
{
    private readonly RewritePolicy _policy;

    /// <summary>Creates the rewriter.</summary>
    /// <param name="options">TTL, fragment, IP-options, MTU and ICMP settings (the checksum and TOA settings do not apply); null for the defaults.</param>
    public DirectRoutingRewriter(ForwardingOptions? options = null) => _policy = new RewritePolicy(options);

    /// <summary>Readdresses a frame to the real server.</summary>
    /// <param name="buffer">The buffer holding the frame.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="realServerMac">The real server's MAC.</param>
    /// <returns>Transmit (link padding is trimmed from the length), transmit fragments, an ICMP error to send back, or drop with a reason.</returns>
    public ForwardingVerdict Rewrite(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, MacAddress sourceMac, MacAddress realServerMac) =>
        Forward(buffer, offset, length, parsed, sourceMac, realServerMac, _policy.Mtu);

    /// <summary>
    /// <see cref="Rewrite(Span{byte}, int, int, in ParsedFrame, MacAddress, MacAddress)"/> against the egress link's
    /// MTU instead of <see cref="ForwardingOptions.Mtu"/>: a packet over it is answered with ICMP fragmentation needed
    /// (IPv4 with DF) or packet too big (IPv6), or fragmented into the room after the frame (IPv4 without DF:
    /// <see cref="ForwardingAction.TransmitFragments"/>; dropped with <see cref="DropReason.ExceedsMtu"/> without room).
    /// </summary>
    /// <param name="buffer">The buffer holding the frame.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="realServerMac">The real server's MAC.</param>
    /// <param name="egressMtu">The MTU of the link the frame leaves on.</param>
    /// <returns>Transmit, transmit fragments, an ICMP error to send back, or drop with a reason.</returns>
    public ForwardingVerdict Rewrite(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, MacAddress sourceMac, MacAddress realServerMac, int egressMtu) =>
        Forward(buffer, offset, length, parsed, sourceMac, realServerMac, egressMtu);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ForwardingVerdict Forward(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, MacAddress sourceMac, MacAddress realServerMac, int mtu)
    {
        DropReason reason = _policy.Check(buffer, offset, length, parsed, needsPorts: false);
        if (reason != DropReason.None)
        {
            return ForwardingVerdict.Drop(reason);
        }

        // Check proved the frame (its link header and a whole IP header at L3) to lie inside the buffer.
        ref byte frame = ref Unsafe.Add(ref MemoryMarshal.GetReference(buffer), offset);
        ref byte ip = ref Unsafe.Add(ref frame, parsed.L3Offset);
        bool decrement = _policy.DecrementHopLimit;
        if (EgressPath.IsRare(ref ip, parsed, decrement, mtu))
        {
            return ForwardRare(buffer, offset, length, parsed, sourceMac, realServerMac, mtu);
        }

        if (decrement)
        {
            AddressTranslation.DecrementHopLimit(ref ip, parsed.IpVersion == 4);
        }

        EthernetRewrite.SetAddresses(ref frame, sourceMac, realServerMac);
        return ForwardingVerdict.Transmit(
            offset, parsed.FrameLength, parsed.Fragment == FragmentKind.NonFirst ? ForwardingNotes.NonFirstFragment : ForwardingNotes.None);
    }

    /// <summary><see cref="Forward"/> for a packet whose TTL would expire or that exceeds the egress MTU (<see cref="EgressPath"/>); errors come from the packet's destination, the VIP.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ForwardingVerdict ForwardRare(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, MacAddress sourceMac, MacAddress realServerMac, int mtu)
    {
        if (!EgressPath.TryPass(_policy, buffer, offset, length, parsed, mtu, parsed.Flow.DestinationAddress, forwarded: false, out var refusal, out bool fragment))
        {
            return refusal;
        }

        ref byte frame = ref Unsafe.Add(ref MemoryMarshal.GetReference(buffer), offset);
        if (_policy.DecrementHopLimit)
        {
            AddressTranslation.DecrementHopLimit(ref Unsafe.Add(ref frame, parsed.L3Offset), parsed.IpVersion == 4);
        }

        EthernetRewrite.SetAddresses(ref frame, sourceMac, realServerMac);
        var verdict = ForwardingVerdict.Transmit(
            offset, parsed.FrameLength, parsed.Fragment == FragmentKind.NonFirst ? ForwardingNotes.NonFirstFragment : ForwardingNotes.None);
        return fragment ? EgressPath.Fragment(buffer, verdict, parsed.L3Offset, mtu, offset + length) : verdict;
    }
}
