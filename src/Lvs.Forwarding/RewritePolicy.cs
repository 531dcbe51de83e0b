using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// The options a rewriter copied at construction, and the checks every rewrite starts with. The checks re-read the
/// few bytes they rely on from the buffer instead of trusting the <see cref="ParsedFrame"/> alone, so a parse result
/// that does not belong to the buffer gives a drop reason, never an out-of-range write.
/// </summary>
internal readonly struct RewritePolicy
{
    public RewritePolicy(ForwardingOptions? options)
    {
        options ??= ForwardingOptions.Default;
        if (options.Mtu is < 68 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Mtu, "The MTU must be between 68 and 65535.");
        }

        DecrementHopLimit = options.DecrementHopLimit;
        InputChecksum = options.InputChecksum;
        NonFirstFragments = options.NonFirstFragments;
        IpOptions = options.IpOptions;
        Mtu = options.Mtu;
        IcmpHopLimit = options.IcmpHopLimit;
        InsertToa = options.InsertToa;
    }

    public bool InsertToa { get; }

    public bool DecrementHopLimit { get; }

    public InputChecksumPolicy InputChecksum { get; }

    public FragmentPolicy NonFirstFragments { get; }

    public IpOptionsPolicy IpOptions { get; }

    public int Mtu { get; }

    public byte IcmpHopLimit { get; }

    /// <summary>The checks shared by every rewriter: bounds, IP version, fragments, options, and (for NAT) a transport header with ports.</summary>
    /// <remarks>
    /// After it returns <see cref="ForwardingDropReason.None"/>: the frame up to <see cref="ParsedFrame.FrameLength"/> lies
    /// in the buffer, holds a link header of at least 14 bytes and a whole IPv4 (20+) or IPv6 (40+) header of the
    /// parsed version; with <paramref name="needsPorts"/>, a TCP (20+) or UDP (8+) header at
    /// <see cref="ParsedFrame.L4Offset"/>, unless the packet is a non-first fragment forwarded by policy.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ForwardingDropReason Check(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, bool needsPorts)
    {
        int l3 = parsed.L3Offset;
        int version = parsed.IpVersion;
        int frameLength = parsed.FrameLength;
        if ((uint)offset > (uint)buffer.Length
            || (uint)length > (uint)(buffer.Length - offset)
            || (uint)frameLength > (uint)length
            || l3 < 14
            || parsed.L3Length < (version == 4 ? 20 : 40))
        {
            return version is 4 or 6 ? ForwardingDropReason.Truncated : ForwardingDropReason.NotIp;
        }

        if ((buffer[offset + l3] >> 4) != version || version is not (4 or 6))
        {
            return ForwardingDropReason.NotIp;
        }

        if (parsed.Fragment == FragmentKind.NonFirst)
        {
            // A forwarded non-first fragment has no transport header: only its IP header is rewritten.
            if (NonFirstFragments == FragmentPolicy.Drop)
            {
                return ForwardingDropReason.NonFirstFragment;
            }

            needsPorts = false;
        }

        if (parsed.HasIpOptions && IpOptions == IpOptionsPolicy.Drop)
        {
            return ForwardingDropReason.IpOptions;
        }

        if (needsPorts)
        {
            int minimum = parsed.Protocol == L4Protocol.Tcp ? 20 : parsed.Protocol == L4Protocol.Udp ? 8 : 0;
            if (minimum == 0)
            {
                return ForwardingDropReason.UnsupportedProtocol;
            }

            int l4 = parsed.L4Offset;
            if (l4 < l3 + 20 || l4 > frameLength - minimum)
            {
                return ForwardingDropReason.Truncated;
            }
        }

        return ForwardingDropReason.None;
    }

    /// <summary>Verifies the transport checksum of a whole (unfragmented) TCP or UDP packet when the policy asks for it.</summary>
    /// <remarks>Kept out of line: it is off by default and should not grow the rewriters' hot code.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public ForwardingDropReason CheckInputChecksum(ReadOnlySpan<byte> frame, in ParsedFrame parsed, ref ForwardingNotes notes)
    {
        if (InputChecksum == InputChecksumPolicy.Ignore || parsed.Fragment != FragmentKind.None || IsChecksumValid(frame, parsed))
        {
            return ForwardingDropReason.None;
        }

        if (InputChecksum == InputChecksumPolicy.VerifyAndDrop)
        {
            return ForwardingDropReason.BadInputChecksum;
        }

        notes |= ForwardingNotes.BadInputChecksum;
        return ForwardingDropReason.None;
    }

    private static bool IsChecksumValid(ReadOnlySpan<byte> frame, in ParsedFrame parsed)
    {
        int l3 = parsed.L3Offset;
        int end = parsed.FrameLength;
        ReadOnlySpan<byte> segment = frame[parsed.L4Offset..end];
        if (parsed.Protocol == L4Protocol.Udp && parsed.IpVersion == 4 && BinaryPrimitives.ReadUInt16BigEndian(segment[6..]) == 0)
        {
            return true; // RFC 768: no checksum was computed.
        }

        IpAddress source;
        IpAddress destination;
        if (parsed.IpVersion == 4)
        {
            source = IpAddress.ReadIPv4(frame[(l3 + 12)..]);
            destination = IpAddress.ReadIPv4(frame[(l3 + 16)..]);
        }
        else
        {
            source = IpAddress.ReadIPv6(frame[(l3 + 8)..]);
            destination = IpAddress.ReadIPv6(frame[(l3 + 24)..]);
        }

        return Checksum.IsValid(segment, Checksum.PseudoHeaderSum(source, destination, parsed.Protocol, segment.Length));
    }
}
