using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Lvs.Core.Headers;

/// <summary>A view of an IPv4 header (RFC 791), options included. Fields are in network byte order in the buffer.</summary>
/// <remarks>
/// <see cref="TryCreate"/> checks the version, that IHL is at least 5, that the header fits, and that the
/// total length covers the header and fits in the buffer (trailing bytes such as Ethernet padding are
/// allowed). <see cref="TryCreateHeaderOnly"/> checks only the header itself: it is for the IP header quoted
/// inside an ICMP error, whose total length describes the original, longer packet.
/// Setters do not update <see cref="HeaderChecksum"/>; use the incremental helpers or <see cref="UpdateChecksum"/>.
/// </remarks>
public readonly ref struct Ipv4Header
{
    /// <summary>The length of a header without options.</summary>
    public const int MinLength = 20;

    /// <summary>The largest header, with 40 bytes of options (IHL 15).</summary>
    public const int MaxLength = 60;

    private readonly Span<byte> _data;

    private Ipv4Header(Span<byte> data) => _data = data;

    /// <summary>
    /// Writes a new header without options (IHL 5), fragment offset 0, and its checksum: the header of a packet the code
    /// creates (a reply, an ICMP error, a probe).
    /// </summary>
    /// <param name="header">At least <see cref="MinLength"/> bytes.</param>
    /// <param name="source">The source address (IPv4).</param>
    /// <param name="destination">The destination address (IPv4).</param>
    /// <param name="protocol">The payload's protocol.</param>
    /// <param name="payloadLength">The length of what follows the header (at most 65,515).</param>
    /// <param name="ttl">The time to live.</param>
    /// <param name="typeOfService">The DSCP and ECN byte.</param>
    /// <param name="identification">The identification.</param>
    /// <param name="dontFragment">True to set DF.</param>
    /// <exception cref="ArgumentException">The span is too short, an address is not IPv4, or the length is out of range.</exception>
    public static void Write(Span<byte> header, InetAddress source, InetAddress destination, L4Protocol protocol, int payloadLength, byte ttl, byte typeOfService = 0, ushort identification = 0, bool dontFragment = true)
    {
        if (header.Length < MinLength || !source.IsIPv4 || !destination.IsIPv4 || (uint)payloadLength > ushort.MaxValue - MinLength)
        {
            throw new ArgumentException($"An IPv4 header needs {MinLength} bytes (has {header.Length}), IPv4 addresses ({source}, {destination}) and a payload of at most {ushort.MaxValue - MinLength} bytes ({payloadLength}).", nameof(header));
        }

        header[0] = 0x45;
        header[1] = typeOfService;
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(MinLength + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], identification);
        BinaryPrimitives.WriteUInt16BigEndian(header[6..], dontFragment ? (ushort)0x4000 : (ushort)0);
        header[8] = ttl;
        header[9] = (byte)protocol;
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(header[12..], source.IPv4Value);
        BinaryPrimitives.WriteUInt32BigEndian(header[16..], destination.IPv4Value);
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], Checksum.Compute(header[..MinLength]));
    }

    /// <summary>Creates a view after validating version, IHL and total length against the buffer.</summary>
    /// <param name="packet">The IP packet (may be followed by link padding).</param>
    /// <param name="header">The view, when valid.</param>
    /// <returns>False when the header is malformed or does not fit.</returns>
    public static bool TryCreate(Span<byte> packet, out Ipv4Header header) =>
        Validate(packet, checkTotalLength: true) == DropReason.None ? Assign(packet, out header) : Fail(out header);

    /// <summary>Creates a view after validating only the version, IHL and that the header itself fits (for ICMP-quoted headers).</summary>
    /// <param name="packet">The bytes starting at the header.</param>
    /// <param name="header">The view, when valid.</param>
    /// <returns>False when the header is malformed or does not fit.</returns>
    public static bool TryCreateHeaderOnly(Span<byte> packet, out Ipv4Header header) =>
        Validate(packet, checkTotalLength: false) == DropReason.None ? Assign(packet, out header) : Fail(out header);

    /// <summary>Checks an IPv4 header and says what is wrong with it.</summary>
    /// <param name="packet">The bytes starting at the header.</param>
    /// <param name="checkTotalLength">True to require the total length to cover the header and fit in the buffer.</param>
    /// <returns><see cref="DropReason.None"/> or the reason the header is malformed.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Validate(ReadOnlySpan<byte> packet, bool checkTotalLength)
    {
        if (packet.Length < MinLength)
        {
            return DropReason.Truncated;
        }

        if (packet[0] >> 4 != 4)
        {
            return DropReason.BadIpVersion;
        }

        int headerLength = (packet[0] & 0x0F) * 4;
        if (headerLength < MinLength)
        {
            return DropReason.BadIhl;
        }

        if (headerLength > packet.Length)
        {
            return DropReason.Truncated;
        }

        if (checkTotalLength)
        {
            int totalLength = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
            if (totalLength < headerLength || totalLength > packet.Length)
            {
                return DropReason.BadTotalLength;
            }
        }

        return DropReason.None;
    }

    /// <summary>The version field (always 4 in a valid view).</summary>
    public int Version => _data[0] >> 4;

    /// <summary>The internet header length in 32-bit words (5 to 15).</summary>
    public int Ihl => _data[0] & 0x0F;

    /// <summary>The header length in bytes (IHL x 4).</summary>
    public int HeaderLength => (_data[0] & 0x0F) * 4;

    /// <summary>True when the header carries options (IHL above 5).</summary>
    public bool HasOptions => (_data[0] & 0x0F) > 5;

    /// <summary>The type-of-service byte (DSCP and ECN).</summary>
    public byte TypeOfService
    {
        get => _data[1];
        set => _data[1] = value;
    }

    /// <summary>The total length of the packet in bytes.</summary>
    public ushort TotalLength
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[2..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[2..], value);
    }

    /// <summary>The identification field.</summary>
    public ushort Identification
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[4..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[4..], value);
    }

    /// <summary>The flags and fragment offset word (bit 14 DF, bit 13 MF, low 13 bits the offset in 8-byte units).</summary>
    public ushort FlagsAndFragmentOffset
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[6..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[6..], value);
    }

    /// <summary>The don't-fragment flag.</summary>
    public bool DontFragment => (FlagsAndFragmentOffset & 0x4000) != 0;

    /// <summary>The more-fragments flag.</summary>
    public bool MoreFragments => (FlagsAndFragmentOffset & 0x2000) != 0;

    /// <summary>The fragment offset in bytes.</summary>
    public int FragmentOffset => (FlagsAndFragmentOffset & 0x1FFF) * 8;

    /// <summary>True when this packet is a fragment (first or not): MF set or a non-zero offset.</summary>
    public bool IsFragment => (FlagsAndFragmentOffset & 0x3FFF) != 0;

    /// <summary>The time to live.</summary>
    public byte Ttl
    {
        get => _data[8];
        set => _data[8] = value;
    }

    /// <summary>The protocol of the payload.</summary>
    public L4Protocol Protocol
    {
        get => (L4Protocol)_data[9];
        set => _data[9] = (byte)value;
    }

    /// <summary>The header checksum.</summary>
    public ushort HeaderChecksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[10..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[10..], value);
    }

    /// <summary>The source address as a host-order number.</summary>
    public uint SourceValue
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_data[12..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_data[12..], value);
    }

    /// <summary>The destination address as a host-order number.</summary>
    public uint DestinationValue
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_data[16..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_data[16..], value);
    }

    /// <summary>The source address.</summary>
    public InetAddress Source
    {
        get => InetAddress.FromIPv4(SourceValue);
        set => SourceValue = value.IPv4Value;
    }

    /// <summary>The destination address.</summary>
    public InetAddress Destination
    {
        get => InetAddress.FromIPv4(DestinationValue);
        set => DestinationValue = value.IPv4Value;
    }

    /// <summary>The option bytes (empty when IHL is 5).</summary>
    public Span<byte> Options => _data[MinLength..HeaderLength];

    /// <summary>The header bytes, options included.</summary>
    public Span<byte> Bytes => _data[..HeaderLength];

    /// <summary>The payload as delimited by the total length (for a header-only view, what the buffer holds after the header, up to the total length).</summary>
    public Span<byte> Payload => _data[HeaderLength..Math.Min(_data.Length, Math.Max(HeaderLength, (int)TotalLength))];

    /// <summary>True when the stored header checksum is correct.</summary>
    public bool IsChecksumValid => Checksum.IsValid(Bytes);

    /// <summary>Recomputes the header checksum in full (for headers the code creates).</summary>
    public void UpdateChecksum()
    {
        HeaderChecksum = 0;
        HeaderChecksum = Checksum.Compute(Bytes);
    }

    /// <summary>Sets the source address and patches the header checksum incrementally (RFC 1624).</summary>
    /// <param name="address">The new IPv4 source.</param>
    public void SetSourceAndUpdateChecksum(uint address)
    {
        HeaderChecksum = Checksum.Update32(HeaderChecksum, SourceValue, address);
        SourceValue = address;
    }

    /// <summary>Sets the destination address and patches the header checksum incrementally (RFC 1624).</summary>
    /// <param name="address">The new IPv4 destination.</param>
    public void SetDestinationAndUpdateChecksum(uint address)
    {
        HeaderChecksum = Checksum.Update32(HeaderChecksum, DestinationValue, address);
        DestinationValue = address;
    }

    /// <summary>Decrements the TTL by one and patches the checksum (RFC 1624 section 5, as ip_decrease_ttl).</summary>
    /// <returns>False, changing nothing, when the TTL is 1 or 0: the packet must not be forwarded.</returns>
    public bool TryDecrementTtl()
    {
        byte ttl = Ttl;
        if (ttl <= 1)
        {
            return false;
        }

        // TTL is the high byte of the 16-bit word it shares with the protocol.
        HeaderChecksum = Checksum.Update16(HeaderChecksum, (ushort)(ttl << 8 | _data[9]), (ushort)((ttl - 1) << 8 | _data[9]));
        Ttl = (byte)(ttl - 1);
        return true;
    }

    private static bool Assign(Span<byte> packet, out Ipv4Header header)
    {
        header = new Ipv4Header(packet);
        return true;
    }

    private static bool Fail(out Ipv4Header header)
    {
        header = default;
        return false;
    }
}
