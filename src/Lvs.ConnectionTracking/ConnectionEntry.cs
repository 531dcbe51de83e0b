using System.Runtime.InteropServices;

namespace Lvs.ConnectionTracking;

/// <summary>
/// The part of a connection's slot that an inbound lookup reads: the key, the state word, the expiry and the inbound
/// chain link. 32 bytes for IPv4 (two per cache line, never straddling one), 56 for IPv6 (in a 64-byte stride). The
/// rest of the slot (where packets go, the outbound and timer links) is its <see cref="ConnectionRoute{TAddress}"/>,
/// at the same index of a second array, so the lookup that decides most packets reads one line per candidate.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Word"/> packs what changes under concurrent access and is only changed by compare-and-swap: the
/// protocol state (bits 0-3), the inactive flag (4, the kernel's <c>IP_VS_CONN_F_INACTIVE</c>), the no-output flag
/// (5, <c>IP_VS_CONN_F_NOOUTPUT</c>), the live flag (6), bit 7 (for a template the invalidated flag, for a connection
/// the first-packet-seen flag) and the low 24 bits of the slot's generation (bits 8-31), which changes when a connection
/// ends so that stale handles and racing readers notice. <see cref="Era"/> holds the generation's high 8 bits: it is
/// written while the slot is free, like the key, so a handle carries a 32-bit generation that never repeats.
/// </para>
/// <para>
/// The key fields (addresses, ports, protocol, <see cref="Meta"/> bits 0-3, and the route) are written only while the
/// slot is free and published by the release write of <see cref="Word"/>. <see cref="Meta"/> bits 8-31 hold, for a
/// connection, the index + 1 of its controlling template (0 for none) and, for a template, the number of connections
/// it controls.
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
    public ushort ClientPort;
    public ushort VirtualPort;
    public int NextIn;
    public uint Meta;
    public ushort RealServer;
    public byte Protocol;
    public byte Era;
}
