using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Lvs.Core.Headers;

/// <summary>A view of the fixed 40-byte IPv6 header (RFC 8200). Extension headers are walked by <see cref="Ipv6ExtensionHeaders"/>.</summary>
public readonly ref struct Ipv6Header
{
    /// <summary>The length of the fixed header.</summary>
    public const int Length = 40;

    private readonly Span<byte> _data;

    private Ipv6Header(Span<byte> data) => _data = data;

    /// <summary>
    /// Writes a new fixed header: the header of a packet the code creates (a reply, an ICMPv6 error, neighbour
    /// discovery). A Linux host labels what it originates with <see cref="Ipv6FlowLabel"/>, neighbour discovery with 0.
    /// </summary>
    /// <param name="header">At least <see cref="Length"/> bytes.</param>
    /// <param name="source">The source address.</param>
    /// <param name="destination">The destination address.</param>
    /// <param name="nextHeader">The payload's protocol.</param>
    /// <param name="payloadLength">The length of what follows the header (at most 65,535).</param>
    /// <param name="hopLimit">The hop limit.</param>
    /// <param name="trafficClass">The traffic class (DSCP and ECN).</param>
    /// <param name="flowLabel">The flow label (its low 20 bits are written); 0 for none.</param>
    /// <exception cref="ArgumentException">The span is too short or the length is out of range.</exception>
    public static void Write(Span<byte> header, InetAddress source, InetAddress destination, L4Protocol nextHeader, int payloadLength, byte hopLimit, byte trafficClass = 0, uint flowLabel = 0)
    {
        if (header.Length < Length || (uint)payloadLength > ushort.MaxValue)
        {
            throw new ArgumentException($"An IPv6 header needs {Length} bytes (has {header.Length}) and a payload of at most {ushort.MaxValue} bytes ({payloadLength}).", nameof(header));
        }

        BinaryPrimitives.WriteUInt32BigEndian(header, 0x6000_0000u | ((uint)trafficClass << 20) | (flowLabel & Ipv6FlowLabel.Mask));
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], (ushort)payloadLength);
        header[6] = (byte)nextHeader;
        header[7] = hopLimit;
        source.WriteIPv6To(header[8..]);
        destination.WriteIPv6To(header[24..]);
    }

    /// <summary>Creates a view after checking the version and that the payload length fits in the buffer.</summary>
    /// <param name="packet">The IPv6 packet (may be followed by link padding).</param>
    /// <param name="header">The view, when valid.</param>
    /// <returns>False when malformed.</returns>
    public static bool TryCreate(Span<byte> packet, out Ipv6Header header)
    {
        if (Validate(packet, checkPayloadLength: true) != DropReason.None)
        {
            header = default;
            return false;
        }

        header = new Ipv6Header(packet);
        return true;
    }

    /// <summary>Creates a view after checking only the version and the 40 header bytes (for ICMPv6-quoted headers).</summary>
    /// <param name="packet">The bytes starting at the header.</param>
    /// <param name="header">The view, when valid.</param>
    /// <returns>False when malformed.</returns>
    public static bool TryCreateHeaderOnly(Span<byte> packet, out Ipv6Header header)
    {
        if (Validate(packet, checkPayloadLength: false) != DropReason.None)
        {
            header = default;
            return false;
        }

        header = new Ipv6Header(packet);
        return true;
    }

    /// <summary>Checks an IPv6 fixed header and says what is wrong with it.</summary>
    /// <param name="packet">The bytes starting at the header.</param>
    /// <param name="checkPayloadLength">True to require the payload length to fit in the buffer.</param>
    /// <returns><see cref="DropReason.None"/> or the reason.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Validate(ReadOnlySpan<byte> packet, bool checkPayloadLength)
    {
        if (packet.Length < Length)
        {
            return DropReason.Truncated;
        }

        if (packet[0] >> 4 != 6)
        {
            return DropReason.BadIpVersion;
        }

        // A payload length of 0 announces a jumbogram (RFC 2675), which a director on Ethernet never sees.
        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
        if (checkPayloadLength && (Length + payloadLength > packet.Length || (payloadLength == 0 && packet[6] == 0)))
        {
            return DropReason.BadPayloadLength;
        }

        return DropReason.None;
    }

    /// <summary>The version field (always 6 in a valid view).</summary>
    public int Version => _data[0] >> 4;

    /// <summary>The traffic class (DSCP and ECN).</summary>
    public byte TrafficClass
    {
        get => (byte)(BinaryPrimitives.ReadUInt16BigEndian(_data) >> 4);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data, (ushort)((BinaryPrimitives.ReadUInt16BigEndian(_data) & 0xF00F) | (value << 4)));
    }

    /// <summary>The 20-bit flow label.</summary>
    public uint FlowLabel
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_data) & 0x000F_FFFF;
        set => BinaryPrimitives.WriteUInt32BigEndian(_data, (BinaryPrimitives.ReadUInt32BigEndian(_data) & 0xFFF0_0000) | (value & 0x000F_FFFF));
    }

    /// <summary>The payload length: extension headers and upper layer, in bytes.</summary>
    public ushort PayloadLength
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[4..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[4..], value);
    }

    /// <summary>The next header: the first extension header or the upper-layer protocol.</summary>
    public byte NextHeader
    {
        get => _data[6];
        set => _data[6] = value;
    }

    /// <summary>The hop limit.</summary>
    public byte HopLimit
    {
        get => _data[7];
        set => _data[7] = value;
    }

    /// <summary>The source address.</summary>
    public InetAddress Source
    {
        get => InetAddress.ReadIPv6(_data[8..]);
        set => value.WriteIPv6To(_data[8..]);
    }

    /// <summary>The destination address.</summary>
    public InetAddress Destination
    {
        get => InetAddress.ReadIPv6(_data[24..]);
        set => value.WriteIPv6To(_data[24..]);
    }

    /// <summary>The 40 header bytes.</summary>
    public Span<byte> Bytes => _data[..Length];

    /// <summary>The payload as delimited by the payload length (clipped to the buffer for header-only views).</summary>
    public Span<byte> Payload => _data[Length..Math.Min(_data.Length, Length + PayloadLength)];
}
