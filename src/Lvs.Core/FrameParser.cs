using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvs.Core.Headers;

namespace Lvs.Core;

/// <summary>Whether an IP packet is a fragment, and which.</summary>
public enum FragmentKind : byte
{
    /// <summary>A whole packet.</summary>
    None = 0,

    /// <summary>The first fragment: it carries the transport header, so it has ports.</summary>
    First,

    /// <summary>A later fragment: no transport header, so no ports (the flow key has ports 0).</summary>
    NonFirst,
}

/// <summary>What <see cref="FrameParser"/> found in a frame: the layer offsets, the flow and the fields the data path needs first.</summary>
/// <remarks>Offsets are from the start of the frame. A value type filled in place: parsing allocates nothing.</remarks>
public struct ParsedFrame
{
    /// <summary>The EtherType of the payload after any VLAN tags.</summary>
    public ushort EtherType { get; internal set; }

    /// <summary>How many VLAN tags the frame carries.</summary>
    public int VlanTagCount { get; internal set; }

    /// <summary>The outermost VLAN identifier (0 when untagged).</summary>
    public ushort VlanId { get; internal set; }

    /// <summary>The offset of the network header (ARP, IPv4 or IPv6).</summary>
    public int L3Offset { get; internal set; }

    /// <summary>The IP version: 4 or 6, 0 for ARP.</summary>
    public int IpVersion { get; internal set; }

    /// <summary>The IP packet's length by its own length fields (IPv4 total length, IPv6 40 + payload length); link padding after it is excluded.</summary>
    public int L3Length { get; internal set; }

    /// <summary>The IPv4 header length with options, or 40 plus the IPv6 extension headers.</summary>
    public int L3HeaderLength { get; internal set; }

    /// <summary>True when the IPv4 header has options or the IPv6 header is followed by extension headers.</summary>
    public bool HasIpOptions { get; internal set; }

    /// <summary>The TTL or hop limit.</summary>
    public byte HopLimit { get; internal set; }

    /// <summary>The transport protocol (for a non-first fragment, the protocol it belongs to).</summary>
    public L4Protocol Protocol { get; internal set; }

    /// <summary>Whether the packet is a fragment.</summary>
    public FragmentKind Fragment { get; internal set; }

    /// <summary>The offset of the transport header; -1 when there is none (ARP, non-first fragments).</summary>
    public int L4Offset { get; internal set; }

    /// <summary>The transport header length: TCP with options, 8 for UDP and ICMP; 0 when unknown.</summary>
    public int L4HeaderLength { get; internal set; }

    // The TCP flags of a TCP segment, the SctpChunkEvent of an SCTP packet, 0 otherwise: one byte, so that the
    // connection table takes either through the same argument and the TCP and UDP paths pay nothing for SCTP.
    private byte _transportState;

    /// <summary>
    /// The TCP control bits of a TCP segment; None for protocols other than TCP and SCTP. For SCTP the same byte holds
    /// <see cref="SctpEvent"/>, which is what the connection table takes in its place: read it only after checking
    /// <see cref="Protocol"/>.
    /// </summary>
    public TcpFlags TcpFlags
    {
        readonly get => (TcpFlags)_transportState;
        internal set => _transportState = (byte)value;
    }

    /// <summary>
    /// What an SCTP packet means to the SCTP state machine (from its first chunk, as the kernel's <c>set_sctp_state</c>);
    /// None for other protocols and for an SCTP packet without a chunk.
    /// </summary>
    public SctpChunkEvent SctpEvent
    {
        readonly get => Protocol == L4Protocol.Sctp ? (SctpChunkEvent)_transportState : SctpChunkEvent.None;
        internal set => _transportState = (byte)value;
    }

    /// <summary>The ICMP or ICMPv6 type (0 for other protocols).</summary>
    public byte IcmpType { get; internal set; }

    /// <summary>True for an ICMP or ICMPv6 error message, which quotes a packet of another flow.</summary>
    public bool IsIcmpError { get; internal set; }

    /// <summary>
    /// The flow: protocol, addresses and ports. For ICMP echo both ports hold the identifier; for other ICMP,
    /// protocols without ports and non-first fragments the ports are 0.
    /// </summary>
    public FlowKey Flow { get; internal set; }

    /// <summary>The offset of the transport payload (after the transport header); -1 when there is none.</summary>
    public readonly int PayloadOffset => L4Offset < 0 || L4HeaderLength == 0 ? -1 : L4Offset + L4HeaderLength;

    /// <summary>The frame length up to the end of the IP packet (link padding excluded).</summary>
    public readonly int FrameLength => L3Offset + L3Length;
}

/// <summary>
/// The one-pass frame parser: Ethernet (with VLAN tags), then ARP, IPv4 (with options) or IPv6 (with a
/// bounded extension-header walk), then TCP, UDP, ICMP, ICMPv6 or SCTP ports. It validates every length
/// before reading a field and reports malformed input as a <see cref="DropReason"/>, never an exception.
/// </summary>
public static class FrameParser
{
    /// <summary>Parses an Ethernet frame.</summary>
    /// <param name="frame">The frame, from the destination MAC to the end (an FCS, if present, is harmless padding).</param>
    /// <param name="parsed">What was found; meaningful when the result is <see cref="DropReason.None"/>.</param>
    /// <returns><see cref="DropReason.None"/>, or why the frame must be dropped.</returns>
    public static DropReason Parse(ReadOnlySpan<byte> frame, out ParsedFrame parsed) =>
        TryParseCommon(frame, out parsed) ? DropReason.None : ParseOther(frame, out parsed);

    /// <summary>Every frame but the common IPv4 one: the common IPv6 frame, else the general parse.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason ParseOther(ReadOnlySpan<byte> frame, out ParsedFrame parsed) =>
        TryParseCommonIPv6(frame, out parsed) ? DropReason.None : ParseAny(frame, out parsed);

    /// <summary>
    /// The general parse, for every frame (<see cref="Parse"/> takes the common frames to <see cref="TryParseCommon"/>
    /// and <see cref="TryParseCommonIPv6"/> first, which must find what this finds).
    /// </summary>
    internal static DropReason ParseAny(ReadOnlySpan<byte> frame, out ParsedFrame parsed)
    {
        parsed = default;
        parsed.L4Offset = -1;
        DropReason linkReason = EthernetHeader.Validate(frame, out int tags);
        if (linkReason != DropReason.None)
        {
            return linkReason;
        }

        int typeOffset = 12 + (4 * tags);
        ushort etherType = Be16(frame, typeOffset);
        if (tags > 0)
        {
            parsed.VlanId = (ushort)(Be16(frame, 14) & 0x0FFF);
        }

        int l3 = typeOffset + 2;
        parsed.EtherType = etherType;
        parsed.VlanTagCount = tags;
        parsed.L3Offset = l3;
        return etherType switch
        {
            (ushort)Headers.EtherType.IPv4 => ParseIPv4(frame, l3, ref parsed),
            (ushort)Headers.EtherType.IPv6 => ParseIPv6(frame, l3, ref parsed),
            (ushort)Headers.EtherType.Arp => ParseArp(frame, l3, ref parsed),
            _ => DropReason.UnsupportedEtherType,
        };
    }

    /// <summary>
    /// The common frame in straight-line code: untagged IPv4 without options, not a fragment, carrying a TCP segment or
    /// a UDP datagram. It fills every field as <see cref="ParseAny"/> would (the property tests of
    /// <c>FrameParserCommonFrameTests</c> hold it to that on valid, corrupted and random frames) and leaves every other
    /// frame, and every one <see cref="ParseAny"/> would drop, to it. It costs less than half what the general parse
    /// does (docs/benchmarks.md, "Issue 18: the common frame's parse, and what a fused frame path could reach"). Its
    /// IPv6 counterpart, <see cref="TryParseCommonIPv6"/>, is tried out of line, after it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryParseCommon(ReadOnlySpan<byte> frame, out ParsedFrame parsed)
    {
        // Written only for a frame it parses; Parse writes it otherwise.
        Unsafe.SkipInit(out parsed);
        const int L3 = EthernetHeader.MinLength;
        const int L4 = L3 + Ipv4Header.MinLength;
        if (frame.Length < L4 + UdpHeader.Length)
        {
            return false;
        }

        // The length check proves the reads up to the UDP header's end to lie inside the frame; the total length
        // check, the rest.
        ref byte start = ref MemoryMarshal.GetReference(frame);
        ushort etherType = Be16(frame, 12);
        byte versionAndLength = Unsafe.Add(ref start, L3);
        int totalLength = Be16(frame, L3 + 2);
        ushort fragment = Be16(frame, L3 + 6);
        byte protocol = Unsafe.Add(ref start, L3 + 9);
        int segmentLength = totalLength - Ipv4Header.MinLength;
        if (etherType != (ushort)Headers.EtherType.IPv4 || versionAndLength != 0x45 || (fragment & 0x3FFF) != 0
            || totalLength > frame.Length - L3 || segmentLength < UdpHeader.Length)
        {
            return false;
        }

        int transportLength;
        byte flags = 0;
        if (protocol == (byte)L4Protocol.Tcp)
        {
            // A whole TCP header lies inside the packet (and so inside the frame) before its data offset is read.
            if (segmentLength < TcpHeader.MinLength)
            {
                return false;
            }

            transportLength = (Unsafe.Add(ref start, L4 + 12) >> 4) * 4;
            if (transportLength < TcpHeader.MinLength || transportLength > segmentLength)
            {
                return false;
            }

            flags = Unsafe.Add(ref start, L4 + 13);
        }
        else if (protocol == (byte)L4Protocol.Udp)
        {
            int datagramLength = Be16(frame, L4 + 4);
            if (datagramLength < UdpHeader.Length || datagramLength > segmentLength)
            {
                return false;
            }

            transportLength = UdpHeader.Length;
        }
        else
        {
            return false;
        }

        uint ports = Be32(frame, L4);
        parsed = default;
        parsed.EtherType = etherType;
        parsed.L3Offset = L3;
        parsed.IpVersion = 4;
        parsed.L3Length = totalLength;
        parsed.L3HeaderLength = Ipv4Header.MinLength;
        parsed.HopLimit = Unsafe.Add(ref start, L3 + 8);
        parsed.Protocol = (L4Protocol)protocol;
        parsed.L4Offset = L4;
        parsed.L4HeaderLength = transportLength;
        parsed.TcpFlags = (TcpFlags)flags;
        parsed.Flow = new FlowKey(
            (L4Protocol)protocol, InetAddress.FromIPv4(Be32(frame, L3 + 12)), (ushort)(ports >> 16),
            InetAddress.FromIPv4(Be32(frame, L3 + 16)), (ushort)ports);
        return true;
    }

    /// <summary>
    /// <see cref="TryParseCommon"/> for IPv6: an untagged packet without extension headers carrying a TCP segment or a
    /// UDP datagram, whose addresses are not IPv4-mapped (<see cref="ParseAny"/> drops those; any address whose upper
    /// half is zero is left to it). Twice as fast as the general parse; out of line, so that the IPv4 path stays as
    /// short as it was (with the two in one method, an IPv4 frame paid 0.35 ns more).
    /// </summary>
    internal static bool TryParseCommonIPv6(ReadOnlySpan<byte> frame, out ParsedFrame parsed)
    {
        Unsafe.SkipInit(out parsed);
        const int L3 = EthernetHeader.MinLength;
        const int L4 = L3 + Ipv6Header.Length;
        if (frame.Length < L4 + UdpHeader.Length)
        {
            return false;
        }

        // The length check proves the reads up to the UDP header's end to lie inside the frame; the payload length
        // check, the rest.
        ref byte start = ref MemoryMarshal.GetReference(frame);
        int segmentLength = Be16(frame, L3 + 4);
        byte protocol = Unsafe.Add(ref start, L3 + 6);
        ulong sourceHigh = Be64(frame, L3 + 8);
        ulong destinationHigh = Be64(frame, L3 + 24);
        if (Be16(frame, 12) != (ushort)Headers.EtherType.IPv6 || Unsafe.Add(ref start, L3) >> 4 != 6
            || segmentLength > frame.Length - L4 || segmentLength < UdpHeader.Length || sourceHigh == 0 || destinationHigh == 0)
        {
            return false;
        }

        int transportLength;
        byte flags = 0;
        if (protocol == (byte)L4Protocol.Tcp)
        {
            // A whole TCP header lies inside the packet (and so inside the frame) before its data offset is read.
            if (segmentLength < TcpHeader.MinLength)
            {
                return false;
            }

            transportLength = (Unsafe.Add(ref start, L4 + 12) >> 4) * 4;
            if (transportLength < TcpHeader.MinLength || transportLength > segmentLength)
            {
                return false;
            }

            flags = Unsafe.Add(ref start, L4 + 13);
        }
        else if (protocol == (byte)L4Protocol.Udp)
        {
            int datagramLength = Be16(frame, L4 + 4);
            if (datagramLength < UdpHeader.Length || datagramLength > segmentLength)
            {
                return false;
            }

            transportLength = UdpHeader.Length;
        }
        else
        {
            return false;
        }

        uint ports = Be32(frame, L4);
        parsed = default;
        parsed.EtherType = (ushort)Headers.EtherType.IPv6;
        parsed.L3Offset = L3;
        parsed.IpVersion = 6;
        parsed.L3Length = Ipv6Header.Length + segmentLength;
        parsed.L3HeaderLength = Ipv6Header.Length;
        parsed.HopLimit = Unsafe.Add(ref start, L3 + 7);
        parsed.Protocol = (L4Protocol)protocol;
        parsed.L4Offset = L4;
        parsed.L4HeaderLength = transportLength;
        parsed.TcpFlags = (TcpFlags)flags;
        parsed.Flow = new FlowKey(
            (L4Protocol)protocol, new InetAddress(sourceHigh, Be64(frame, L3 + 16)), (ushort)(ports >> 16),
            new InetAddress(destinationHigh, Be64(frame, L3 + 32)), (ushort)ports);
        return true;
    }

    /// <summary>Parses an IP packet without a link header (as read from a TUN device or a raw IP socket).</summary>
    /// <param name="packet">The packet, starting at the IP header.</param>
    /// <param name="parsed">What was found; offsets are from the start of <paramref name="packet"/>.</param>
    /// <returns><see cref="DropReason.None"/>, or why the packet must be dropped.</returns>
    public static DropReason ParseIp(ReadOnlySpan<byte> packet, out ParsedFrame parsed)
    {
        parsed = default;
        parsed.L4Offset = -1;
        if (packet.IsEmpty)
        {
            return DropReason.Truncated;
        }

        switch (packet[0] >> 4)
        {
            case 4:
                parsed.EtherType = (ushort)Headers.EtherType.IPv4;
                return ParseIPv4(packet, 0, ref parsed);
            case 6:
                parsed.EtherType = (ushort)Headers.EtherType.IPv6;
                return ParseIPv6(packet, 0, ref parsed);
            default:
                return DropReason.BadIpVersion;
        }
    }

    private static DropReason ParseArp(ReadOnlySpan<byte> frame, int l3, ref ParsedFrame parsed)
    {
        ReadOnlySpan<byte> arp = frame[l3..];
        DropReason reason = ArpHeader.Validate(arp);
        if (reason != DropReason.None)
        {
            return reason;
        }

        parsed.L3Length = ArpHeader.Length;
        parsed.Flow = new FlowKey(L4Protocol.None, InetAddress.FromIPv4(Be32(arp, 14)), 0, InetAddress.FromIPv4(Be32(arp, 24)), 0);
        return DropReason.None;
    }

    private static DropReason ParseIPv4(ReadOnlySpan<byte> frame, int l3, ref ParsedFrame parsed)
    {
        ReadOnlySpan<byte> ip = frame[l3..];
        DropReason reason = Ipv4Header.Validate(ip, checkTotalLength: true);
        if (reason != DropReason.None)
        {
            return reason;
        }

        int headerLength = (ip[0] & 0x0F) * 4;
        int totalLength = Be16(ip, 2);
        ushort fragment = Be16(ip, 6);
        var protocol = (L4Protocol)ip[9];
        var source = InetAddress.FromIPv4(Be32(ip, 12));
        var destination = InetAddress.FromIPv4(Be32(ip, 16));

        parsed.IpVersion = 4;
        parsed.L3Length = totalLength;
        parsed.L3HeaderLength = headerLength;
        parsed.HasIpOptions = headerLength > Ipv4Header.MinLength;
        parsed.HopLimit = ip[8];
        parsed.Protocol = protocol;

        if ((fragment & 0x1FFF) != 0)
        {
            parsed.Fragment = FragmentKind.NonFirst;
            parsed.Flow = new FlowKey(protocol, source, 0, destination, 0);
            return DropReason.None;
        }

        parsed.Fragment = (fragment & 0x2000) != 0 ? FragmentKind.First : FragmentKind.None;
        return ParseTransport(ip[headerLength..totalLength], l3 + headerLength, protocol, source, destination, ref parsed);
    }

    private static DropReason ParseIPv6(ReadOnlySpan<byte> frame, int l3, ref ParsedFrame parsed)
    {
        ReadOnlySpan<byte> ip = frame[l3..];
        DropReason reason = Ipv6Header.Validate(ip, checkPayloadLength: true);
        if (reason != DropReason.None)
        {
            return reason;
        }

        int payloadLength = Be16(ip, 4);
        var source = new InetAddress(Be64(ip, 8), Be64(ip, 16));
        var destination = new InetAddress(Be64(ip, 24), Be64(ip, 32));

        // InetAddress holds IPv4 as ::ffff:a.b.c.d, so an IPv6 packet carrying such an address would pass for IPv4 (and
        // meet the IPv4 flow of that address in the connection table). Such addresses are not valid on the wire
        // (RFC 4942 section 2.2 advises dropping them), so the policy is to drop, counted like any other drop.
        // An IPv4-mapped address has a zero high half: the rare packet with one goes out of line for the full test.
        if ((source.High == 0 || destination.High == 0) && IsEitherMapped(source, destination))
        {
            return DropReason.Ipv6MappedAddress;
        }

        ReadOnlySpan<byte> payload = ip.Slice(Ipv6Header.Length, payloadLength);

        parsed.IpVersion = 6;
        parsed.L3Length = Ipv6Header.Length + payloadLength;
        parsed.HopLimit = ip[7];

        reason = Ipv6ExtensionHeaders.Walk(payload, ip[6], out var upper);
        if (reason != DropReason.None)
        {
            return reason;
        }

        parsed.Protocol = upper.Protocol;
        parsed.HasIpOptions = upper.HeaderCount > 0;
        if (upper.IsNonFirstFragment)
        {
            parsed.Fragment = FragmentKind.NonFirst;
            parsed.L3HeaderLength = Ipv6Header.Length + upper.HeadersLength;
            parsed.Flow = new FlowKey(upper.Protocol, source, 0, destination, 0);
            return DropReason.None;
        }

        parsed.Fragment = upper.IsFragment ? FragmentKind.First : FragmentKind.None;
        parsed.L3HeaderLength = Ipv6Header.Length + upper.Offset;
        ReadOnlySpan<byte> l4 = payload[upper.Offset..];
        int l4Offset = l3 + Ipv6Header.Length + upper.Offset;

        // ICMPv6 goes out of line (its errors' quotes are checked there), so the transport parse stays this method's
        // tail: nothing is read back from parsed after it (a byte read of the struct just zeroed and filled stalls on
        // store forwarding), and TCP and UDP pay one compare for it.
        return upper.Protocol == L4Protocol.IcmpV6
            ? ParseIcmpV6(l4, l4Offset, source, destination, ref parsed)
            : ParseTransport(l4, l4Offset, upper.Protocol, source, destination, ref parsed);
    }

    /// <summary>
    /// The transport parse of an ICMPv6 message; an error (which quotes a packet) that quotes an IPv4-mapped address
    /// is dropped with <see cref="DropReason.Ipv6MappedAddress"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason ParseIcmpV6(
        ReadOnlySpan<byte> l4, int l4Offset, InetAddress source, InetAddress destination, ref ParsedFrame parsed)
    {
        DropReason reason = ParseTransport(l4, l4Offset, L4Protocol.IcmpV6, source, destination, ref parsed);
        return reason == DropReason.None && parsed.IsIcmpError && QuotesMappedAddress(l4[IcmpHeader.Length..])
            ? DropReason.Ipv6MappedAddress
            : reason;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DropReason ParseTransport(
        ReadOnlySpan<byte> l4, int l4Offset, L4Protocol protocol, InetAddress source, InetAddress destination, ref ParsedFrame parsed)
    {
        ushort sourcePort = 0;
        ushort destinationPort = 0;
        switch (protocol)
        {
            case L4Protocol.Tcp:
            {
                DropReason reason = TcpHeader.Validate(l4);
                if (reason != DropReason.None)
                {
                    return reason;
                }

                sourcePort = Be16(l4, 0);
                destinationPort = Be16(l4, 2);
                parsed.L4HeaderLength = (l4[12] >> 4) * 4;
                parsed.TcpFlags = (TcpFlags)l4[13];
                break;
            }

            case L4Protocol.Udp:
            {
                // A first fragment holds only part of the datagram its UDP length describes.
                DropReason reason = parsed.Fragment == FragmentKind.First
                    ? (l4.Length < UdpHeader.Length ? DropReason.Truncated : DropReason.None)
                    : UdpHeader.Validate(l4);
                if (reason != DropReason.None)
                {
                    return reason;
                }

                sourcePort = Be16(l4, 0);
                destinationPort = Be16(l4, 2);
                parsed.L4HeaderLength = UdpHeader.Length;
                break;
            }

            case L4Protocol.Icmp:
            case L4Protocol.IcmpV6:
            {
                if (l4.Length < IcmpHeader.Length)
                {
                    return DropReason.BadIcmpHeader;
                }

                byte type = l4[0];
                parsed.IcmpType = type;
                parsed.L4HeaderLength = IcmpHeader.Length;
                bool isEcho;
                if (protocol == L4Protocol.Icmp)
                {
                    parsed.IsIcmpError = IcmpHeader.IsErrorType(type);
                    isEcho = type is IcmpHeader.TypeEchoRequest or IcmpHeader.TypeEchoReply;
                }
                else
                {
                    parsed.IsIcmpError = type < 128;
                    isEcho = type is IcmpV6Header.TypeEchoRequest or IcmpV6Header.TypeEchoReply;
                }

                if (isEcho)
                {
                    sourcePort = destinationPort = Be16(l4, 4);
                }

                break;
            }

            case L4Protocol.Sctp:
            {
                // The SCTP common header (RFC 9260 section 3.1) is 12 bytes with the ports first.
                if (l4.Length < 12)
                {
                    return DropReason.Truncated;
                }

                sourcePort = Be16(l4, 0);
                destinationPort = Be16(l4, 2);
                parsed.L4HeaderLength = 12;
                parsed.SctpEvent = SctpHeader.EventOf(l4);
                break;
            }

            default:
                break;
        }

        parsed.L4Offset = l4Offset;
        parsed.Flow = new FlowKey(protocol, source, sourcePort, destination, destinationPort);
        return DropReason.None;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool IsEitherMapped(InetAddress source, InetAddress destination) => source.IsIPv4 | destination.IsIPv4;

    /// <summary>
    /// True when the IPv6 header an ICMPv6 error quotes holds an IPv4-mapped source or destination (each checked when
    /// the quote reaches it; a shorter quote is left to whoever translates the error).
    /// </summary>
    /// <param name="quoted">The bytes after the ICMPv6 header.</param>
    /// <returns>True to drop the error.</returns>
    private static bool QuotesMappedAddress(ReadOnlySpan<byte> quoted)
    {
        if (quoted.Length < 24 || quoted[0] >> 4 != 6)
        {
            return false;
        }

        bool mapped = new InetAddress(Be64(quoted, 8), Be64(quoted, 16)).IsIPv4;
        return quoted.Length >= Ipv6Header.Length
            ? mapped | new InetAddress(Be64(quoted, 24), Be64(quoted, 32)).IsIPv4
            : mapped;
    }

    // Unchecked big-endian reads: every caller has checked the length first (the views' TryCreate rule),
    // so the span bounds checks would be paid twice on the hot path.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Be16(ReadOnlySpan<byte> span, int offset)
    {
        ushort raw = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref MemoryMarshal.GetReference(span), offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(raw) : raw;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Be32(ReadOnlySpan<byte> span, int offset)
    {
        uint raw = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref MemoryMarshal.GetReference(span), offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(raw) : raw;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Be64(ReadOnlySpan<byte> span, int offset)
    {
        ulong raw = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref MemoryMarshal.GetReference(span), offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(raw) : raw;
    }
}
