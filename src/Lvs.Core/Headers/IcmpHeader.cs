using System.Buffers.Binary;

namespace Lvs.Core.Headers;

/// <summary>A view of an ICMP for IPv4 header (RFC 792): type, code, checksum and the 4-byte rest of header.</summary>
public readonly ref struct IcmpHeader
{
    /// <summary>The header length.</summary>
    public const int Length = 8;

    /// <summary>Echo reply.</summary>
    public const byte TypeEchoReply = 0;

    /// <summary>Destination unreachable (code 4: fragmentation needed and DF set, RFC 1191).</summary>
    public const byte TypeDestinationUnreachable = 3;

    /// <summary>Source quench (deprecated by RFC 6633, still an error message).</summary>
    public const byte TypeSourceQuench = 4;

    /// <summary>Redirect.</summary>
    public const byte TypeRedirect = 5;

    /// <summary>Echo request.</summary>
    public const byte TypeEchoRequest = 8;

    /// <summary>Time exceeded.</summary>
    public const byte TypeTimeExceeded = 11;

    /// <summary>Parameter problem.</summary>
    public const byte TypeParameterProblem = 12;

    /// <summary>Timestamp request (RFC 792).</summary>
    public const byte TypeTimestamp = 13;

    /// <summary>Timestamp reply (RFC 792).</summary>
    public const byte TypeTimestampReply = 14;

    /// <summary>Destination unreachable code 4: fragmentation needed and DF set.</summary>
    public const byte CodeFragmentationNeeded = 4;

    private readonly Span<byte> _data;

    private IcmpHeader(Span<byte> data) => _data = data;

    /// <summary>Creates a view after checking that the 8 header bytes fit.</summary>
    /// <param name="message">The ICMP message.</param>
    /// <param name="header">The view, when valid.</param>
    /// <returns>False when shorter than 8 bytes.</returns>
    public static bool TryCreate(Span<byte> message, out IcmpHeader header)
    {
        header = message.Length >= Length ? new IcmpHeader(message) : default;
        return message.Length >= Length;
    }

    /// <summary>The message type.</summary>
    public byte Type
    {
        get => _data[0];
        set => _data[0] = value;
    }

    /// <summary>The message code.</summary>
    public byte Code
    {
        get => _data[1];
        set => _data[1] = value;
    }

    /// <summary>The checksum over the whole message (no pseudo-header for ICMPv4).</summary>
    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[2..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[2..], value);
    }

    /// <summary>The identifier of echo messages (bytes 4-5).</summary>
    public ushort Identifier
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[4..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[4..], value);
    }

    /// <summary>The sequence number of echo messages (bytes 6-7).</summary>
    public ushort SequenceNumber
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[6..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[6..], value);
    }

    /// <summary>The next-hop MTU of a fragmentation-needed message (bytes 6-7, RFC 1191).</summary>
    public ushort NextHopMtu
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[6..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[6..], value);
    }

    /// <summary>The 4 bytes after the checksum, as one number.</summary>
    public uint RestOfHeader
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_data[4..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_data[4..], value);
    }

    /// <summary>True for an error message, which quotes the offending packet's header (RFC 1122 section 3.2.2).</summary>
    public bool IsError => IsErrorType(Type);

    /// <summary>The bytes after the 8-byte header: for an error, the quoted IP header and at least 8 bytes of its payload.</summary>
    public Span<byte> Body => _data[Length..];

    /// <summary>True for the error message types: destination unreachable, source quench, redirect, time exceeded, parameter problem.</summary>
    /// <param name="type">An ICMP type.</param>
    /// <returns>True for an error type.</returns>
    public static bool IsErrorType(byte type) =>
        type is TypeDestinationUnreachable or TypeSourceQuench or TypeRedirect or TypeTimeExceeded or TypeParameterProblem;
}
