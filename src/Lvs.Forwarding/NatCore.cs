using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>The steps NAT and FULLNAT share around <see cref="AddressTranslation.Rewrite"/>: checks, TTL expiry, checksum policy, MACs.</summary>
internal static class NatCore
{
    /// <param name="policy">The rewriter's policy.</param>
    /// <param name="buffer">The buffer.</param>
    /// <param name="offset">The frame offset.</param>
    /// <param name="length">The frame length.</param>
    /// <param name="parsed">The parse result.</param>
    /// <param name="source">The new source endpoint.</param>
    /// <param name="destination">The new destination endpoint.</param>
    /// <param name="icmpSource">A director-owned address to send an ICMP time exceeded from.</param>
    /// <param name="sourceMac">The egress MAC.</param>
    /// <param name="nextHopMac">The next hop's MAC.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ForwardingVerdict Translate(
        in RewritePolicy policy, Span<byte> buffer, int offset, int length, in ParsedFrame parsed,
        Endpoint source, Endpoint destination, IpAddress icmpSource, MacAddress sourceMac, MacAddress nextHopMac)
    {
        ForwardingDropReason reason = policy.Check(buffer, offset, length, parsed, needsPorts: true);
        if (reason != ForwardingDropReason.None)
        {
            return ForwardingVerdict.Drop(reason);
        }

        if (source.Address.IsIPv4 != (parsed.IpVersion == 4))
        {
            return ForwardingVerdict.Drop(ForwardingDropReason.AddressFamilyMismatch);
        }

        Span<byte> frame = buffer.Slice(offset, length);
        var notes = ForwardingNotes.None;
        if (policy.InputChecksum != InputChecksumPolicy.Ignore)
        {
            reason = policy.CheckInputChecksum(frame, parsed, ref notes);
            if (reason != ForwardingDropReason.None)
            {
                return ForwardingVerdict.Drop(reason);
            }
        }

        bool decrement = policy.DecrementHopLimit;
        if (decrement && AddressTranslation.HopLimit(frame[parsed.L3Offset..], parsed.IpVersion) <= 1)
        {
            return IcmpErrorBuilder.TimeExceeded(buffer, offset, parsed, icmpSource, policy.IcmpHopLimit);
        }

        AddressTranslation.Rewrite(frame, parsed, source, destination, decrement);
        EthernetRewrite.SetAddresses(frame, sourceMac, nextHopMac);
        if (parsed.Fragment == FragmentKind.NonFirst)
        {
            notes |= ForwardingNotes.NonFirstFragment;
        }

        return ForwardingVerdict.Transmit(offset, parsed.FrameLength, notes);
    }
}
