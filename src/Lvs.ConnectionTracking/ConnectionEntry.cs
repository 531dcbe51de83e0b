using System.Runtime.InteropServices;

namespace Lvs.ConnectionTracking;

/// <summary>
/// One slot of the connection slab: 56 bytes for IPv4, 104 for IPv6. No object per connection: the slab is one array
/// of these, linked into the hash chains and the timer wheel by int indexes.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Word"/> packs what changes under concurrent access and is only changed by compare-and-swap: the
/// protocol state (bits 0-3), the inactive flag (4, the kernel's <c>IP_VS_CONN_F_INACTIVE</c>), the no-output flag
/// (5, <c>IP_VS_CONN_F_NOOUTPUT</c>), the live flag (6), the invalidated-template flag (7) and the slot's generation
/// (bits 8-31), which changes when a connection ends so that stale handles and racing readers notice.
/// </para>
/// <para>
/// The key fields (addresses, ports, protocol, <see cref="Meta"/> bits 0-3) are written only while the slot is free
/// and published by the release write of <see cref="Word"/>. <see cref="Meta"/> bits 8-31 hold, for a connection,
/// the index + 1 of its controlling template (0 for none) and, for a template, the number of connections it controls.
/// </para>
/// </remarks>
/// <typeparam name="TAddress">The stored address form.</typeparam>
[StructLayout(LayoutKind.Sequential)]
internal struct ConnectionEntry<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    public uint Word;
    public uint Expiry;
    public TAddress Client;
    public TAddress Virtual;
    public TAddress Destination;
    public TAddress Local;
    public ushort ClientPort;
    public ushort VirtualPort;
    public ushort DestinationPort;
    public ushort LocalPort;
    public int NextIn;
    public int NextOut;
    public int WheelNext;
    public int WheelPrev;
    public uint Meta;
    public ushort RealServer;
    public byte Protocol;
    public byte Reserved;
}
