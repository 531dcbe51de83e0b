using System.Buffers.Binary;

namespace Lvs.Core.Headers;

/// <summary>What walking an IPv6 extension-header chain found.</summary>
public readonly struct Ipv6UpperLayer
{
    internal Ipv6UpperLayer(L4Protocol protocol, int offset, int headersLength, int headerCount, bool isFragment, int fragmentOffset, bool moreFragments, uint fragmentId, int lastHeader)
    {
        Protocol = protocol;
        NextHeaderFieldOffset = headerCount == 0 ? 6 : Ipv6Header.Length + lastHeader;
        Offset = offset;
        HeadersLength = headersLength;
        HeaderCount = headerCount;
        IsFragment = isFragment;
        FragmentOffset = fragmentOffset;
        MoreFragments = moreFragments;
        FragmentIdentification = fragmentId;
    }

    /// <summary>The upper-layer protocol (for a non-first fragment, the protocol its fragment header names).</summary>
    public L4Protocol Protocol { get; }

    /// <summary>The offset of the upper-layer header from the start of the IPv6 payload; -1 for a non-first fragment (see <see cref="HeadersLength"/>).</summary>
    public int Offset { get; }

    /// <summary>The bytes of extension headers walked, the fragment header included (equal to <see cref="Offset"/> except for a non-first fragment).</summary>
    public int HeadersLength { get; }

    /// <summary>How many extension headers precede the upper layer.</summary>
    public int HeaderCount { get; }

    /// <summary>
    /// Where the Next Header field that names <see cref="Protocol"/> lies, from the start of the IPv6 header: 6 (the
    /// fixed header's) with no extension header, else the first byte of the last extension header. It is the pointer
    /// of an ICMPv6 parameter problem about an unrecognised next header (RFC 4443 section 3.4).
    /// </summary>
    public int NextHeaderFieldOffset { get; }

    /// <summary>True when a fragment header was found (RFC 8200 section 4.5).</summary>
    public bool IsFragment { get; }

    /// <summary>The fragment offset in bytes (0 for the first fragment).</summary>
    public int FragmentOffset { get; }

    /// <summary>The M (more fragments) flag.</summary>
    public bool MoreFragments { get; }

    /// <summary>The fragment identification.</summary>
    public uint FragmentIdentification { get; }

    /// <summary>True for a fragment other than the first: it carries no upper-layer header.</summary>
    public bool IsNonFirstFragment => IsFragment && FragmentOffset != 0;
}

/// <summary>Walks the IPv6 extension-header chain (RFC 8200 section 4) to the upper layer, with a bound on the walk.</summary>
public static class Ipv6ExtensionHeaders
{
    /// <summary>
    /// The most extension headers walked. RFC 8200 section 4.1 allows each header once (destination options
    /// twice), so a legitimate chain has at most 8; a longer one is an attack on the parser.
    /// </summary>
    public const int MaxHeaders = 8;

    /// <summary>
    /// True when <paramref name="nextHeader"/> names an extension header this walker steps over: those the kernel's
    /// <c>ipv6_ext_hdr</c> names, which IPVS steps over to find a packet's protocol (<c>ipv6_find_hdr</c>). Mobility
    /// (135), HIP (139) and shim6 (140) are extension headers in RFC 8200's list but not to the kernel: a packet with
    /// one is of that protocol, which IPVS leaves to the host (and a host without a handler answers with a parameter
    /// problem).
    /// </summary>
    /// <param name="nextHeader">A next-header value.</param>
    /// <returns>True for hop-by-hop, routing, fragment, destination options and AH.</returns>
    public static bool IsExtensionHeader(byte nextHeader) =>
        nextHeader is 0 or 43 or 44 or 60 or 51;

    /// <summary>Walks the chain that starts with <paramref name="nextHeader"/> at the start of <paramref name="payload"/>.</summary>
    /// <param name="payload">The IPv6 payload (after the fixed header, bounded by the payload length).</param>
    /// <param name="nextHeader">The fixed header's next-header value.</param>
    /// <param name="upperLayer">Where the upper layer starts, when the chain is valid.</param>
    /// <returns><see cref="DropReason.None"/>, <see cref="DropReason.BadExtensionChain"/> or <see cref="DropReason.ExtensionChainTooLong"/>.</returns>
    public static DropReason Walk(ReadOnlySpan<byte> payload, byte nextHeader, out Ipv6UpperLayer upperLayer)
    {
        int offset = 0;
        int count = 0;
        bool isFragment = false;
        int fragmentOffset = 0;
        bool more = false;
        uint id = 0;
        int last = 0;
        while (IsExtensionHeader(nextHeader))
        {
            if (count == MaxHeaders)
            {
                upperLayer = default;
                return DropReason.ExtensionChainTooLong;
            }

            if (payload.Length - offset < 8)
            {
                upperLayer = default;
                return DropReason.BadExtensionChain;
            }

            byte following = payload[offset];
            int length;
            if (nextHeader == 44)
            {
                // Fragment header: fixed 8 bytes; after a non-first fragment there is no upper-layer header.
                ushort offsetAndFlags = BinaryPrimitives.ReadUInt16BigEndian(payload[(offset + 2)..]);
                isFragment = true;
                fragmentOffset = (offsetAndFlags >> 3) * 8;
                more = (offsetAndFlags & 1) != 0;
                id = BinaryPrimitives.ReadUInt32BigEndian(payload[(offset + 4)..]);
                if (fragmentOffset != 0)
                {
                    upperLayer = new Ipv6UpperLayer((L4Protocol)following, -1, offset + 8, count + 1, true, fragmentOffset, more, id, offset);
                    return DropReason.None;
                }

                length = 8;
            }
            else if (nextHeader == 51)
            {
                // AH counts its length in 4-byte units minus 2 (RFC 4302 section 2.2).
                length = (payload[offset + 1] + 2) * 4;
            }
            else
            {
                length = (payload[offset + 1] + 1) * 8;
            }

            if (length > payload.Length - offset)
            {
                upperLayer = default;
                return DropReason.BadExtensionChain;
            }

            last = offset;
            offset += length;
            nextHeader = following;
            count++;
        }

        upperLayer = new Ipv6UpperLayer((L4Protocol)nextHeader, offset, offset, count, isFragment, fragmentOffset, more, id, last);
        return DropReason.None;
    }
}
