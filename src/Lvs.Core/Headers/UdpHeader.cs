using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Lvs.Core.Headers;

/// <summary>A view of a UDP header (RFC 768).</summary>
public readonly ref struct UdpHeader
{
    /// <summary>The header length.</summary>
    public const int Length = 8;

    private readonly Span<byte> _data;

    private UdpHeader(Span<byte> data) => _data = data;

    /// <summary>Creates a view after checking that the header fits and that the length field is at least 8 and fits in the buffer.</summary>
    /// <param name="datagram">The UDP datagram.</param>
    /// <param name="header">The view, when valid.</param>
    /// <returns>False when malformed or truncated.</returns>
    public static bool TryCreate(Span<byte> datagram, out UdpHeader header)
    {
        if (Validate(datagram) != DropReason.None)
        {
            header = default;
            return false;
        }

        header = new UdpHeader(datagram);
        return true;
    }

    /// <summary>Creates a view after checking only that the 8 header bytes fit (for ICMP-quoted headers).</summary>
    /// <param name="datagram">The bytes starting at the header.</param>
    /// <param name="header">The view, when the header fits.</param>
    /// <returns>False when fewer than 8 bytes.</returns>
    public static bool TryCreateHeaderOnly(Span<byte> datagram, out UdpHeader header)
    {
        header = datagram.Length >= Length ? new UdpHeader(datagram) : default;
        return datagram.Length >= Length;
    }

    /// <summary>Checks a UDP header.</summary>
    /// <param name="datagram">The bytes starting at the header.</param>
    /// <returns><see cref="DropReason.None"/>, <see cref="DropReason.Truncated"/> or <see cref="DropReason.BadUdpHeader"/>.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Validate(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < Length)
        {
            return DropReason.Truncated;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(datagram[4..]);
        return length < Length || length > datagram.Length ? DropReason.BadUdpHeader : DropReason.None;
    }

    /// <summary>The source port.</summary>
    public ushort SourcePort
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data, value);
    }

    /// <summary>The destination port.</summary>
    public ushort DestinationPort
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[2..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[2..], value);
    }

    /// <summary>The length of header and data.</summary>
    public ushort DatagramLength
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[4..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[4..], value);
    }

    /// <summary>The checksum; 0 over IPv4 means none was computed.</summary>
    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[6..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[6..], value);
    }

    /// <summary>The 8 header bytes.</summary>
    public Span<byte> Bytes => _data[..Length];
}
