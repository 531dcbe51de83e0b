using System.Buffers.Binary;
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
/// header DF is copied from an IPv4 inner header (the kernel with PMTU discovery on) and the identification is 0 for
/// DF packets (RFC 6864) or a counter otherwise; an IPv6 outer header has flow label 0. GUE is UDP to the configured
/// port with a source port from the inner flow's hash in 32768-60999 (udp_flow_src_port) and a version 0 GUE header
/// naming the inner protocol; the UDP checksum is 0 unless <see cref="TunnelFlags.Checksum"/>. GRE is RFC 2784 with
/// the optional checksum.
/// </para>
/// <para>
/// MTU: the inner packet may be at most <see cref="ForwardingOptions.Mtu"/> minus <see cref="TunnelRoute.Overhead"/>
/// (the kernel's <c>__ip_vs_get_out_rt</c>); a larger IPv4 packet with DF, or any larger IPv6 packet, is answered with
/// an ICMP fragmentation needed / ICMPv6 packet too big carrying that reduced MTU, sent from the inner destination
/// (the VIP). A larger IPv4 packet without DF is dropped (<see cref="ForwardingDropReason.ExceedsMtu"/>): the kernel
/// would fragment it, this library does not fragment.
/// </para>
/// <para>
/// The outer headers are written into the buffer's headroom in front of the inner IP packet (the Ethernet header moves
/// back), so the payload is not copied; the buffer needs <see cref="TunnelRoute.Overhead"/> bytes of headroom
/// (<see cref="FrameHeadroom.Required"/> covers every type).
/// </para>
/// </remarks>
public sealed class TunnelEncapsulator
{
    private const ushort IpFlagDontFragment = 0x4000;

    // udp_flow_src_port with the default net.ipv4.ip_local_port_range.
    private const uint GueSourcePortMin = 32768;
    private const uint GueSourcePortMax = 61000;

    private readonly RewritePolicy _policy;
    private readonly ulong _flowHashSeed;
    private int _identification;

    /// <summary>Creates the encapsulator.</summary>
    /// <param name="options">TTL, fragment, IP-options and MTU settings; null for the defaults.</param>
    public TunnelEncapsulator(ForwardingOptions? options = null)
    {
        _policy = new RewritePolicy(options);
        _flowHashSeed = options?.FlowHashSeed ?? FlowHash.Seed;
    }

    /// <summary>Encapsulates a frame to a real server.</summary>
    /// <param name="buffer">The buffer holding the frame, with at least <see cref="TunnelRoute.Overhead"/> bytes of headroom in front of it.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="route">The outer addresses and tunnel type.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="nextHopMac">The real server's (or its gateway's) MAC.</param>
    /// <returns>Transmit (the frame now starts <see cref="TunnelRoute.Overhead"/> bytes earlier), an ICMP error to send back, or drop with a reason.</returns>
    public ForwardingVerdict Encapsulate(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in TunnelRoute route, MacAddress sourceMac, MacAddress nextHopMac)
    {
        ForwardingDropReason reason = _policy.Check(buffer, offset, length, parsed, needsPorts: false);
        if (reason != ForwardingDropReason.None)
        {
            return ForwardingVerdict.Drop(reason);
        }

        bool outerIPv4 = route.RealServer.IsIPv4;
        if (route.Source.IsIPv4 != outerIPv4 || (route.Type == TunnelType.Gue && route.Port == 0) || route.Type > TunnelType.Gre)
        {
            return ForwardingVerdict.Drop(ForwardingDropReason.InvalidTunnelRoute);
        }

        int overhead = route.Overhead;
        int link = parsed.L3Offset;
        int innerLength = parsed.L3Length;
        bool innerIPv4 = parsed.IpVersion == 4;
        Span<byte> inner = buffer.Slice(offset + link, innerLength);

        int mtu = _policy.Mtu - overhead;
        if (mtu < (innerIPv4 ? 68 : 1280))
        {
            return ForwardingVerdict.Drop(ForwardingDropReason.MtuTooSmall);
        }

        byte hopLimit = innerIPv4 ? inner[8] : inner[7];
        if (_policy.DecrementHopLimit && hopLimit <= 1)
        {
            return IcmpErrorBuilder.TimeExceeded(buffer, offset, parsed, parsed.Flow.DestinationAddress, _policy.IcmpHopLimit);
        }

        ushort dontFragment = innerIPv4 ? (ushort)(BinaryPrimitives.ReadUInt16BigEndian(inner[6..]) & IpFlagDontFragment) : (ushort)0;
        if (innerLength > mtu)
        {
            // IPv6 is never fragmented on the way; IPv4 only without DF (which this library does not do either).
            return innerIPv4 && dontFragment == 0
                ? ForwardingVerdict.Drop(ForwardingDropReason.ExceedsMtu)
                : IcmpErrorBuilder.PacketTooBig(buffer, offset, parsed, parsed.Flow.DestinationAddress, _policy.IcmpHopLimit, mtu);
        }

        if (offset < overhead)
        {
            return ForwardingVerdict.Drop(ForwardingDropReason.InsufficientHeadroom);
        }

        if (_policy.DecrementHopLimit)
        {
            AddressTranslation.DecrementHopLimit(inner, parsed.IpVersion);
            hopLimit--;
        }

        int start = offset - overhead;
        EthernetRewrite.Move(buffer, offset, start, link, EthernetRewrite.EtherTypeOf(outerIPv4 ? 4 : 6), keepAddresses: false);
        EthernetRewrite.SetAddresses(buffer[start..], sourceMac, nextHopMac);

        // RFC 6040 / INET_ECN_encapsulate: copy DSCP and ECN, except that CE becomes ECT(0) outside.
        byte dsfield = innerIPv4 ? inner[1] : (byte)((inner[0] << 4) | (inner[1] >> 4));
        if ((dsfield & 3) == 3)
        {
            dsfield = (byte)((dsfield & 0xFC) | 2);
        }

        int outerLength = overhead + innerLength;
        Span<byte> outer = buffer.Slice(start + link, outerLength);
        byte innerProtocol = innerIPv4 ? (byte)4 : (byte)41;
        if (route.Type == TunnelType.IpIp)
        {
            WriteOuterHeader(outer, route, innerProtocol, dsfield, hopLimit, dontFragment);
        }
        else
        {
            WriteTunnelHeaders(outer, route, parsed, innerProtocol, dsfield, hopLimit, dontFragment);
        }

        return ForwardingVerdict.Transmit(start, link + outerLength);
    }

    /// <summary>The outer IPv4 or IPv6 header at the start of <paramref name="outer"/>, which spans the whole outer packet.</summary>
    private void WriteOuterHeader(Span<byte> outer, in TunnelRoute route, byte protocol, byte dsfield, byte hopLimit, ushort dontFragment)
    {
        if (route.RealServer.IsIPv4)
        {
            uint source = (uint)route.Source.Low;
            uint destination = (uint)route.RealServer.Low;
            ushort identification = dontFragment != 0 ? (ushort)0 : (ushort)Interlocked.Increment(ref _identification);
            uint versionAndTos = 0x4500u | dsfield;
            uint ttlAndProtocol = (uint)hopLimit << 8 | protocol;

            // The header is built here, so its checksum is summed from the values rather than re-read (RFC 1071).
            ulong sum = versionAndTos + (uint)outer.Length + identification + dontFragment + ttlAndProtocol
                + (source >> 16) + (source & 0xFFFF) + (destination >> 16) + (destination & 0xFFFF);
            BinaryPrimitives.WriteUInt32BigEndian(outer, versionAndTos << 16 | (uint)outer.Length);
            BinaryPrimitives.WriteUInt32BigEndian(outer[4..], (uint)identification << 16 | dontFragment);
            BinaryPrimitives.WriteUInt32BigEndian(outer[8..], ttlAndProtocol << 16 | (ushort)~Checksum.Fold(sum));
            BinaryPrimitives.WriteUInt32BigEndian(outer[12..], source);
            BinaryPrimitives.WriteUInt32BigEndian(outer[16..], destination);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(outer, 0x6000_0000u | ((uint)dsfield << 20));
            BinaryPrimitives.WriteUInt16BigEndian(outer[4..], (ushort)(outer.Length - 40));
            outer[6] = protocol;
            outer[7] = hopLimit;
            route.Source.WriteIPv6To(outer[8..]);
            route.RealServer.WriteIPv6To(outer[24..]);
        }
    }

    /// <summary>The outer header followed by UDP and GUE, or GRE.</summary>
    private void WriteTunnelHeaders(Span<byte> outer, in TunnelRoute route, in ParsedFrame parsed, byte innerProtocol, byte dsfield, byte hopLimit, ushort dontFragment)
    {
        int outerIpLength = route.RealServer.IsIPv4 ? 20 : 40;
        bool checksum = (route.Flags & TunnelFlags.Checksum) != 0;
        if (route.Type == TunnelType.Gue)
        {
            WriteOuterHeader(outer, route, (byte)L4Protocol.Udp, dsfield, hopLimit, dontFragment);
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
            WriteOuterHeader(outer, route, (byte)L4Protocol.Gre, dsfield, hopLimit, dontFragment);
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
