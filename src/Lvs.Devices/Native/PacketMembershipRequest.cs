using System.Runtime.InteropServices;

namespace Lvs.Devices.Native;

/// <summary>The kernel's <c>struct packet_mreq</c> (PACKET_ADD_MEMBERSHIP): interface, type, address length and address.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PacketMembershipRequest
{
    public int InterfaceIndex;
    public ushort Type;
    public ushort AddressLength;
    public ulong Address;
}
