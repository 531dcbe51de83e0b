using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// NAT / masquerading (ipvsadm <c>-m</c>, the kernel's ip_vs_nat_xmit and handle_response): requests get the real
/// server as destination, replies get the virtual service back as source; the client's address is kept, so the real
/// server must route replies through the director (its default gateway).
/// </summary>
/// <remarks>
/// Addresses and ports are rewritten in place and the IPv4 header and TCP/UDP checksums patched incrementally
/// (RFC 1624), as the kernel's tcp_dnat_handler / tcp_snat_handler do; the ports may differ (VIP:80 to RS:8080). The
/// TTL / hop limit is decremented when <see cref="ForwardingOptions.DecrementHopLimit"/> is set (an ICMP time
/// exceeded replaces a frame that would expire). Only TCP and UDP are translated.
/// </remarks>
public sealed class NatRewriter
{
    private readonly RewritePolicy _policy;

    /// <summary>Creates the rewriter.</summary>
    /// <param name="options">TTL, checksum, fragment and IP-options policies; null for the defaults.</param>
    public NatRewriter(ForwardingOptions? options = null) => _policy = new RewritePolicy(options);

    /// <summary>Client to real server: the destination (virtual service) becomes <paramref name="realServer"/>.</summary>
    /// <param name="buffer">The buffer holding the frame.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="realServer">The real server's address and port, of the packet's family.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="nextHopMac">The real server's (or its gateway's) MAC.</param>
    /// <returns>Transmit, an ICMP time exceeded to send back, or drop with a reason.</returns>
    public ForwardingVerdict RewriteInbound(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in InetEndpoint realServer, MacAddress sourceMac, MacAddress nextHopMac) =>
        Inbound(buffer, offset, length, parsed, realServer, sourceMac, nextHopMac, _policy.Mtu);

    /// <summary>
    /// <see cref="RewriteInbound(Span{byte}, int, int, in ParsedFrame, in InetEndpoint, MacAddress, MacAddress)"/>
    /// against the egress link's MTU instead of <see cref="ForwardingOptions.Mtu"/>: a packet over it is answered with
    /// ICMP fragmentation needed (IPv4 with DF) or packet too big (IPv6), or fragmented into the room after the frame
    /// (IPv4 without DF: <see cref="ForwardingAction.TransmitFragments"/>; dropped with <see cref="DropReason.ExceedsMtu"/>
    /// without room), as the kernel's <c>__ip_vs_get_out_rt</c>.
    /// </summary>
    /// <param name="buffer">The buffer holding the frame.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="realServer">The real server's address and port, of the packet's family.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="nextHopMac">The real server's (or its gateway's) MAC.</param>
    /// <param name="egressMtu">The MTU of the link the frame leaves on.</param>
    /// <returns>Transmit, transmit fragments, an ICMP error to send back, or drop with a reason.</returns>
    public ForwardingVerdict RewriteInbound(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in InetEndpoint realServer, MacAddress sourceMac, MacAddress nextHopMac, int egressMtu) =>
        Inbound(buffer, offset, length, parsed, realServer, sourceMac, nextHopMac, egressMtu);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ForwardingVerdict Inbound(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in InetEndpoint realServer, MacAddress sourceMac, MacAddress nextHopMac, int mtu)
    {
        if (realServer.Address.IsIPv4 != (parsed.IpVersion == 4))
        {
            return ForwardingVerdict.Drop(DropReason.AddressFamilyMismatch);
        }

        return NatCore.Translate(_policy, buffer, offset, length, parsed, natOutbound: false, changeSource: false, realServer, realServer, sourceMac, nextHopMac, mtu);
    }

    /// <summary>Real server to client: the source (real server) becomes <paramref name="virtualService"/> again.</summary>
    /// <param name="buffer">The buffer holding the frame.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="virtualService">The virtual service the client addressed.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="nextHopMac">The client's (or the gateway's) MAC.</param>
    /// <returns>
    /// Transmit, an ICMP time exceeded to send back to the real server (from <see cref="ForwardingOptions.RealServerLinkIPv4"/>
    /// or <see cref="ForwardingOptions.RealServerLinkIPv6"/>, the virtual service address when not set), or drop with a reason.
    /// </returns>
    public ForwardingVerdict RewriteOutbound(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in InetEndpoint virtualService, MacAddress sourceMac, MacAddress nextHopMac) =>
        Outbound(buffer, offset, length, parsed, virtualService, sourceMac, nextHopMac, _policy.Mtu);

    /// <summary>
    /// <see cref="RewriteOutbound(Span{byte}, int, int, in ParsedFrame, in InetEndpoint, MacAddress, MacAddress)"/>
    /// against the egress link's MTU instead of <see cref="ForwardingOptions.Mtu"/> (as the kernel's <c>ip_forward</c>:
    /// an ICMP error about the reply comes from <see cref="ForwardingOptions.RealServerLinkIPv4"/> /
    /// <see cref="ForwardingOptions.RealServerLinkIPv6"/> and quotes the TTL it came with).
    /// </summary>
    /// <param name="buffer">The buffer holding the frame.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="virtualService">The virtual service the client addressed.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="nextHopMac">The client's (or the gateway's) MAC.</param>
    /// <param name="egressMtu">The MTU of the link the frame leaves on.</param>
    /// <returns>Transmit, transmit fragments, an ICMP error to send back to the real server, or drop with a reason.</returns>
    public ForwardingVerdict RewriteOutbound(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in InetEndpoint virtualService, MacAddress sourceMac, MacAddress nextHopMac, int egressMtu) =>
        Outbound(buffer, offset, length, parsed, virtualService, sourceMac, nextHopMac, egressMtu);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ForwardingVerdict Outbound(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in InetEndpoint virtualService, MacAddress sourceMac, MacAddress nextHopMac, int mtu)
    {
        if (virtualService.Address.IsIPv4 != (parsed.IpVersion == 4))
        {
            return ForwardingVerdict.Drop(DropReason.AddressFamilyMismatch);
        }

        return NatCore.Translate(_policy, buffer, offset, length, parsed, natOutbound: true, changeSource: true, virtualService, parsed.Flow.Destination, sourceMac, nextHopMac, mtu);
    }
}
