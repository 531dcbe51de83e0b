using System.Buffers.Binary;

namespace Lvs.Core.Headers;

/// <summary>A view of an ICMPv6 header (RFC 4443): type, code, checksum and the 4-byte message-specific field.</summary>
public readonly ref struct IcmpV6Header
{
    /// <summary>The header length.</summary>
    public const int Length = 8;

    /// <summary>Destination unreachable.</summary>
    public const byte TypeDestinationUnreachable = 1;

    /// <summary>Packet too big (carries the MTU).</summary>
    public const byte TypePacketTooBig = 2;

    /// <summary>Time exceeded.</summary>
    public const byte TypeTimeExceeded = 3;

    /// <summary>Parameter problem.</summary>
    public const byte TypeParameterProblem = 4;

    /// <summary>Echo request.</summary>
    public const byte TypeEchoRequest = 128;

    /// <summary>Echo reply.</summary>
    public const byte TypeEchoReply = 129;

    /// <summary>Neighbor solicitation (RFC 4861).</summary>
    public const byte TypeNeighborSolicitation = 135;

    /// <summary>Neighbor advertisement (RFC 4861).</summary>
    public const byte TypeNeighborAdvertisement = 136;

    private readonly Span<byte> _data;

    private IcmpV6Header(Span<byte> data) => _data = data;

    /// <summary>Creates a view after checking that the 8 header bytes fit.</summary>
    /// <param name="message">The ICMPv6 message.</param>
    /// <param name="header">The view, when valid.</param>
    /// <returns>False when shorter than 8 bytes.</returns>
    public static bool TryCreate(Span<byte> message, out IcmpV6Header header)
    {
        header = message.Length >= Length ? new IcmpV6Header(message) : default;
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

    /// <summary>The checksum (over the IPv6 pseudo-header and the message).</summary>
    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[2..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[2..], value);
    }

    /// <summary>The identifier of echo messages.</summary>
    public ushort Identifier
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[4..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[4..], value);
    }

    /// <summary>The sequence number of echo messages.</summary>
    public ushort SequenceNumber
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[6..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[6..], value);
    }

    /// <summary>The MTU of a packet-too-big message (also the pointer of parameter problem).</summary>
    public uint Mtu
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_data[4..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_data[4..], value);
    }

    /// <summary>True for an error message (types 0-127, RFC 4443 section 2.1).</summary>
    public bool IsError => Type < 128;

    /// <summary>The bytes after the 8-byte header: for an error, the quoted packet.</summary>
    public Span<byte> Body => _data[Length..];
}
