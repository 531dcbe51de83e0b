using System.Buffers.Binary;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Devices.Neighbors;

/// <summary>
/// Writes the IPv6 neighbour discovery frames a host sends on its own (RFC 4861): neighbour solicitations to resolve
/// a neighbour and unsolicited neighbour advertisements to announce an address, as the kernel's <c>ndisc_send_ns</c>
/// and <c>ndisc_send_unsol_na</c> write them (hop limit 255, a link-layer address option, the checksum over the
/// pseudo-header).
/// </summary>
public static class NeighborDiscoveryFrameWriter
{
    /// <summary>The length of a solicitation or advertisement frame with its link-layer address option: 14 + 40 + 32 bytes.</summary>
    public const int FrameLength = EthernetHeaderLength + Ipv6HeaderLength + MessageLength;

    /// <summary>The length of a solicitation from the unspecified address, which carries no link-layer address option.</summary>
    public const int FrameLengthWithoutOption = FrameLength - OptionLength;

    private const int EthernetHeaderLength = 14;
    private const int Ipv6HeaderLength = 40;
    private const int OptionLength = 8;
    private const int MessageLength = 24 + OptionLength;

    /// <summary>The all-nodes multicast address, <c>ff02::1</c>.</summary>
    public static InetAddress AllNodes { get; } = new(0xFF02_0000_0000_0000UL, 1);

    /// <summary>The solicited-node multicast address of an address (RFC 4291 2.7.1): <c>ff02::1:ff</c> and its last 24 bits.</summary>
    /// <param name="address">An IPv6 address.</param>
    /// <returns>The solicited-node address.</returns>
    public static InetAddress SolicitedNodeAddress(InetAddress address) =>
        new(0xFF02_0000_0000_0000UL, 0x0000_0001_FF00_0000UL | (address.Low & 0xFF_FFFFUL));

    /// <summary>The Ethernet address of an IPv6 multicast address (RFC 2464 7): <c>33:33</c> and its last 32 bits.</summary>
    /// <param name="multicast">An IPv6 multicast address.</param>
    /// <returns>The MAC address.</returns>
    public static MacAddress MulticastMac(InetAddress multicast) => new(0x3333_0000_0000UL | (multicast.Low & 0xFFFF_FFFFUL));

    /// <summary>
    /// Writes a neighbour solicitation for <paramref name="target"/>: to its solicited-node multicast address while it
    /// is unknown, or to the target itself at its last known MAC address when re-checking a known neighbour (RFC 4861
    /// 7.2.2). It carries the source link-layer address option unless the source is the unspecified address.
    /// </summary>
    /// <param name="destination">At least <see cref="FrameLength"/> bytes.</param>
    /// <param name="sourceMac">The link's MAC address.</param>
    /// <param name="source">The source address: the link's own address in the target's subnet (or <c>::</c>).</param>
    /// <param name="target">The IPv6 address to resolve.</param>
    /// <param name="unicastTo">The neighbour's known MAC address for a unicast probe; null: multicast.</param>
    /// <returns>The frame's length (<see cref="FrameLength"/>, or <see cref="FrameLengthWithoutOption"/> from <c>::</c>).</returns>
    /// <exception cref="ArgumentException">The span is too short, or an address is not IPv6.</exception>
    public static int WriteSolicitation(Span<byte> destination, MacAddress sourceMac, InetAddress source, InetAddress target, MacAddress? unicastTo = null)
    {
        RequireIPv6(source, target);
        var to = unicastTo is null ? SolicitedNodeAddress(target) : target;
        var toMac = unicastTo ?? MulticastMac(to);
        bool option = source != InetAddress.IPv6Any;
        return Write(destination, toMac, sourceMac, source, to, IcmpV6Header.TypeNeighborSolicitation, 0, target, option ? (byte)1 : (byte)0);
    }

    /// <summary>
    /// Writes an unsolicited neighbour advertisement for an address the host owns (RFC 4861 7.2.6): from the address
    /// to all nodes, the override flag set (solicited and router clear), with the target link-layer address option.
    /// </summary>
    /// <param name="destination">At least <see cref="FrameLength"/> bytes.</param>
    /// <param name="sourceMac">The link's MAC address.</param>
    /// <param name="address">The IPv6 address announced.</param>
    /// <returns>The frame's length (<see cref="FrameLength"/>).</returns>
    /// <exception cref="ArgumentException">The span is too short, or the address is not IPv6.</exception>
    public static int WriteUnsolicitedAdvertisement(Span<byte> destination, MacAddress sourceMac, InetAddress address)
    {
        RequireIPv6(address, address);
        return Write(destination, MulticastMac(AllNodes), sourceMac, address, AllNodes, IcmpV6Header.TypeNeighborAdvertisement, 0x2000_0000u, address, 2);
    }

    private static void RequireIPv6(InetAddress a, InetAddress b)
    {
        if (a.IsIPv4 || b.IsIPv4)
        {
            throw new ArgumentException($"Neighbour discovery resolves IPv6 addresses: {a}, {b}.", nameof(b));
        }
    }

    private static int Write(Span<byte> destination, MacAddress destinationMac, MacAddress sourceMac, InetAddress source, InetAddress to, byte type, uint flags, InetAddress target, byte optionType)
    {
        int messageLength = optionType == 0 ? MessageLength - OptionLength : MessageLength;
        int length = EthernetHeaderLength + Ipv6HeaderLength + messageLength;
        if (destination.Length < length)
        {
            throw new ArgumentException($"A neighbour discovery frame needs {length} bytes; the span has {destination.Length}.", nameof(destination));
        }

        var frame = destination[..length];
        destinationMac.WriteTo(frame);
        sourceMac.WriteTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], (ushort)EtherType.IPv6);
        // RFC 4861 7.1: a receiver drops neighbour discovery whose hop limit is not 255 (it was not forwarded).
        Ipv6Header.Write(frame.Slice(EthernetHeaderLength, Ipv6HeaderLength), source, to, L4Protocol.IcmpV6, messageLength, 255);
        var message = frame[(EthernetHeaderLength + Ipv6HeaderLength)..];
        message[0] = type;
        message[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(message[2..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(message[4..], flags);
        target.WriteIPv6To(message[8..]);
        if (optionType != 0)
        {
            message[24] = optionType;
            message[25] = 1;
            sourceMac.WriteTo(message[26..]);
        }

        BinaryPrimitives.WriteUInt16BigEndian(message[2..], Checksum.Compute(message, Checksum.PseudoHeaderSum(source, to, L4Protocol.IcmpV6, messageLength)));
        return length;
    }
}
