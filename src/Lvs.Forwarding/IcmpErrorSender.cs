using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Forwarding;

/// <summary>
/// The ICMP errors a rewriter answers with, built by <see cref="IcmpErrorBuilder"/> with the rewriter's settings: the
/// hop limit, the identification of IPv4 errors, and the rate limit (an error the limiter refuses is not built: the
/// packet is dropped with the error's reason and the note <see cref="ForwardingNotes.IcmpErrorRateLimited"/>).
/// </summary>
internal readonly struct IcmpErrorSender
{
    private readonly IcmpRateLimiter? _limiter;
    private readonly IpIdentification _identification;
    private readonly byte _hopLimit;

    public IcmpErrorSender(IcmpRateLimiter? limiter, IpIdentification identification, byte hopLimit)
    {
        _limiter = limiter;
        _identification = identification;
        _hopLimit = hopLimit;
    }

    /// <summary>ICMP time exceeded (type 11 code 0) / ICMPv6 time exceeded (type 3 code 0), rate limited.</summary>
    public ForwardingVerdict TimeExceeded(Span<byte> buffer, int offset, in ParsedFrame parsed, InetAddress source)
    {
        bool ipv4 = parsed.IpVersion == 4;
        if (!Allowed(parsed, ipv4 ? IcmpHeader.TypeTimeExceeded : IcmpV6Header.TypeTimeExceeded, 0))
        {
            return ForwardingVerdict.Drop(DropReason.HopLimitExceeded, ForwardingNotes.IcmpErrorRateLimited);
        }

        return IcmpErrorBuilder.TimeExceeded(buffer, offset, parsed, source, _hopLimit, _identification);
    }

    /// <summary>ICMP fragmentation needed / ICMPv6 packet too big: never rate limited (PMTU discovery depends on it).</summary>
    public ForwardingVerdict PacketTooBig(Span<byte> buffer, int offset, in ParsedFrame parsed, InetAddress source, int mtu) =>
        IcmpErrorBuilder.PacketTooBig(buffer, offset, parsed, source, _hopLimit, mtu, _identification);

    /// <summary>ICMP port unreachable (type 3 code 3) / ICMPv6 port unreachable (type 1 code 4), rate limited.</summary>
    public ForwardingVerdict PortUnreachable(Span<byte> buffer, int offset, in ParsedFrame parsed, InetAddress source, DropReason reason)
    {
        bool ipv4 = parsed.IpVersion == 4;
        if (!Allowed(parsed, ipv4 ? IcmpHeader.TypeDestinationUnreachable : IcmpV6Header.TypeDestinationUnreachable, ipv4 ? (byte)3 : (byte)4))
        {
            return ForwardingVerdict.Drop(reason, ForwardingNotes.IcmpErrorRateLimited);
        }

        return IcmpErrorBuilder.PortUnreachable(buffer, offset, parsed, source, _hopLimit, reason, _identification);
    }

    /// <summary>ICMP protocol unreachable (type 3 code 2) / ICMPv6 parameter problem (type 4 code 1) pointing at <paramref name="pointer"/>, rate limited.</summary>
    public ForwardingVerdict ProtocolUnreachable(Span<byte> buffer, int offset, in ParsedFrame parsed, InetAddress source, int pointer, DropReason reason)
    {
        bool ipv4 = parsed.IpVersion == 4;
        if (!Allowed(parsed, ipv4 ? IcmpHeader.TypeDestinationUnreachable : IcmpV6Header.TypeParameterProblem, ipv4 ? (byte)2 : (byte)1))
        {
            return ForwardingVerdict.Drop(reason, ForwardingNotes.IcmpErrorRateLimited);
        }

        return IcmpErrorBuilder.ProtocolUnreachable(buffer, offset, parsed, source, _hopLimit, pointer, reason, _identification);
    }

    /// <summary>Whether the limiter lets an error about the frame go to its sender; an error that would not be built anyway (about an ICMP error or a non-first fragment) takes no credit.</summary>
    private bool Allowed(in ParsedFrame parsed, byte type, byte code) =>
        _limiter is null || parsed.IsIcmpError || parsed.Fragment == FragmentKind.NonFirst
        || _limiter.TryAcquire(parsed.Flow.SourceAddress, type, code);
}
