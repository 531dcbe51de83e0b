using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Lvs.Core.Headers;

/// <summary>
/// A view of an Ethernet II header with up to <see cref="MaxVlanTags"/> IEEE 802.1Q / 802.1ad VLAN tags.
/// </summary>
/// <remarks>
/// Layout: destination MAC (6), source MAC (6), then zero or more 4-byte tags (TPID 0x8100 or 0x88A8 and
/// TCI), then the EtherType of the payload. <see cref="TryCreate"/> walks the tags and validates that the
/// whole header is inside the buffer before any field is read.
/// </remarks>
public readonly ref struct EthernetHeader
{
    /// <summary>The length of an untagged header.</summary>
    public const int MinLength = 14;

    /// <summary>The most VLAN tags walked (QinQ: a service tag then a customer tag).</summary>
    public const int MaxVlanTags = 2;

    private readonly Span<byte> _data;

    private EthernetHeader(Span<byte> data, int vlanTagCount)
    {
        _data = data;
        VlanTagCount = vlanTagCount;
    }

    /// <summary>Creates a view over <paramref name="frame"/> after checking that the header and its tags fit.</summary>
    /// <param name="frame">The frame, starting at the destination MAC.</param>
    /// <param name="header">The view, when valid.</param>
    /// <returns>False when the buffer is too short or there are more than <see cref="MaxVlanTags"/> tags.</returns>
    public static bool TryCreate(Span<byte> frame, out EthernetHeader header)
    {
        if (Validate(frame, out int tags) != DropReason.None)
        {
            header = default;
            return false;
        }

        header = new EthernetHeader(frame, tags);
        return true;
    }

    /// <summary>Walks the VLAN tags and checks that the header and its tags fit.</summary>
    /// <param name="frame">The frame, starting at the destination MAC.</param>
    /// <param name="vlanTagCount">The number of tags, when valid.</param>
    /// <returns><see cref="DropReason.None"/>, <see cref="DropReason.Truncated"/> or <see cref="DropReason.TooManyVlanTags"/>.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Validate(ReadOnlySpan<byte> frame, out int vlanTagCount)
    {
        vlanTagCount = 0;
        if (frame.Length < MinLength)
        {
            return DropReason.Truncated;
        }

        int typeOffset = 12;
        while (BinaryPrimitives.ReadUInt16BigEndian(frame[typeOffset..]) is (ushort)Headers.EtherType.Vlan or (ushort)Headers.EtherType.QinQ)
        {
            if (vlanTagCount == MaxVlanTags)
            {
                return DropReason.TooManyVlanTags;
            }

            if (frame.Length < typeOffset + 4 + 2)
            {
                return DropReason.Truncated;
            }

            vlanTagCount++;
            typeOffset += 4;
        }

        return DropReason.None;
    }

    /// <summary>The number of VLAN tags (0, 1 or 2).</summary>
    public int VlanTagCount { get; }

    /// <summary>The header length including tags: 14 + 4 per tag. The payload starts here.</summary>
    public int Length => MinLength + (4 * VlanTagCount);

    /// <summary>The destination MAC address.</summary>
    public MacAddress Destination
    {
        get => MacAddress.Read(_data);
        set => value.WriteTo(_data);
    }

    /// <summary>The source MAC address.</summary>
    public MacAddress Source
    {
        get => MacAddress.Read(_data[6..]);
        set => value.WriteTo(_data[6..]);
    }

    /// <summary>The EtherType of the payload, after any VLAN tags.</summary>
    public ushort EtherType
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[(Length - 2)..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[(Length - 2)..], value);
    }

    /// <summary>The VLAN identifier (12 bits) of the outermost tag; 0 when untagged.</summary>
    public ushort VlanId => VlanTagCount == 0 ? (ushort)0 : (ushort)(BinaryPrimitives.ReadUInt16BigEndian(_data[14..]) & 0x0FFF);

    /// <summary>The VLAN identifier of the innermost tag (the customer tag of QinQ); 0 when untagged.</summary>
    public ushort InnerVlanId =>
        VlanTagCount == 0 ? (ushort)0 : (ushort)(BinaryPrimitives.ReadUInt16BigEndian(_data[(10 + (4 * VlanTagCount))..]) & 0x0FFF);

    /// <summary>The header bytes, tags included.</summary>
    public Span<byte> Bytes => _data[..Length];

    /// <summary>The bytes after the header.</summary>
    public Span<byte> Payload => _data[Length..];
}
