using System.Runtime.InteropServices;

namespace Lvs.ConnectionTracking;

/// <summary>
/// The part of a connection's slot that inbound lookups do not read: the real server's and (full NAT) the local
/// endpoint, the outbound chain link, the timer-wheel links and the template control count. 28 bytes for IPv4, 52 for
/// IPv6; with its <see cref="ConnectionEntry{TAddress}"/> a slot takes 60 bytes for IPv4.
/// </summary>
/// <remarks>
/// A template has no outbound link: <see cref="NextOut"/> holds its timeout in ticks instead. A free slot has neither:
/// <see cref="NextOut"/> is then the previous slot of the free list (which is linked both ways, so that an insert can
/// take the free slot of its home line out of it).
/// </remarks>
/// <typeparam name="TAddress">The stored address form.</typeparam>
[StructLayout(LayoutKind.Sequential)]
internal struct ConnectionRoute<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    public TAddress Destination;
    public TAddress Local;
    public ushort DestinationPort;
    public ushort LocalPort;
    public int NextOut;
    public int WheelNext;
    public int WheelPrev;

    /// <summary>For a connection, the index + 1 of its controlling template (0 for none); for a template, the number of connections it controls.</summary>
    public uint Control;
}
