using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// Direct routing (ipvsadm <c>-g</c>, the kernel's ip_vs_dr_xmit): the frame goes to the real server's MAC unchanged
/// above the link layer; the real server owns the VIP on a non-ARP interface and answers the client directly.
/// </summary>
/// <remarks>
/// Only the Ethernet addresses change; IP, ports and checksums are untouched, so the cost is two 6-byte writes. The
/// kernel also decrements the TTL in this mode because it routes the packet; a user-space director forwards at the
/// link layer, so this rewriter does not (the real server sees the hop count the client's packet arrived with).
/// ICMP errors about a DR connection are forwarded to the real server the same way (as ip_vs_icmp_xmit does).
/// </remarks>
public sealed class DirectRoutingRewriter
{
    private readonly RewritePolicy _policy;

    /// <summary>Creates the rewriter.</summary>
    /// <param name="options">Fragment and IP-options policies (the TTL, checksum and MTU settings do not apply); null for the defaults.</param>
    public DirectRoutingRewriter(ForwardingOptions? options = null) => _policy = new RewritePolicy(options);

    /// <summary>Readdresses a frame to the real server.</summary>
    /// <param name="buffer">The buffer holding the frame.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="realServerMac">The real server's MAC.</param>
    /// <returns>Transmit (link padding is trimmed from the length) or drop with a reason.</returns>
    public ForwardingVerdict Rewrite(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, MacAddress sourceMac, MacAddress realServerMac)
    {
        DropReason reason = _policy.Check(buffer, offset, length, parsed, needsPorts: false);
        if (reason != DropReason.None)
        {
            return ForwardingVerdict.Drop(reason);
        }

        // Check proved the frame (and its 14-byte link header) to lie inside the buffer.
        EthernetRewrite.SetAddresses(ref Unsafe.Add(ref MemoryMarshal.GetReference(buffer), offset), sourceMac, realServerMac);
        return ForwardingVerdict.Transmit(
            offset, parsed.FrameLength, parsed.Fragment == FragmentKind.NonFirst ? ForwardingNotes.NonFirstFragment : ForwardingNotes.None);
    }
}
