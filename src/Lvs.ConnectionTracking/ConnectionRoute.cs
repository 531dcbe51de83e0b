using System.Runtime.InteropServices;

namespace Lvs.ConnectionTracking;

/// <summary>
/// The part of a connection's slot that inbound lookups do not read: the real server's and (full NAT) the local
/// endpoint, the outbound chain link and the timer-wheel links. 24 bytes for IPv4, 48 for IPv6; with its
/// <see cref="ConnectionEntry{TAddress}"/> a slot takes 56 bytes for IPv4.
/// </summary>
/// <remarks>A template has no outbound link: <see cref="NextOut"/> holds its timeout in ticks instead.</remarks>
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
}
