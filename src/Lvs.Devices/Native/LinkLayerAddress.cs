using System.Runtime.InteropServices;

namespace Lvs.Devices.Native;

/// <summary>struct sockaddr_ll (20 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct LinkLayerAddress
{
    internal ushort Family;
    internal ushort ProtocolBigEndian;
    internal int InterfaceIndex;
    internal ushort HardwareType;
    internal byte PacketType;
    internal byte AddressLength;
    internal fixed byte Address[8];
}
