using System.Buffers.Binary;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Forwarding;

/// <summary>
/// ICMP and ICMPv6 errors about NAT and FULLNAT connections (destination unreachable including fragmentation needed
/// / packet too big, time exceeded, parameter problem, source quench), matched by the packet they quote and rewritten
/// in both the outer and the embedded headers, like the kernel's ip_vs_in_icmp / ip_vs_out_icmp with ip_vs_nat_icmp.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="TryGetEmbeddedFlow(ReadOnlySpan{byte}, in ParsedFrame, out FlowKey)"/> reads the quoted packet's flow without reading past the quote; the caller finds the
/// connection by it (the quoted packet travelled in the opposite direction of the error). A quoted ESP or AH packet has
/// no ports: its flow has ports 0, it needs only its IP header in the quote, and only its addresses are translated
/// (the kernel relates it to the IKE connection of the same two hosts, <c>ip_vs_proto_ah_esp</c>). For DR and TUN connections
/// the error needs no translation: pass the frame to <see cref="DirectRoutingRewriter"/> or
/// <see cref="TunnelEncapsulator"/>, as ip_vs_icmp_xmit hands it to the connection's transmitter.
/// </para>
/// <para>
/// Checksums: the outer IPv4 header and the quoted IPv4 header and (when quoted in full) TCP/UDP checksum are patched
/// incrementally (a quoted SCTP packet's ports are translated and its CRC32c left as it is, as the kernel's
/// ip_vs_nat_icmp does); the ICMP checksum, which covers the quote, is first verified
/// (<see cref="ForwardingOptions.IcmpErrorChecksum"/>: a wrong one is dropped by default, as the kernel's
/// ip_vs_in_icmp / handle_response_icmp do) and then recomputed over the message (the kernel recomputes it too), with
/// the IPv6 pseudo-header for ICMPv6; a wrong one forwarded by policy keeps its error. The TTL / hop limit is
/// decremented as for the connection's packets; an error whose hop limit would expire is dropped (no error is sent
/// about an error).
/// </para>
/// </remarks>
public sealed class IcmpErrorTranslator
{
    private readonly RewritePolicy _policy;

    /// <summary>Creates the translator.</summary>
    /// <param name="options">The TTL and ICMP checksum policies (<see cref="ForwardingOptions.IcmpErrorChecksum"/>; the other settings do not apply); null for the defaults.</param>
    public IcmpErrorTranslator(ForwardingOptions? options = null) => _policy = new RewritePolicy(options);

    /// <summary>Reads the flow of the packet an ICMP error quotes, as that packet was sent.</summary>
    /// <param name="frame">The frame.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="embedded">The quoted packet's protocol, addresses and ports.</param>
    /// <returns><see cref="DropReason.None"/>, <see cref="DropReason.NotIcmpError"/>, or <see cref="DropReason.EmbeddedTruncated"/>.</returns>
    public static DropReason TryGetEmbeddedFlow(ReadOnlySpan<byte> frame, in ParsedFrame parsed, out FlowKey embedded) =>
        TryGetEmbeddedFlow(frame, parsed, out embedded, out _);

    /// <summary>
    /// Reads the flow of an IP packet quoted in <paramref name="frame"/> from <paramref name="start"/> to the end of the
    /// frame's IP packet, cut short as a quote may be: the packet a tunnel packet carries inside an ICMP error's quote.
    /// </summary>
    /// <param name="frame">The frame.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="start">Where the quoted packet's IP header starts in <paramref name="frame"/>.</param>
    /// <param name="flow">The quoted packet's protocol, addresses and ports.</param>
    /// <returns><see cref="DropReason.None"/>, or <see cref="DropReason.EmbeddedTruncated"/> when the quote holds no IP header, no TCP, UDP or SCTP ports (nor ESP or AH, which have none), or a non-first fragment.</returns>
    public static DropReason TryGetQuotedFlow(ReadOnlySpan<byte> frame, in ParsedFrame parsed, int start, out FlowKey flow)
    {
        flow = default;
        int end = parsed.FrameLength;
        if ((uint)start >= (uint)end || end > frame.Length)
        {
            return DropReason.EmbeddedTruncated;
        }

        var reason = LocateQuoted(frame, start, end, frame[start] >> 4 == 4, out var quote);
        if (reason == DropReason.None)
        {
            flow = FlowOf(frame, quote);
        }

        return reason;
    }

    /// <summary>Reads the flow of the packet an ICMP error quotes, and where its transport header starts.</summary>
    /// <param name="frame">The frame.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="embedded">The quoted packet's protocol, addresses and ports.</param>
    /// <param name="transportOffset">
    /// The offset in <paramref name="frame"/> of the quoted packet's transport header; the quote holds it up to
    /// <see cref="ParsedFrame.FrameLength"/> (at least its ports, often all of it).
    /// </param>
    /// <returns><see cref="DropReason.None"/>, <see cref="DropReason.NotIcmpError"/>, or <see cref="DropReason.EmbeddedTruncated"/>.</returns>
    public static DropReason TryGetEmbeddedFlow(ReadOnlySpan<byte> frame, in ParsedFrame parsed, out FlowKey embedded, out int transportOffset)
    {
        embedded = default;
        transportOffset = -1;
        DropReason reason = LocateEmbedded(frame, parsed, out var quote);
        if (reason != DropReason.None)
        {
            return reason;
        }

        transportOffset = quote.L4Offset;
        embedded = FlowOf(frame, quote);
        return DropReason.None;
    }

    private static FlowKey FlowOf(ReadOnlySpan<byte> frame, in QuotedPacket quote)
    {
        if (!quote.HasPorts)
        {
            return new FlowKey(quote.Protocol, quote.Source, 0, quote.Destination, 0);
        }

        ReadOnlySpan<byte> ports = frame.Slice(quote.L4Offset, 4);
        return new FlowKey(
            quote.Protocol, quote.Source, BinaryPrimitives.ReadUInt16BigEndian(ports), quote.Destination, BinaryPrimitives.ReadUInt16BigEndian(ports[2..]));
    }

    /// <summary>
    /// An error from the client side about a packet the director sent to the client (quoted as virtual service to
    /// client): it goes to the real server, quoting the packet as the real server sent it (real server to client, or
    /// to the local address for FULLNAT), with the outer destination the real server (and, for FULLNAT, the outer
    /// source the local address).
    /// </summary>
    /// <param name="buffer">The buffer holding the frame.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="connection">The connection the quoted packet belongs to.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="nextHopMac">The real server's (or its gateway's) MAC.</param>
    /// <returns>Transmit (noting <see cref="ForwardingNotes.BadInputChecksum"/> for a wrong checksum forwarded by policy) or drop with a reason (<see cref="DropReason.BadInputChecksum"/> for a wrong ICMP checksum, by default).</returns>
    public ForwardingVerdict TranslateToRealServer(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in NatEndpoints connection, MacAddress sourceMac, MacAddress nextHopMac)
    {
        var outerSource = connection.IsFullNat ? connection.Local.Address : parsed.Flow.SourceAddress;
        return Translate(
            buffer, offset, length, parsed, outerSource, connection.RealServer.Address, connection.RealServer, connection.Local, connection, sourceMac, nextHopMac);
    }

    /// <summary>
    /// An error from the real server side about a packet the director sent to the real server (quoted as client, or
    /// local address, to real server): it goes to the client from the virtual service address, quoting the packet as
    /// the client sent it (client to virtual service).
    /// </summary>
    /// <param name="buffer">The buffer holding the frame.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="connection">The connection the quoted packet belongs to.</param>
    /// <param name="sourceMac">The director's MAC on the egress link.</param>
    /// <param name="nextHopMac">The client's (or the gateway's) MAC.</param>
    /// <returns>Transmit (noting <see cref="ForwardingNotes.BadInputChecksum"/> for a wrong checksum forwarded by policy) or drop with a reason (<see cref="DropReason.BadInputChecksum"/> for a wrong ICMP checksum, by default).</returns>
    public ForwardingVerdict TranslateToClient(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, in NatEndpoints connection, MacAddress sourceMac, MacAddress nextHopMac)
    {
        return Translate(
            buffer, offset, length, parsed, connection.VirtualService.Address, connection.Client.Address, connection.Client, connection.VirtualService, connection, sourceMac, nextHopMac);
    }

    private ForwardingVerdict Translate(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, InetAddress outerSource, InetAddress outerDestination,
        InetEndpoint quotedSource, InetEndpoint quotedDestination, in NatEndpoints connection, MacAddress sourceMac, MacAddress nextHopMac)
    {
        DropReason reason = _policy.Check(buffer, offset, length, parsed, needsPorts: false);
        if (reason != DropReason.None)
        {
            return ForwardingVerdict.Drop(reason);
        }

        bool ipv4 = parsed.IpVersion == 4;
        if (connection.Client.Address.IsIPv4 != ipv4 || connection.RealServer.Address.IsIPv4 != ipv4 || connection.Local.Address.IsIPv4 != ipv4)
        {
            return ForwardingVerdict.Drop(DropReason.AddressFamilyMismatch);
        }

        Span<byte> frame = buffer.Slice(offset, parsed.FrameLength);
        reason = LocateEmbedded(frame, parsed, out var quote);
        if (reason != DropReason.None)
        {
            return ForwardingVerdict.Drop(reason);
        }

        Span<byte> ip = frame[parsed.L3Offset..];
        Span<byte> icmp = frame[parsed.L4Offset..];

        // The message's checksum as received: the kernel drops a wrong one (ip_vs_in_icmp, handle_response_icmp);
        // what is forwarded keeps its error.
        ushort received = MessageSum(frame, parsed);
        reason = ChecksumVerdict(received, out var notes);
        if (reason != DropReason.None)
        {
            return ForwardingVerdict.Drop(reason);
        }

        if (_policy.DecrementHopLimit && AddressTranslation.HopLimit(ip, parsed.IpVersion) <= 1)
        {
            return ForwardingVerdict.Drop(DropReason.HopLimitExceeded);
        }

        // Quoted packet: addresses, its IPv4 header checksum, ports, and its transport checksum when the quote holds it.
        uint addressDelta;
        if (ipv4)
        {
            Span<byte> quoted = frame[quote.L3Offset..];
            addressDelta = Checksum.Add(Checksum.DeltaAddress(quote.Source, quotedSource.Address), Checksum.DeltaAddress(quote.Destination, quotedDestination.Address));
            BinaryPrimitives.WriteUInt32BigEndian(quoted[12..], (uint)quotedSource.Address.Low);
            BinaryPrimitives.WriteUInt32BigEndian(quoted[16..], (uint)quotedDestination.Address.Low);
            BinaryPrimitives.WriteUInt16BigEndian(quoted[10..], Checksum.ApplyDelta(BinaryPrimitives.ReadUInt16BigEndian(quoted[10..]), addressDelta));
        }
        else
        {
            Span<byte> quoted = frame[quote.L3Offset..];
            addressDelta = Checksum.Add(Checksum.DeltaAddress(quote.Source, quotedSource.Address), Checksum.DeltaAddress(quote.Destination, quotedDestination.Address));
            quotedSource.Address.WriteIPv6To(quoted[8..]);
            quotedDestination.Address.WriteIPv6To(quoted[24..]);
        }

        // ESP and AH: no ports, no transport checksum (ip_vs_nat_icmp rewrites ports only for TCP, UDP and SCTP).
        Span<byte> l4 = frame[quote.L4Offset..];
        uint oldPorts = quote.HasPorts ? BinaryPrimitives.ReadUInt32BigEndian(l4) : 0;
        uint newPorts = quote.HasPorts ? (uint)quotedSource.Port << 16 | quotedDestination.Port : 0;
        if (quote.HasPorts)
        {
            BinaryPrimitives.WriteUInt32BigEndian(l4, newPorts);
        }

        uint delta = Checksum.Add(addressDelta, Checksum.Delta32(oldPorts, newPorts));
        int quotedL4Length = frame.Length - quote.L4Offset;
        if (quote.Protocol == L4Protocol.Tcp && quotedL4Length >= 18)
        {
            BinaryPrimitives.WriteUInt16BigEndian(l4[16..], Checksum.ApplyDelta(BinaryPrimitives.ReadUInt16BigEndian(l4[16..]), delta));
        }
        else if (quote.Protocol == L4Protocol.Udp && quotedL4Length >= 8)
        {
            ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(l4[6..]);
            if (checksum != 0 || !ipv4)
            {
                BinaryPrimitives.WriteUInt16BigEndian(l4[6..], Checksum.UdpResult(Checksum.ApplyDelta(checksum, delta)));
            }
        }

        // Outer header.
        if (ipv4)
        {
            uint oldSource = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
            uint oldDestination = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
            uint headerDelta = Checksum.Add(Checksum.Delta32(oldSource, (uint)outerSource.Low), Checksum.Delta32(oldDestination, (uint)outerDestination.Low));
            if (_policy.DecrementHopLimit)
            {
                // The TTL's change joins the address changes in one update (the TTL is at least 2 here).
                headerDelta = Checksum.Add(headerDelta, OnesComplement.TtlDecrementDelta);
                ip[8]--;
            }

            BinaryPrimitives.WriteUInt32BigEndian(ip[12..], (uint)outerSource.Low);
            BinaryPrimitives.WriteUInt32BigEndian(ip[16..], (uint)outerDestination.Low);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.ApplyDelta(BinaryPrimitives.ReadUInt16BigEndian(ip[10..]), headerDelta));
        }
        else
        {
            outerSource.WriteIPv6To(ip[8..]);
            outerDestination.WriteIPv6To(ip[24..]);
            if (_policy.DecrementHopLimit)
            {
                ip[7]--;
            }
        }

        // The ICMP checksum covers the quote: recomputed, as the kernel does. A received error that was wrong (and
        // forwarded by policy) keeps its error: adding the old sum's deviation from 0xFFFF (one's complement -0) makes
        // the new message sum to the old value, so the receiver still discards it.
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0);
        ushort sum = ipv4
            ? Checksum.Compute(icmp)
            : Checksum.Compute(icmp, Checksum.PseudoHeaderSum(outerSource, outerDestination, L4Protocol.IcmpV6, icmp.Length));
        if (received != 0xFFFF)
        {
            sum = Checksum.Add(sum, received);
        }

        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], sum);

        EthernetRewrite.SetAddresses(frame, sourceMac, nextHopMac);
        return ForwardingVerdict.Transmit(offset, parsed.FrameLength, notes);
    }

    /// <summary>
    /// Verifies the ICMP or ICMPv6 checksum of an error about a DR or TUN connection, which the caller forwards
    /// unchanged with <see cref="DirectRoutingRewriter"/> or <see cref="TunnelEncapsulator"/>: the kernel's
    /// ip_vs_in_icmp checks it before handing the error to the connection's transmitter (ip_vs_icmp_xmit), for every
    /// forwarding method. The translations check it themselves.
    /// </summary>
    /// <param name="frame">The frame.</param>
    /// <param name="parsed">The frame as <see cref="FrameParser.Parse"/> found it.</param>
    /// <param name="notes"><see cref="ForwardingNotes.BadInputChecksum"/> when the checksum is wrong and <see cref="ForwardingOptions.IcmpErrorChecksum"/> is <see cref="InputChecksumPolicy.VerifyAndCount"/>.</param>
    /// <returns>
    /// <see cref="DropReason.BadInputChecksum"/> for a wrong checksum under <see cref="InputChecksumPolicy.VerifyAndDrop"/>
    /// (the default), <see cref="DropReason.NotIcmpError"/> when the frame is not an ICMP error that lies in
    /// <paramref name="frame"/>, <see cref="DropReason.None"/> otherwise.
    /// </returns>
    public DropReason VerifyChecksum(ReadOnlySpan<byte> frame, in ParsedFrame parsed, out ForwardingNotes notes)
    {
        notes = ForwardingNotes.None;
        if (!parsed.IsIcmpError || parsed.L3Offset < 14 || parsed.L4Offset < parsed.L3Offset || parsed.FrameLength > frame.Length
            || (frame[parsed.L3Offset] >> 4) != parsed.IpVersion || parsed.L4Offset + 8 > parsed.FrameLength)
        {
            return DropReason.NotIcmpError;
        }

        return ChecksumVerdict(MessageSum(frame, parsed), out notes);
    }

    /// <summary>The ICMP message's one's complement sum as received, with the pseudo-header for ICMPv6: 0xFFFF when its checksum is right.</summary>
    private static ushort MessageSum(ReadOnlySpan<byte> frame, in ParsedFrame parsed)
    {
        ReadOnlySpan<byte> ip = frame[parsed.L3Offset..];
        ReadOnlySpan<byte> icmp = frame[parsed.L4Offset..parsed.FrameLength];
        return Checksum.Sum(
            icmp,
            parsed.IpVersion == 4 ? 0u : Checksum.PseudoHeaderSum(InetAddress.ReadIPv6(ip[8..]), InetAddress.ReadIPv6(ip[24..]), L4Protocol.IcmpV6, icmp.Length));
    }

    /// <summary>What <see cref="ForwardingOptions.IcmpErrorChecksum"/> makes of a message sum.</summary>
    private DropReason ChecksumVerdict(ushort sum, out ForwardingNotes notes)
    {
        notes = ForwardingNotes.None;
        if (sum == 0xFFFF || _policy.IcmpErrorChecksum == InputChecksumPolicy.Ignore)
        {
            return DropReason.None;
        }

        if (_policy.IcmpErrorChecksum == InputChecksumPolicy.VerifyAndDrop)
        {
            return DropReason.BadInputChecksum;
        }

        notes = ForwardingNotes.BadInputChecksum;
        return DropReason.None;
    }

    private static DropReason LocateEmbedded(ReadOnlySpan<byte> frame, in ParsedFrame parsed, out QuotedPacket quote)
    {
        quote = default;
        int end = parsed.FrameLength;
        if (!parsed.IsIcmpError || parsed.L4Offset < 0 || end > frame.Length || parsed.L4Offset + 8 > end || !IsFlowError(parsed))
        {
            return DropReason.NotIcmpError;
        }

        return LocateQuoted(frame, parsed.L4Offset + 8, end, parsed.IpVersion == 4, out quote);
    }

    /// <summary>The packet quoted from <paramref name="start"/> to <paramref name="end"/> (its start at least): its transport header and flow.</summary>
    private static DropReason LocateQuoted(ReadOnlySpan<byte> frame, int start, int end, bool ipv4, out QuotedPacket quote)
    {
        quote = default;
        ReadOnlySpan<byte> quoted = frame[start..end];
        int l4;
        L4Protocol protocol;
        InetAddress source;
        InetAddress destination;
        if (ipv4)
        {
            if (Ipv4Header.Validate(quoted, checkTotalLength: false) != DropReason.None)
            {
                return DropReason.EmbeddedTruncated;
            }

            // A quoted non-first fragment has no ports to match (ip_vs_in_icmp ignores it too).
            if ((BinaryPrimitives.ReadUInt16BigEndian(quoted[6..]) & 0x1FFF) != 0)
            {
                return DropReason.EmbeddedTruncated;
            }

            l4 = (quoted[0] & 0x0F) * 4;
            protocol = (L4Protocol)quoted[9];
            source = InetAddress.ReadIPv4(quoted[12..]);
            destination = InetAddress.ReadIPv4(quoted[16..]);
        }
        else
        {
            if (quoted.Length < 40 || quoted[0] >> 4 != 6)
            {
                return DropReason.EmbeddedTruncated;
            }

            if (Ipv6ExtensionHeaders.Walk(quoted[40..], quoted[6], out var upper) != DropReason.None || upper.IsNonFirstFragment)
            {
                return DropReason.EmbeddedTruncated;
            }

            l4 = 40 + upper.Offset;
            protocol = upper.Protocol;
            source = InetAddress.ReadIPv6(quoted[8..]);
            destination = InetAddress.ReadIPv6(quoted[24..]);
        }

        // TCP, UDP and SCTP need their ports in the quote; ESP and AH have none (IPVS relates them by their addresses,
        // ip_vs_proto_ah_esp), so their IP header is enough.
        if (protocol is L4Protocol.Esp or L4Protocol.Ah ? l4 > quoted.Length
            : protocol is not (L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.Sctp) || l4 + 4 > quoted.Length)
        {
            return DropReason.EmbeddedTruncated;
        }

        quote = new QuotedPacket(start, start + l4, protocol, source, destination);
        return DropReason.None;
    }

    // The errors IPVS relates to a connection: over IPv4 only destination unreachable, source quench and time exceeded
    // (ip_vs_in_icmp and ip_vs_out_icmp leave a parameter problem or a redirect to the host); over IPv6 every error.
    private static bool IsFlowError(in ParsedFrame parsed) => parsed.IpVersion == 4
        ? parsed.IcmpType is IcmpHeader.TypeDestinationUnreachable or IcmpHeader.TypeSourceQuench or IcmpHeader.TypeTimeExceeded
        : parsed.IcmpType is IcmpV6Header.TypeDestinationUnreachable or IcmpV6Header.TypePacketTooBig or IcmpV6Header.TypeTimeExceeded or IcmpV6Header.TypeParameterProblem;

    private readonly record struct QuotedPacket(int L3Offset, int L4Offset, L4Protocol Protocol, InetAddress Source, InetAddress Destination)
    {
        /// <summary>False for ESP and AH, whose quote is related by its addresses alone.</summary>
        public bool HasPorts => Protocol is not (L4Protocol.Esp or L4Protocol.Ah);
    }
}
