using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Lvs.Core.Headers;

/// <summary>A view of an ARP packet for IPv4 over Ethernet (RFC 826): hardware type 1, protocol 0x0800, lengths 6 and 4.</summary>
public readonly ref struct ArpHeader
{
    /// <summary>The length of an Ethernet/IPv4 ARP packet.</summary>
    public const int Length = 28;

    /// <summary>ARP request (operation 1).</summary>
    public const ushort OperationRequest = 1;

    /// <summary>ARP reply (operation 2).</summary>
    public const ushort OperationReply = 2;

    private readonly Span<byte> _data;

    private ArpHeader(Span<byte> data) => _data = data;

    /// <summary>Creates a view after checking the length and that this is Ethernet/IPv4 ARP.</summary>
    /// <param name="packet">The ARP packet (the Ethernet payload).</param>
    /// <param name="header">The view, when valid.</param>
    /// <returns>False when too short or not Ethernet/IPv4 ARP.</returns>
    public static bool TryCreate(Span<byte> packet, out ArpHeader header)
    {
        if (Validate(packet) != DropReason.None)
        {
            header = default;
            return false;
        }

        header = new ArpHeader(packet);
        return true;
    }

    /// <summary>Checks that the packet is long enough and is Ethernet/IPv4 ARP.</summary>
    /// <param name="packet">The ARP packet (the Ethernet payload).</param>
    /// <returns><see cref="DropReason.None"/> or <see cref="DropReason.BadArp"/>.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Validate(ReadOnlySpan<byte> packet) =>
        packet.Length < Length
        || BinaryPrimitives.ReadUInt16BigEndian(packet) != 1
        || BinaryPrimitives.ReadUInt16BigEndian(packet[2..]) != (ushort)EtherType.IPv4
        || packet[4] != 6
        || packet[5] != 4
            ? DropReason.BadArp
            : DropReason.None;

    /// <summary>The operation: 1 request, 2 reply.</summary>
    public ushort Operation
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_data[6..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_data[6..], value);
    }

    /// <summary>The sender hardware address.</summary>
    public MacAddress SenderMac
    {
        get => MacAddress.Read(_data[8..]);
        set => value.WriteTo(_data[8..]);
    }

    /// <summary>The sender protocol address.</summary>
    public InetAddress SenderAddress
    {
        get => InetAddress.ReadIPv4(_data[14..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_data[14..], value.IPv4Value);
    }

    /// <summary>The target hardware address.</summary>
    public MacAddress TargetMac
    {
        get => MacAddress.Read(_data[18..]);
        set => value.WriteTo(_data[18..]);
    }

    /// <summary>The target protocol address.</summary>
    public InetAddress TargetAddress
    {
        get => InetAddress.ReadIPv4(_data[24..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_data[24..], value.IPv4Value);
    }
}
