using System.Runtime.InteropServices;

namespace Lvs.ConnectionTracking;

/// <summary>
/// The part of a connection's slot that inbound lookups do not read: the real server's and (full NAT) the local
/// endpoint, the outbound chain link, the timer-wheel links and the count of connections it controls. 28 bytes for
/// IPv4, 52 for IPv6; with its <see cref="ConnectionEntry{TAddress}"/> a slot takes 60 bytes for IPv4.
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

    /// <summary>
    /// For a connection (not a template, which counts in its <see cref="ConnectionEntry{TAddress}.Meta"/>): how many
    /// connections it controls (<see cref="NewConnection.Control"/>, the kernel's <c>n_control</c>, as an FTP control
    /// connection controls its data connections). While it is not 0 the connection is not removed: its expiry is put
    /// off by 60 s at a time, as the kernel's <c>expire_later</c>. Written under the connection's inbound stripe lock
    /// (increments) or atomically (decrements); 0 in a free slot.
    /// </summary>
    public int Controlled;
}
