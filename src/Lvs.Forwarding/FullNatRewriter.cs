using System.Runtime.CompilerServices;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Forwarding;

/// <summary>
/// FULLNAT (Alibaba's FULLNAT kernel, DPVS): requests get a director-owned local address and port as source and the
/// real server as destination; replies are reversed. The real server needs no special route: replies come back to the
/// local address. Optionally inserts TOA into SYNs so that the real server can still learn the client's address.
/// </summary>
/// <remarks>
/// <para>
/// Local (address, port) pairs come from a <see cref="FullNatLocalAddressAllocator"/> per real server; the caller
/// allocates one when the connection is created and passes it here. Checksums are patched incrementally (RFC 1624),
/// the TTL / hop limit handled as in <see cref="NatRewriter"/>.
/// </para>
/// <para>
/// TOA (<see cref="ForwardingOptions.InsertToa"/>): on a SYN without ACK whose TCP header has room (data offset plus
/// the option at most 60 bytes), the option kind 254, length 8 (IPv4: port, address) or 20 (IPv6: port, address),
/// is inserted right after the fixed 20-byte TCP header, before any other option, so an end-of-options marker cannot
/// hide it (the TOA module scans every option; this is the layout of DPVS's <c>struct tcpopt_addr</c>). The headers in
/// front of the insertion point move back into the buffer's headroom and the payload stays; the data offset, the IP
/// length and the IPv4 header and TCP checksums are fixed. Without room, the SYN is forwarded without TOA and noted.
/// </para>
/// </remarks>
public sealed class FullNatRewriter
{
    /// <summary>The TOA option kind (non-standard, used by Alibaba's TOA module and DPVS).</summary>
    public const byte ToaKind = 254;

    private readonly RewritePolicy _policy;

    /// <summary>Creates the rewriter.</summary>
    /// <param name="options">TTL, checksum, fragment, IP-options and TOA settings; null for the defaults.</param>
    public FullNatRewriter(ForwardingOptions? options = null) => _policy = new RewritePolicy(options);

    /// <summary>Client to real server: source becomes <paramref name="local"/>, destination <paramref name="realServer"/>; TOA is inserted into a SYN when enabled.</summary>
    /// <param name="buffer">The buffer holding the frame, ideally with <see cref="FrameHeadroom.Required"/> bytes in front of it (for TOA).</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="local">The connection's local address and port.</param>
    /// <param name="realServer">The real server's address and port.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="nextHopMac">The real server's (or its gateway's) MAC.</param>
    /// <returns>Transmit (the frame may start earlier with TOA), an ICMP time exceeded, or drop with a reason.</returns>
    public ForwardingVerdict RewriteInbound(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in InetEndpoint local, in InetEndpoint realServer, MacAddress sourceMac, MacAddress nextHopMac) =>
        Inbound(buffer, offset, length, parsed, local, realServer, sourceMac, nextHopMac, _policy.Mtu);

    /// <summary>
    /// <see cref="RewriteInbound(Span{byte}, int, int, in ParsedFrame, in InetEndpoint, in InetEndpoint, MacAddress, MacAddress)"/>
    /// against the egress link's MTU instead of <see cref="ForwardingOptions.Mtu"/> (see <see cref="NatRewriter"/>'s overload).
    /// </summary>
    /// <param name="buffer">The buffer holding the frame, ideally with <see cref="FrameHeadroom.Required"/> bytes in front of it (for TOA).</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="local">The connection's local address and port.</param>
    /// <param name="realServer">The real server's address and port.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="nextHopMac">The real server's (or its gateway's) MAC.</param>
    /// <param name="egressMtu">The MTU of the link the frame leaves on.</param>
    /// <returns>Transmit, transmit fragments, an ICMP error, or drop with a reason.</returns>
    public ForwardingVerdict RewriteInbound(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in InetEndpoint local, in InetEndpoint realServer, MacAddress sourceMac, MacAddress nextHopMac,
        int egressMtu) =>
        Inbound(buffer, offset, length, parsed, local, realServer, sourceMac, nextHopMac, egressMtu);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ForwardingVerdict Inbound(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in InetEndpoint local, in InetEndpoint realServer, MacAddress sourceMac, MacAddress nextHopMac, int mtu)
    {
        bool ipv4 = parsed.IpVersion == 4;
        if (realServer.Address.IsIPv4 != ipv4 || local.Address.IsIPv4 != ipv4)
        {
            return ForwardingVerdict.Drop(DropReason.AddressFamilyMismatch);
        }

        var verdict = NatCore.Translate(_policy, buffer, offset, length, parsed, natOutbound: false, changeSource: true, local, realServer, sourceMac, nextHopMac, mtu);
        if (_policy.InsertToa
            && verdict.Action == ForwardingAction.Transmit
            && parsed.Protocol == L4Protocol.Tcp
            && parsed.Fragment == FragmentKind.None
            && (parsed.TcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn)
        {
            return TcpAddressOption.TryInsert(buffer, verdict, parsed, parsed.Flow.Source);
        }

        return verdict;
    }

    /// <summary>Real server to client: source becomes <paramref name="virtualService"/>, destination <paramref name="client"/>.</summary>
    /// <param name="buffer">The buffer holding the frame.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="virtualService">The virtual service the client addressed.</param>
    /// <param name="client">The client's address and port.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="nextHopMac">The client's (or the gateway's) MAC.</param>
    /// <returns>Transmit, an ICMP time exceeded to the real server (from the local address the reply was sent to, as icmp_send answers from a local destination), or drop with a reason.</returns>
    public ForwardingVerdict RewriteOutbound(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in InetEndpoint virtualService, in InetEndpoint client, MacAddress sourceMac, MacAddress nextHopMac) =>
        Outbound(buffer, offset, length, parsed, virtualService, client, sourceMac, nextHopMac, _policy.Mtu);

    /// <summary>
    /// <see cref="RewriteOutbound(Span{byte}, int, int, in ParsedFrame, in InetEndpoint, in InetEndpoint, MacAddress, MacAddress)"/>
    /// against the egress link's MTU instead of <see cref="ForwardingOptions.Mtu"/> (see <see cref="NatRewriter"/>'s overload).
    /// </summary>
    /// <param name="buffer">The buffer holding the frame.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="virtualService">The virtual service the client addressed.</param>
    /// <param name="client">The client's address and port.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="nextHopMac">The client's (or the gateway's) MAC.</param>
    /// <param name="egressMtu">The MTU of the link the frame leaves on.</param>
    /// <returns>Transmit, transmit fragments, an ICMP error to the real server (from the local address), or drop with a reason.</returns>
    public ForwardingVerdict RewriteOutbound(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in InetEndpoint virtualService, in InetEndpoint client, MacAddress sourceMac, MacAddress nextHopMac,
        int egressMtu) =>
        Outbound(buffer, offset, length, parsed, virtualService, client, sourceMac, nextHopMac, egressMtu);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ForwardingVerdict Outbound(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in InetEndpoint virtualService, in InetEndpoint client, MacAddress sourceMac, MacAddress nextHopMac, int mtu)
    {
        bool ipv4 = parsed.IpVersion == 4;
        if (virtualService.Address.IsIPv4 != ipv4 || client.Address.IsIPv4 != ipv4)
        {
            return ForwardingVerdict.Drop(DropReason.AddressFamilyMismatch);
        }

        return NatCore.Translate(_policy, buffer, offset, length, parsed, natOutbound: false, changeSource: true, virtualService, client, sourceMac, nextHopMac, mtu);
    }
}
