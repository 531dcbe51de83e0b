using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Lvs.Core.Headers;

/// <summary>A view of a TCP header (RFC 9293), options included.</summary>
/// <remarks>
/// <see cref="TryCreate"/> checks that the 20-byte header fits, that the data offset is at least 5 and that
/// the options fit in the buffer. Setters do not update <see cref="Checksum"/>.
/// </remarks>
public readonly ref struct TcpHeader
{
    /// <summary>The length of a header without options.</summary>
    public const int MinLength = 20;

    /// <summary>The largest header (data offset 15).</summary>
    public const int MaxLength = 60;

    private readonly Span<byte> _data;

    private TcpHeader(Span<byte> data) => _data = data;

    /// <summary>Creates a view after validating the data offset against the buffer.</summary>
    /// <param name="segment">The TCP segment.</param>
    /// <param name="header">The view, when valid.</param>
    /// <returns>False when malformed or truncated.</returns>
    public static bool TryCreate(Span<byte> segment, out TcpHeader header)
    {
        if (Validate(segment) != DropReason.None)
        {
            header = default;
            return false;
        }

        header = new TcpHeader(segment);
        return true;
    }

    /// <summary>Checks a TCP header.</summary>
    /// <param name="segment">The bytes starting at the header.</param>
    /// <returns><see cref="DropReason.None"/>, <see cref="DropReason.Truncated"/> or <see cref="DropReason.BadTcpHeader"/>.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Validate(ReadOnlySpan<byte> segment)
    {
        if (segment.Length < MinLength)
        {
            return DropReason.Truncated;
        }

        int headerLength = (segment[12] >> 4) * 4;
        return headerLength < MinLength || headerLength > segment.Length ? DropReason.BadTcpHeader : DropReason.None;
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

    /// <summary>The sequence number.</summary>
    public uint SequenceNumber
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_data[4..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_data[4..], value);
    }

    /// <summary>The acknowledgment number.</summary>
    public uint AcknowledgmentNumber
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_data[8..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_data[8..], value);
    }

    /// <summary>The data offset in 32-bit words (5 to 15).</summary>
    public int DataOffset
    {
        get => _data[12] >> 4;
        set => _data[12] = (byte)((_data[12] & 0x0F) | (value << 4));
    }

    /// <summary>The header length in bytes (data offset x 4).</summary>
    public int HeaderLength => (_data[12] >> 4) * 4;

    /// <summary>The control bits.</summary>
    public TcpFlags Flags
    {
        get => (TcpFlags)_data[13];
        set => _data[13] = (byte)value;
    }

    /// <summary>The receive window.</summary>
    public ushort Window
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[14..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[14..], value);
    }

    /// <summary>The checksum (over the pseudo-header, header and data).</summary>
    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[16..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[16..], value);
    }

    /// <summary>The urgent pointer.</summary>
    public ushort UrgentPointer
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[18..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[18..], value);
    }

    /// <summary>The option bytes (empty when the data offset is 5).</summary>
    public Span<byte> Options => _data[MinLength..HeaderLength];

    /// <summary>The header bytes, options included.</summary>
    public Span<byte> Bytes => _data[..HeaderLength];

    /// <summary>An iterator over the options.</summary>
    /// <returns>The option reader.</returns>
    public TcpOptionReader ReadOptions() => new(Options);
}
