using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>The steps NAT and FULLNAT share around <see cref="AddressTranslation.Rewrite"/>: checks, TTL expiry, checksum policy, MACs.</summary>
internal static class NatCore
{
    /// <summary>Translates a frame whose endpoints' family the caller has checked against the packet.</summary>
    /// <param name="policy">The rewriter's policy.</param>
    /// <param name="buffer">The buffer.</param>
    /// <param name="offset">The frame offset.</param>
    /// <param name="length">The frame length.</param>
    /// <param name="parsed">The parse result.</param>
    /// <param name="natOutbound">
    /// True for NAT's real server to client: an ICMP time exceeded then comes from the director's address towards the
    /// real server (<see cref="ForwardingOptions.RealServerLinkIPv4"/>, as the kernel's icmp_send from ip_forward picks
    /// it; the new source, the VIP, when not configured). Otherwise it comes from the packet's destination, an address
    /// the director owns (the VIP inbound, the local address of a FULLNAT reply), as icmp_send picks a local destination.
    /// </param>
    /// <param name="changeSource">False to keep the source (NAT inbound).</param>
    /// <param name="source">The new source endpoint.</param>
    /// <param name="destination">The new destination endpoint.</param>
    /// <param name="sourceMac">The egress MAC.</param>
    /// <param name="nextHopMac">The next hop's MAC.</param>
    /// <param name="mtu">The egress MTU (<see cref="EgressPath"/>).</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ForwardingVerdict Translate(
        in RewritePolicy policy, Span<byte> buffer, int offset, int length, in ParsedFrame parsed,
        bool natOutbound, bool changeSource, in InetEndpoint source, in InetEndpoint destination, MacAddress sourceMac, MacAddress nextHopMac, int mtu)
    {
        DropReason reason = policy.Check(buffer, offset, length, parsed, needsPorts: true);
        if (reason != DropReason.None)
        {
            return reason switch
            {
                RewritePolicy.SctpTranslation => TranslateSctp(policy, buffer, offset, length, parsed, natOutbound, changeSource, source, destination, sourceMac, nextHopMac, mtu),
                RewritePolicy.PortlessTranslation => TranslateRare(policy, buffer, offset, length, parsed, natOutbound, changeSource, source, destination, sourceMac, nextHopMac, mtu),
                _ => ForwardingVerdict.Drop(reason),
            };
        }

        // From here on the offsets are the ones Check proved to lie inside the frame.
        ref byte frame = ref Unsafe.Add(ref MemoryMarshal.GetReference(buffer), offset);
        bool decrement = policy.DecrementHopLimit;
        if (policy.InputChecksum != InputChecksumPolicy.Ignore || parsed.Fragment == FragmentKind.NonFirst
            || EgressPath.IsRare(ref Unsafe.Add(ref frame, parsed.L3Offset), parsed, decrement, mtu))
        {
            // The rare cases (checksum verification asked for, a non-first fragment the policy forwards, a packet
            // about to expire or over the egress MTU) go out of line, reached by a return: with no call on the common
            // path, the JIT keeps it in scratch registers, with fewer saved registers and spills (docs/forwarding.md,
            // "Hot path").
            return TranslateRare(policy, buffer, offset, length, parsed, natOutbound, changeSource, source, destination, sourceMac, nextHopMac, mtu);
        }

        return Rewrite(ref frame, offset, parsed, parsed.L4Offset, changeSource, source, destination, decrement, sourceMac, nextHopMac, ForwardingNotes.None);
    }

    /// <summary>
    /// <see cref="Translate"/> after its checks, when the input checksum is to be verified, the packet is a non-first
    /// fragment (forwarded by policy) or an ESP or AH packet (<see cref="RewritePolicy.PortlessTranslation"/>), the TTL
    /// would expire or the packet exceeds the egress MTU. A non-first fragment and ESP and AH have no ports: only their
    /// IP header is rewritten.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ForwardingVerdict TranslateRare(
        in RewritePolicy policy, Span<byte> buffer, int offset, int length, in ParsedFrame parsed,
        bool natOutbound, bool changeSource, in InetEndpoint source, in InetEndpoint destination, MacAddress sourceMac, MacAddress nextHopMac, int mtu)
    {
        if (!TryPassChecks(policy, buffer, offset, length, parsed, natOutbound, source, mtu, out var notes, out bool fragment, out var refusal))
        {
            return refusal;
        }

        ref byte frame = ref Unsafe.Add(ref MemoryMarshal.GetReference(buffer), offset);
        bool decrement = policy.DecrementHopLimit;
        bool nonFirst = parsed.Fragment == FragmentKind.NonFirst;
        bool portless = nonFirst || parsed.Protocol is L4Protocol.Esp or L4Protocol.Ah;
        var verdict = Rewrite(ref frame, offset, parsed, portless ? -1 : parsed.L4Offset, changeSource, source, destination, decrement, sourceMac, nextHopMac, nonFirst ? notes | ForwardingNotes.NonFirstFragment : notes);
        return fragment ? EgressPath.Fragment(buffer, verdict, parsed.L3Offset, mtu, offset + length) : verdict;
    }

    /// <summary>
    /// <see cref="Translate"/> for SCTP, after <see cref="RewritePolicy.Check"/>: the addresses, TTL and IPv4 header
    /// checksum as for TCP, the ports, and, when a port changed, the CRC32c of the whole SCTP packet computed afresh
    /// (the kernel's <c>sctp_snat_handler</c> / <c>sctp_dnat_handler</c>, which recompute it only then). A first
    /// fragment is dropped (<see cref="DropReason.FragmentedSctp"/>): its checksum covers bytes it does not hold.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ForwardingVerdict TranslateSctp(
        in RewritePolicy policy, Span<byte> buffer, int offset, int length, in ParsedFrame parsed,
        bool natOutbound, bool changeSource, in InetEndpoint source, in InetEndpoint destination, MacAddress sourceMac, MacAddress nextHopMac, int mtu)
    {
        if (parsed.Fragment != FragmentKind.None)
        {
            return ForwardingVerdict.Drop(DropReason.FragmentedSctp);
        }

        if (!TryPassChecks(policy, buffer, offset, length, parsed, natOutbound, source, mtu, out var notes, out bool fragment, out var refusal))
        {
            return refusal;
        }

        // Check proved the frame up to FrameLength inside the buffer and the parser a 12-byte common header in it.
        ref byte frame = ref Unsafe.Add(ref MemoryMarshal.GetReference(buffer), offset);
        AddressTranslation.Rewrite(ref frame, parsed.L3Offset, -1, parsed.IpVersion == 4, tcp: false, changeSource, source, destination, policy.DecrementHopLimit);
        Span<byte> sctp = buffer.Slice(offset + parsed.L4Offset, parsed.FrameLength - parsed.L4Offset);
        uint oldPorts = BinaryPrimitives.ReadUInt32BigEndian(sctp);
        uint newPorts = changeSource ? (uint)source.Port << 16 | destination.Port : (oldPorts & 0xFFFF0000u) | destination.Port;
        if (newPorts != oldPorts)
        {
            BinaryPrimitives.WriteUInt32BigEndian(sctp, newPorts);
            SctpChecksum.Write(sctp);
        }

        EthernetRewrite.SetAddresses(ref frame, sourceMac, nextHopMac);
        var verdict = ForwardingVerdict.Transmit(offset, parsed.FrameLength, notes);
        return fragment ? EgressPath.Fragment(buffer, verdict, parsed.L3Offset, mtu, offset + length) : verdict;
    }

    /// <summary>
    /// The checks of the rare paths before a rewrite: the input checksum when it is to be verified, then the egress path
    /// (TTL, MTU), whose ICMP errors come from the director's address on the real servers' link for outbound NAT and
    /// from the address the packet was sent to otherwise.
    /// </summary>
    private static bool TryPassChecks(
        in RewritePolicy policy, Span<byte> buffer, int offset, int length, in ParsedFrame parsed, bool natOutbound, in InetEndpoint source, int mtu,
        out ForwardingNotes notes, out bool fragment, out ForwardingVerdict refusal)
    {
        notes = ForwardingNotes.None;
        fragment = false;
        if (policy.InputChecksum != InputChecksumPolicy.Ignore)
        {
            DropReason reason;
            (reason, notes) = policy.CheckInputChecksum(buffer.Slice(offset, parsed.FrameLength), parsed);
            if (reason != DropReason.None)
            {
                refusal = ForwardingVerdict.Drop(reason);
                return false;
            }
        }

        InetAddress icmpSource = natOutbound
            ? (parsed.IpVersion == 4 ? policy.RealServerLinkIPv4 : policy.RealServerLinkIPv6) ?? source.Address
            : parsed.Flow.DestinationAddress;
        return EgressPath.TryPass(policy, buffer, offset, length, parsed, mtu, icmpSource, forwarded: natOutbound, out refusal, out fragment);
    }

    /// <summary>The rewrite proper, once the checks have passed: addresses, ports (at <paramref name="l4"/>; none when -1), checksums, TTL, MACs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ForwardingVerdict Rewrite(
        ref byte frame, int offset, in ParsedFrame parsed, int l4, bool changeSource, in InetEndpoint source, in InetEndpoint destination,
        bool decrement, MacAddress sourceMac, MacAddress nextHopMac, ForwardingNotes notes)
    {
        AddressTranslation.Rewrite(
            ref frame, parsed.L3Offset, l4, parsed.IpVersion == 4, parsed.Protocol == L4Protocol.Tcp, changeSource, source, destination, decrement);
        EthernetRewrite.SetAddresses(ref frame, sourceMac, nextHopMac);
        return ForwardingVerdict.Transmit(offset, parsed.FrameLength, notes);
    }
}
