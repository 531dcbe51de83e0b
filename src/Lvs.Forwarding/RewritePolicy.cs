using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// The options a rewriter copied at construction, and the checks every rewrite starts with. The checks re-read the
/// few bytes they rely on from the buffer instead of trusting the <see cref="ParsedFrame"/> alone, so a parse result
/// that does not belong to the buffer gives a drop reason, never an out-of-range write.
/// </summary>
internal readonly struct RewritePolicy
{
    /// <summary>
    /// What <see cref="Check"/> returns, with ports needed, for an SCTP packet that passed the other checks: not a drop
    /// but the way to the SCTP translation, which the TCP and UDP paths then pay nothing for (their checks take no
    /// branch they did not take before).
    /// </summary>
    public const DropReason SctpTranslation = (DropReason)0xFF;

    /// <summary>
    /// What <see cref="Check"/> returns, with ports needed, for an ESP or AH packet that passed the other checks: the way
    /// to the translation of its addresses alone. IPVS has no port or checksum to translate in these protocols (their
    /// <c>snat_handler</c> and <c>dnat_handler</c> are null), so its NAT transmit rewrites only the IP header.
    /// </summary>
    public const DropReason PortlessTranslation = (DropReason)0xFE;

    public RewritePolicy(ForwardingOptions? options)
    {
        options ??= new ForwardingOptions(); // its own ICMP rate limiter, not the one of the shared Default
        if (options.Mtu is < 68 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Mtu, "The MTU must be between 68 and 65535.");
        }

        if (options.RealServerLinkIPv4 is { IsIPv4: false })
        {
            throw new ArgumentException("RealServerLinkIPv4 must be an IPv4 address.", nameof(options));
        }

        if (options.RealServerLinkIPv6 is { IsIPv4: true })
        {
            throw new ArgumentException("RealServerLinkIPv6 must be an IPv6 address.", nameof(options));
        }

        RealServerLinkIPv4 = options.RealServerLinkIPv4;
        RealServerLinkIPv6 = options.RealServerLinkIPv6;
        DecrementHopLimit = options.DecrementHopLimit;
        InputChecksum = options.InputChecksum;
        IcmpErrorChecksum = options.IcmpErrorChecksum;
        NonFirstFragments = options.NonFirstFragments;
        IpOptions = options.IpOptions;
        Mtu = options.Mtu;
        IcmpHopLimit = options.IcmpHopLimit;
        InsertToa = options.InsertToa;
        Identification = IpIdentification.For(options);
        Icmp = new IcmpErrorSender(options.IcmpRateLimiter, Identification, options.IcmpHopLimit);
    }

    /// <summary>The ICMP errors the rewriter answers with (hop limit, identification, rate limit).</summary>
    public IcmpErrorSender Icmp { get; }

    /// <summary>The identifications of the IPv4 and IPv6-fragment headers the rewriter builds.</summary>
    public IpIdentification Identification { get; }

    public bool InsertToa { get; }

    public bool DecrementHopLimit { get; }

    public InputChecksumPolicy InputChecksum { get; }

    public InputChecksumPolicy IcmpErrorChecksum { get; }

    public FragmentPolicy NonFirstFragments { get; }

    public IpOptionsPolicy IpOptions { get; }

    public int Mtu { get; }

    public byte IcmpHopLimit { get; }

    public InetAddress? RealServerLinkIPv4 { get; }

    public InetAddress? RealServerLinkIPv6 { get; }

    /// <summary>The checks shared by every rewriter: bounds, IP version, fragments, options, and (for NAT) a transport header with ports.</summary>
    /// <remarks>
    /// <para>
    /// After it returns <see cref="DropReason.None"/>: the frame up to <see cref="ParsedFrame.FrameLength"/> lies
    /// in the buffer, holds a link header of at least 14 bytes and a whole IPv4 (20+) or IPv6 (40+) header of the
    /// parsed version; with <paramref name="needsPorts"/>, a TCP (20+) or UDP (8+) header at
    /// <see cref="ParsedFrame.L4Offset"/>, unless the packet is a non-first fragment forwarded by policy. For an SCTP
    /// packet with ports needed it returns <see cref="SctpTranslation"/> after the same checks, with an SCTP common
    /// header (12 bytes) at <see cref="ParsedFrame.L4Offset"/>, and for an ESP or AH packet
    /// <see cref="PortlessTranslation"/>.
    /// </para>
    /// <para>
    /// A <see cref="ParsedFrame"/> only comes from <see cref="FrameParser"/> (its setters are internal to Lvs.Core), and
    /// the parser sets the IP version together with a length it has validated (an IPv4 total length of at least the
    /// header length, itself at least 20; an IPv6 length of 40 plus the payload), and the transport offset only after
    /// validating a whole TCP or UDP header before the end of the IP packet. Those are not checked again. What the
    /// parser cannot promise is that the caller passes the same buffer, offset and length it parsed (or a result of a
    /// parse that failed half-way: version set, transport offset still -1), so the frame's bounds, the version nibble
    /// in the buffer and the presence of the transport header are checked.
    /// </para>
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public DropReason Check(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, bool needsPorts)
    {
        int l3 = parsed.L3Offset;
        int version = parsed.IpVersion;

        // One unsigned comparison each: negative offsets and lengths turn into huge ones.
        if ((ulong)(uint)offset + (uint)length > (uint)buffer.Length || (uint)parsed.FrameLength > (uint)length || l3 < 14)
        {
            return version is 4 or 6 ? DropReason.Truncated : DropReason.NotIp;
        }

        // The parser leaves 0 (ARP, or a failed parse), 4 or 6. For 4 and 6 the byte at L3 is inside the frame
        // checked above, since the parser's IP length covers at least a whole header.
        if ((version | 2) != 6 || (Unsafe.Add(ref MemoryMarshal.GetReference(buffer), offset + l3) >> 4) != version)
        {
            return DropReason.NotIp;
        }

        if (parsed.Fragment == FragmentKind.NonFirst)
        {
            // A forwarded non-first fragment has no transport header: only its IP header is rewritten. ESP and AH
            // fragments are forwarded whatever the policy: their flow is their addresses, which every fragment carries
            // (IPVS never reassembles them, dont_defrag, and relates each fragment to the IKE connection).
            if (NonFirstFragments == FragmentPolicy.Drop && parsed.Protocol is not (L4Protocol.Esp or L4Protocol.Ah))
            {
                return DropReason.NonFirstFragment;
            }

            needsPorts = false;
        }

        if (parsed.HasIpOptions && IpOptions == IpOptionsPolicy.Drop)
        {
            return DropReason.IpOptions;
        }

        if (needsPorts)
        {
            if (parsed.Protocol is not (L4Protocol.Tcp or L4Protocol.Udp))
            {
                return parsed.Protocol switch
                {
                    L4Protocol.Sctp => parsed.L4Offset >= 0 ? SctpTranslation : DropReason.Truncated,
                    L4Protocol.Esp or L4Protocol.Ah => PortlessTranslation,
                    _ => DropReason.UnsupportedProtocol,
                };
            }

            // -1 after a parse that failed in the transport header; otherwise the whole header is inside the frame.
            if (parsed.L4Offset < 0)
            {
                return DropReason.Truncated;
            }
        }

        return DropReason.None;
    }

    /// <summary>Verifies the transport checksum of a whole (unfragmented) TCP, UDP or SCTP packet when the policy asks for it.</summary>
    /// <returns>The drop reason (<see cref="DropReason.BadInputChecksum"/> or none) and the notes to add.</returns>
    /// <remarks>
    /// Kept out of line: it is off by default and should not grow the rewriters' hot code. The notes come back in the
    /// result rather than through a <c>ref</c>, which would pin the caller's notes to its stack frame.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public (DropReason Reason, ForwardingNotes Notes) CheckInputChecksum(ReadOnlySpan<byte> frame, in ParsedFrame parsed)
    {
        if (InputChecksum == InputChecksumPolicy.Ignore || parsed.Fragment != FragmentKind.None || TransportChecksum.IsValid(frame, parsed))
        {
            return (DropReason.None, ForwardingNotes.None);
        }

        return InputChecksum == InputChecksumPolicy.VerifyAndDrop
            ? (DropReason.BadInputChecksum, ForwardingNotes.None)
            : (DropReason.None, ForwardingNotes.BadInputChecksum);
    }
}
