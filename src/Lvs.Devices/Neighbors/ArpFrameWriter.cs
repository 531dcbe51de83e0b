using System.Buffers.Binary;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Devices.Neighbors;

/// <summary>
/// Writes the ARP frames a host sends on its own (RFC 826, RFC 5227): requests to resolve a neighbour and
/// gratuitous ARP to announce an address, laid out as the kernel's <c>arp_create</c> lays them out (Ethernet header,
/// hardware type 1, protocol 0x0800, 42 bytes without padding; the driver pads to the 60-byte minimum).
/// </summary>
public static class ArpFrameWriter
{
    /// <summary>The length of every frame written: 14 bytes of Ethernet header and 28 of ARP.</summary>
    public const int FrameLength = EthernetHeaderLength + ArpHeader.Length;

    private const int EthernetHeaderLength = 14;

    /// <summary>
    /// Writes an ARP request for <paramref name="target"/> (the kernel's <c>arp_solicit</c>): broadcast while the
    /// neighbour is unknown, unicast to its last known MAC address when re-checking a known one; the target hardware
    /// address is zero.
    /// </summary>
    /// <param name="destination">At least <see cref="FrameLength"/> bytes.</param>
    /// <param name="sourceMac">The link's MAC address.</param>
    /// <param name="sender">The sender's IPv4 address: the link's own address in the target's subnet.</param>
    /// <param name="target">The IPv4 address to resolve.</param>
    /// <param name="unicastTo">The neighbour's known MAC address for a unicast probe; null: broadcast.</param>
    /// <returns>The frame's length (<see cref="FrameLength"/>).</returns>
    /// <exception cref="ArgumentException">The span is too short, or an address is not IPv4.</exception>
    public static int WriteRequest(Span<byte> destination, MacAddress sourceMac, InetAddress sender, InetAddress target, MacAddress? unicastTo = null) =>
        Write(destination, unicastTo ?? MacAddress.Broadcast, sourceMac, ArpHeader.OperationRequest, sender, default, target);

    /// <summary>
    /// Writes a gratuitous ARP announcing <paramref name="address"/> (the request form the kernel sends when an
    /// address comes up, <c>inetdev_send_gratuitous_arp</c>): broadcast, sender and target address both the announced
    /// address, target hardware address zero. Neighbours that already know the address update their entry.
    /// </summary>
    /// <param name="destination">At least <see cref="FrameLength"/> bytes.</param>
    /// <param name="sourceMac">The link's MAC address.</param>
    /// <param name="address">The IPv4 address announced.</param>
    /// <returns>The frame's length (<see cref="FrameLength"/>).</returns>
    /// <exception cref="ArgumentException">The span is too short, or the address is not IPv4.</exception>
    public static int WriteGratuitous(Span<byte> destination, MacAddress sourceMac, InetAddress address) =>
        Write(destination, MacAddress.Broadcast, sourceMac, ArpHeader.OperationRequest, address, default, address);

    private static int Write(Span<byte> destination, MacAddress destinationMac, MacAddress sourceMac, ushort operation, InetAddress sender, MacAddress targetMac, InetAddress target)
    {
        if (destination.Length < FrameLength)
        {
            throw new ArgumentException($"An ARP frame needs {FrameLength} bytes; the span has {destination.Length}.", nameof(destination));
        }

        if (!sender.IsIPv4 || !target.IsIPv4)
        {
            throw new ArgumentException($"ARP resolves IPv4 addresses: {sender}, {target}.", nameof(target));
        }

        var frame = destination[..FrameLength];
        destinationMac.WriteTo(frame);
        sourceMac.WriteTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], (ushort)EtherType.Arp);
        var arp = frame[EthernetHeaderLength..];
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], (ushort)EtherType.IPv4);
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], operation);
        sourceMac.WriteTo(arp[8..]);
        BinaryPrimitives.WriteUInt32BigEndian(arp[14..], sender.IPv4Value);
        targetMac.WriteTo(arp[18..]);
        BinaryPrimitives.WriteUInt32BigEndian(arp[24..], target.IPv4Value);
        return FrameLength;
    }
}
