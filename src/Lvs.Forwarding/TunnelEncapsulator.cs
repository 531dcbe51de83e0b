using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// IP tunnelling (ipvsadm <c>-i</c>, the kernel's ip_vs_tunnel_xmit / ip_vs_tunnel_xmit_v6): the packet is
/// encapsulated to the real server, which decapsulates it, owns the VIP and answers the client directly.
/// </summary>
/// <remarks>
/// <para>
/// The outer header is built as the kernel builds it: the inner TTL / hop limit is first decremented (an ICMP time
/// exceeded replaces a packet that would expire) and then copied to the outer header; the TOS / traffic class is the
/// inner one with ECN encapsulated per RFC 6040 (<c>INET_ECN_encapsulate</c>: CE becomes ECT(0)); for an IPv4 outer
/// header DF is copied from an IPv4 inner header (the kernel with PMTU discovery on, <see cref="ForwardingOptions.TunnelPathMtuDiscovery"/>; never with it off) and the identification is 0 for
/// DF packets (RFC 6864) or else chosen per destination as the kernel's ip_select_ident (<see cref="ForwardingOptions.IpIdentification"/>); an IPv6 outer header has flow label 0. GUE is UDP to the configured
/// port with a source port from the inner flow's hash as udp_flow_src_port picks it with the default local port range
/// 32768-60999 (<c>min + hash * (max - min) / 2^32</c>) and a version 0 GUE header
/// naming the inner protocol; the UDP checksum is 0 unless <see cref="TunnelFlags.Checksum"/>. GRE is RFC 2784 with
/// the optional checksum.
/// </para>
/// <para>
/// MTU: the inner packet may be at most the egress MTU (<see cref="ForwardingOptions.Mtu"/>, or the overload's
/// <c>egressMtu</c>) minus <see cref="TunnelRoute.Overhead"/>
/// (the kernel's <c>__ip_vs_get_out_rt</c>); a larger IPv4 packet with DF, or any larger IPv6 packet, is answered with
/// an ICMP fragmentation needed / ICMPv6 packet too big carrying that reduced MTU, sent from the inner destination
/// (the VIP). A larger IPv4 packet without DF (or any, with PMTU discovery off) is encapsulated and the outer packet fragmented, as the kernel's
/// ip_fragment (IPv4 outer) or ip6_fragment (IPv6 outer) does: the fragments are written back to back in the buffer
/// after the frame (<see cref="ForwardingAction.TransmitFragments"/>); with too little room there, it is dropped
/// with <see cref="DropReason.ExceedsMtu"/>.
/// </para>
/// <para>
/// The outer headers are written into the buffer's headroom in front of the inner IP packet (the Ethernet header moves
/// back), so the payload is not copied; the buffer needs <see cref="TunnelRoute.Overhead"/> bytes of headroom
/// (<see cref="FrameHeadroom.Required"/> covers every type).
/// </para>
/// </remarks>
public sealed class TunnelEncapsulator
{
    private const uint IpFlagDontFragment = 0x4000;

    // udp_flow_src_port with the default net.ipv4.ip_local_port_range, 32768-60999 (inet_get_local_port_range gives
    // both ends inclusive): the port is min + hash * (max - min) / 2^32, so in 32768-60998, as the kernel's.
    private const uint GueSourcePortMin = 32768;
    private const uint GueSourcePortMax = 60999;

    private readonly RewritePolicy _policy;
    private readonly ulong _flowHashSeed;
    private readonly uint _dontFragmentMask;

    /// <summary>Creates the encapsulator.</summary>
    /// <param name="options">TTL, fragment, IP-options and MTU settings; null for the defaults.</param>
    public TunnelEncapsulator(ForwardingOptions? options = null)
    {
        _policy = new RewritePolicy(options);
        _flowHashSeed = options?.FlowHashSeed ?? FlowHash.Seed;

        // pmtu_disc off: no DF is copied, so the outer header has none and nothing is answered with fragmentation needed.
        _dontFragmentMask = options?.TunnelPathMtuDiscovery == false ? 0u : IpFlagDontFragment;
    }

    /// <summary>Encapsulates a frame to a real server.</summary>
    /// <param name="buffer">The buffer holding the frame, with at least <see cref="TunnelRoute.Overhead"/> bytes of headroom in front of it.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="route">The outer addresses and tunnel type.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="nextHopMac">The real server's (or its gateway's) MAC.</param>
    /// <returns>
    /// Transmit (the frame now starts <see cref="TunnelRoute.Overhead"/> bytes earlier), transmit fragments (an IPv4
    /// packet without DF over the MTU: the fragments of the outer packet lie after the frame, so the buffer needs room
    /// there, per fragment its link and IP headers (20, or 48 for IPv6) plus its share of the outer payload), an ICMP
    /// error to send back, or drop with a reason.
    /// </returns>
    public ForwardingVerdict Encapsulate(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in TunnelRoute route, MacAddress sourceMac, MacAddress nextHopMac) =>
        Encapsulate(buffer, offset, length, parsed, route, sourceMac, nextHopMac, _policy.Mtu);

    /// <summary>
    /// Encapsulates a frame to a real server, checking the outer packet against <paramref name="egressMtu"/>, the MTU of
    /// the link it leaves on (the kernel's route MTU), instead of <see cref="ForwardingOptions.Mtu"/>.
    /// </summary>
    /// <param name="buffer">The buffer holding the frame, with at least <see cref="TunnelRoute.Overhead"/> bytes of headroom in front of it.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="route">The outer addresses and tunnel type.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="nextHopMac">The real server's (or its gateway's) MAC.</param>
    /// <param name="egressMtu">The MTU of the link the outer packet leaves on; the inner packet may be at most this less <see cref="TunnelRoute.Overhead"/>.</param>
    /// <returns>As <see cref="Encapsulate(Span{byte}, int, int, in ParsedFrame, in TunnelRoute, MacAddress, MacAddress)"/>.</returns>
    public ForwardingVerdict Encapsulate(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in TunnelRoute route, MacAddress sourceMac, MacAddress nextHopMac, int egressMtu)
    {
        DropReason reason = _policy.Check(buffer, offset, length, parsed, needsPorts: false);
        if (reason != DropReason.None)
        {
            return ForwardingVerdict.Drop(reason);
        }

        // The common case, the IPIP type (either family inside or out) for an untagged frame that fits, has headroom
        // and does not expire, is done here; everything else goes out of line, to EncapsulateAny, which also validates
        // the route. With no call on the common path the JIT keeps it in scratch registers (as NatCore.Translate).
        bool outerIPv4 = route.RealServer.IsIPv4;
        int overhead = outerIPv4 ? 20 : 40; // TunnelRoute.OverheadOf for IPIP
        int link = parsed.L3Offset;
        int innerLength = parsed.L3Length;
        bool innerIPv4 = parsed.IpVersion == 4;

        // Check proved the whole inner IP header (20 or 40 bytes at L3) to lie inside the buffer.
        ref byte frame = ref Unsafe.Add(ref MemoryMarshal.GetReference(buffer), offset);
        ref byte inner = ref Unsafe.Add(ref frame, link);
        int mtu = egressMtu - overhead;
        uint hopLimit = AddressTranslation.HopLimit(ref inner, innerIPv4);
        bool decrement = _policy.DecrementHopLimit;
        uint dontFragment = DontFragment(ref inner, innerIPv4);

        // An IPv4 outer header without DF needs an identification (ip_select_ident: a hash, a clock read, a call):
        // out of line too, so that the common path (DF set, as TCP sends, or an IPv6 outer header) makes no call.
        if (route.Type != TunnelType.IpIp || route.Source.IsIPv4 != outerIPv4 || link != 14 || offset < overhead || innerLength > mtu
            || mtu < MinimumMtu(innerIPv4) || (decrement && hopLimit <= 1) || (outerIPv4 && dontFragment == 0))
        {
            return EncapsulateAny(buffer, offset, length, parsed, route, sourceMac, nextHopMac, egressMtu);
        }

        uint dsfield = PrepareInner(ref inner, innerIPv4, decrement, ref hopLimit);

        // The Ethernet header moves back by the overhead: only its EtherType is kept, the MACs are new. The outer
        // header fills the gap up to the inner packet, which does not move.
        ref byte outerFrame = ref Unsafe.Subtract(ref frame, overhead);
        NetworkOrder.WriteUInt16(ref outerFrame, 12, EthernetRewrite.EtherTypeOf(outerIPv4));
        EthernetRewrite.SetAddresses(ref outerFrame, sourceMac, nextHopMac);
        int outerLength = overhead + innerLength;
        WriteOuterHeader(ref Unsafe.Add(ref outerFrame, 14), outerLength, route, outerIPv4, innerIPv4 ? 4u : 41u, dsfield, hopLimit, dontFragment, identify: false);
        return ForwardingVerdict.Transmit(offset - overhead, 14 + outerLength);
    }

    /// <summary>The smallest inner MTU the tunnel may leave: 68 for IPv4 (RFC 791), 1280 for IPv6 (RFC 8200).</summary>
    private static int MinimumMtu(bool ipv4) => ipv4 ? 68 : 1280;

    /// <summary>
    /// <see cref="Encapsulate(Span{byte}, int, int, in ParsedFrame, in TunnelRoute, MacAddress, MacAddress, int)"/> after the packet checks, for every route and case: it validates the route, and does GUE
    /// and GRE, VLAN-tagged frames, packets that exceed the MTU or would expire, too little headroom, a tunnel MTU below
    /// the minimum.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ForwardingVerdict EncapsulateAny(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in TunnelRoute route, MacAddress sourceMac, MacAddress nextHopMac, int egressMtu)
    {
        bool outerIPv4 = route.RealServer.IsIPv4;
        TunnelType type = route.Type;
        if (route.Source.IsIPv4 != outerIPv4 || (type == TunnelType.Gue && route.Port == 0) || type > TunnelType.Gre)
        {
            return ForwardingVerdict.Drop(DropReason.InvalidTunnelRoute);
        }

        // TunnelRoute.Overhead, without testing the address family a second time.
        int overhead = TunnelRoute.OverheadOf(outerIPv4, type, route.Flags);
        int mtu = egressMtu - overhead;
        int link = parsed.L3Offset;
        int innerLength = parsed.L3Length;
        bool innerIPv4 = parsed.IpVersion == 4;
        ref byte frame = ref Unsafe.Add(ref MemoryMarshal.GetReference(buffer), offset);
        ref byte inner = ref Unsafe.Add(ref frame, link);
        if (mtu < MinimumMtu(innerIPv4))
        {
            return ForwardingVerdict.Drop(DropReason.MtuTooSmall);
        }

        uint hopLimit = AddressTranslation.HopLimit(ref inner, innerIPv4);
        bool decrement = _policy.DecrementHopLimit;
        if (decrement && hopLimit <= 1)
        {
            return _policy.Icmp.TimeExceeded(buffer, offset, parsed, parsed.Flow.DestinationAddress);
        }

        uint dontFragment = DontFragment(ref inner, innerIPv4);
        bool fragment = false;
        if (innerLength > mtu)
        {
            // ensure_mtu_is_adequate: an IPv6 packet, or an IPv4 one with DF (PMTU discovery on, the kernel's default;
            // with it off DontFragment is 0), is answered with packet too big / fragmentation needed. An IPv4 packet
            // without DF is sent, and the
            // outer packet (DF clear, copied from the inner header) is fragmented by ip_fragment, or ip6_fragment for
            // an IPv6 outer header (ignore_df is set), into the room after the frame.
            if (!innerIPv4 || dontFragment != 0)
            {
                // __ip_vs_get_out_rt decrements the TTL before ensure_mtu_is_adequate: the error quotes the decremented header.
                if (decrement && !parsed.IsIcmpError)
                {
                    AddressTranslation.DecrementHopLimit(ref inner, innerIPv4);
                }

                return _policy.Icmp.PacketTooBig(buffer, offset, parsed, parsed.Flow.DestinationAddress, mtu);
            }

            // An outer packet over 65535 bytes has no IP length to fragment from (the kernel cannot build it either).
            if (overhead + innerLength > ushort.MaxValue
                || (long)buffer.Length - offset - length < FragmentsLength(link, overhead + innerLength, outerIPv4, egressMtu))
            {
                return ForwardingVerdict.Drop(DropReason.ExceedsMtu);
            }

            fragment = true;
        }

        if (offset < overhead)
        {
            return ForwardingVerdict.Drop(DropReason.InsufficientHeadroom);
        }

        uint dsfield = PrepareInner(ref inner, innerIPv4, decrement, ref hopLimit);

        // The link header moves back by the overhead (only the EtherType, and the VLAN tags if any, are kept: the
        // MACs are new); the outer headers fill the gap up to the inner packet, which does not move.
        int start = offset - overhead;
        ref byte outerFrame = ref Unsafe.Subtract(ref frame, overhead);
        ushort etherType = EthernetRewrite.EtherTypeOf(outerIPv4);
        if (link == 14)
        {
            NetworkOrder.WriteUInt16(ref outerFrame, 12, etherType);
        }
        else
        {
            EthernetRewrite.Move(buffer, offset, start, link, etherType, keepAddresses: false);
        }

        EthernetRewrite.SetAddresses(ref outerFrame, sourceMac, nextHopMac);

        int outerLength = overhead + innerLength;
        uint innerProtocol = innerIPv4 ? 4u : 41u;
        if (type == TunnelType.IpIp)
        {
            WriteOuterHeader(ref Unsafe.Add(ref outerFrame, link), outerLength, route, outerIPv4, innerProtocol, dsfield, hopLimit, dontFragment, identify: true);
        }
        else
        {
            WriteTunnelHeaders(buffer.Slice(start + link, outerLength), route, parsed, (byte)innerProtocol, dsfield, hopLimit, dontFragment);
        }

        return fragment
            ? WriteFragments(buffer, start, link, outerLength, outerIPv4, offset + length, egressMtu)
            : ForwardingVerdict.Transmit(start, link + outerLength);
    }

    /// <summary>The room the fragments of an outer packet of <paramref name="outerLength"/> bytes take, link headers included.</summary>
    private static int FragmentsLength(int link, int outerLength, bool outerIPv4, int mtu)
    {
        int headers = outerIPv4 ? 20 : 40 + 8;
        int data = outerLength - (outerIPv4 ? 20 : 40);
        int perFragment = (mtu - headers) & ~7;
        int count = (data + perFragment - 1) / perFragment;
        return (count * (link + headers)) + data;
    }

    /// <summary>
    /// Cuts the outer packet at <paramref name="start"/> (link header, outer IP header, payload) into fragments of at
    /// most the MTU, written back to back from <paramref name="tail"/>, which the caller has checked to have room.
    /// </summary>
    /// <remarks>
    /// As the kernel's ip_do_fragment: every fragment but the last carries (MTU - 20) rounded down to 8 bytes of the
    /// payload and MF, each a copy of the outer header with its length, offset and checksum; the identification is
    /// the outer one. For an IPv6 outer header, as ip6_fragment: a fragment header (next header the outer payload's
    /// protocol, offset, M, a 32-bit identification) after each copy of the header, (MTU - 48) rounded down to 8 bytes
    /// each. The link header of each is the encapsulated frame's.
    /// </remarks>
    private ForwardingVerdict WriteFragments(Span<byte> buffer, int start, int link, int outerLength, bool outerIPv4, int tail, int mtu)
    {
        int ipHeader = outerIPv4 ? 20 : 40;
        int fragmentHeader = outerIPv4 ? 0 : 8;
        int data = outerLength - ipHeader;
        int perFragment = (mtu - ipHeader - fragmentHeader) & ~7;
        int count = (data + perFragment - 1) / perFragment;
        ReadOnlySpan<byte> source = buffer.Slice(start, link + outerLength);
        ReadOnlySpan<byte> payload = source[(link + ipHeader)..];
        uint identification = outerIPv4 ? 0 : _policy.Identification.NextIPv6Fragment();
        int at = tail;
        for (int fragmentOffset = 0; fragmentOffset < data; fragmentOffset += perFragment)
        {
            int chunk = Math.Min(perFragment, data - fragmentOffset);
            bool more = fragmentOffset + chunk < data;
            Span<byte> frame = buffer.Slice(at, link + ipHeader + fragmentHeader + chunk);
            source[..(link + ipHeader)].CopyTo(frame);
            Span<byte> ip = frame[link..];
            if (outerIPv4)
            {
                BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ipHeader + chunk));
                BinaryPrimitives.WriteUInt16BigEndian(ip[6..], (ushort)((fragmentOffset >> 3) | (more ? 0x2000 : 0)));
                BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
                BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..ipHeader]));
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(fragmentHeader + chunk));
                byte nextHeader = ip[6];
                ip[6] = 44; // IPv6 fragment header
                Span<byte> fragmentHeaderBytes = ip.Slice(ipHeader, fragmentHeader);
                fragmentHeaderBytes[0] = nextHeader;
                fragmentHeaderBytes[1] = 0;
                BinaryPrimitives.WriteUInt16BigEndian(fragmentHeaderBytes[2..], (ushort)(fragmentOffset | (more ? 1 : 0)));
                BinaryPrimitives.WriteUInt32BigEndian(fragmentHeaderBytes[4..], identification);
            }

            payload.Slice(fragmentOffset, chunk).CopyTo(frame[(link + ipHeader + fragmentHeader)..]);
            at += frame.Length;
        }

        return ForwardingVerdict.TransmitFragments(tail, at - tail, count, link + ipHeader + fragmentHeader + perFragment);
    }

    /// <summary>
    /// The DF flag of an IPv4 inner header (as it stands in the flags word), copied to an IPv4 outer header; 0 for an
    /// IPv6 inner packet, and always 0 with <see cref="ForwardingOptions.TunnelPathMtuDiscovery"/> off.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint DontFragment(ref byte inner, bool innerIPv4) =>
        innerIPv4 ? NetworkOrder.ReadUInt16(ref inner, 6) & _dontFragmentMask : 0u;

    /// <summary>
    /// Decrements the inner TTL / hop limit (when <paramref name="decrement"/>; <paramref name="hopLimit"/> follows)
    /// and returns the outer TOS / traffic class: the inner one with ECN encapsulated per RFC 6040
    /// (<c>INET_ECN_encapsulate</c>: CE becomes ECT(0) outside).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint PrepareInner(ref byte inner, bool innerIPv4, bool decrement, ref uint hopLimit)
    {
        if (decrement)
        {
            AddressTranslation.DecrementHopLimit(ref inner, innerIPv4);
            hopLimit--;
        }

        uint dsfield = innerIPv4 ? Unsafe.Add(ref inner, 1) : (uint)(byte)((inner << 4) | (Unsafe.Add(ref inner, 1) >> 4));
        if ((dsfield & 3) == 3)
        {
            dsfield ^= 1;
        }

        return dsfield;
    }

    /// <summary>
    /// The outer IPv4 or IPv6 header at <paramref name="outer"/>, the start of an outer packet of
    /// <paramref name="outerLength"/> bytes that the caller has placed inside the buffer.
    /// </summary>
    /// <remarks>
    /// Built in wide stores of whole words: IPv4 in three (bytes 0-7: version, TOS, length, identification, flags;
    /// 8-15: TTL, protocol, checksum, source; 16-19: destination), IPv6 in five. The header is built here, so its
    /// checksum is summed from the values rather than re-read (RFC 1071); the words only meet in one fold.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteOuterHeader(
        ref byte outer, int outerLength, in TunnelRoute route, bool ipv4, uint protocol, uint dsfield, uint hopLimit, uint dontFragment, bool identify)
    {
        if (ipv4)
        {
            uint source = (uint)route.Source.Low;
            uint destination = (uint)route.RealServer.Low;
            // identify is false (a constant) where the caller has made sure an IPv4 header has DF, so that no call
            // to the identification is compiled into the common path.
            uint identification = !identify || dontFragment != 0 ? 0u : _policy.Identification.NextIPv4(source, destination, protocol);
            ulong first = (ulong)(0x4500u | dsfield) << 48 | (ulong)(uint)outerLength << 32 | identification << 16 | dontFragment;
            uint ttlAndProtocol = hopLimit << 8 | protocol;
            ulong sum = (first >> 32) + (uint)first + ttlAndProtocol + (ulong)source + destination;
            uint checksum = (ushort)~Checksum.Fold(sum);
            NetworkOrder.WriteUInt64(ref outer, 0, first);
            NetworkOrder.WriteUInt64(ref outer, 8, (ulong)(ttlAndProtocol << 16 | checksum) << 32 | source);
            NetworkOrder.WriteUInt32(ref outer, 16, destination);
        }
        else
        {
            // Version 6, traffic class, flow label 0 (as ip6_tnl_xmit without a configured label), payload length,
            // next header, hop limit.
            NetworkOrder.WriteUInt64(
                ref outer, 0, (ulong)(0x6000_0000u | dsfield << 20) << 32 | (uint)(outerLength - 40) << 16 | protocol << 8 | hopLimit);
            NetworkOrder.WriteUInt64(ref outer, 8, route.Source.High);
            NetworkOrder.WriteUInt64(ref outer, 16, route.Source.Low);
            NetworkOrder.WriteUInt64(ref outer, 24, route.RealServer.High);
            NetworkOrder.WriteUInt64(ref outer, 32, route.RealServer.Low);
        }
    }

    /// <summary>The outer header followed by UDP and GUE, or GRE.</summary>
    private void WriteTunnelHeaders(Span<byte> outer, in TunnelRoute route, in ParsedFrame parsed, byte innerProtocol, uint dsfield, uint hopLimit, uint dontFragment)
    {
        bool ipv4 = route.RealServer.IsIPv4;
        int outerIpLength = ipv4 ? 20 : 40;
        bool checksum = (route.Flags & TunnelFlags.Checksum) != 0;
        if (route.Type == TunnelType.Gue)
        {
            WriteOuterHeader(ref MemoryMarshal.GetReference(outer), outer.Length, route, ipv4, (uint)L4Protocol.Udp, dsfield, hopLimit, dontFragment, identify: true);
            Span<byte> udp = outer[outerIpLength..];
            ulong hash = parsed.Flow.Hash(_flowHashSeed);
            uint h = (uint)(hash ^ (hash >> 32));
            h ^= h << 16;
            BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)((((ulong)h * (GueSourcePortMax - GueSourcePortMin)) >> 32) + GueSourcePortMin));
            BinaryPrimitives.WriteUInt16BigEndian(udp[2..], route.Port);
            BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udp.Length);
            BinaryPrimitives.WriteUInt16BigEndian(udp[6..], 0);

            // GUE version 0, no control flag, no extension fields (draft-ietf-intarea-gue section 3.1), as ipvs_gue_encap.
            BinaryPrimitives.WriteUInt32BigEndian(udp[8..], (uint)innerProtocol << 16);
            if (checksum)
            {
                ushort sum = Checksum.Compute(udp, Checksum.PseudoHeaderSum(route.Source, route.RealServer, L4Protocol.Udp, udp.Length));
                BinaryPrimitives.WriteUInt16BigEndian(udp[6..], Checksum.UdpResult(sum));
            }
        }
        else
        {
            WriteOuterHeader(ref MemoryMarshal.GetReference(outer), outer.Length, route, ipv4, (uint)L4Protocol.Gre, dsfield, hopLimit, dontFragment, identify: true);
            Span<byte> gre = outer[outerIpLength..];
            BinaryPrimitives.WriteUInt16BigEndian(gre, checksum ? (ushort)0x8000 : (ushort)0);
            BinaryPrimitives.WriteUInt16BigEndian(gre[2..], EthernetRewrite.EtherTypeOf(parsed.IpVersion));
            if (checksum)
            {
                // RFC 2784 section 2.5: the checksum covers the GRE header and the payload.
                BinaryPrimitives.WriteUInt32BigEndian(gre[4..], 0);
                BinaryPrimitives.WriteUInt16BigEndian(gre[4..], Checksum.Compute(gre));
            }
        }
    }
}
