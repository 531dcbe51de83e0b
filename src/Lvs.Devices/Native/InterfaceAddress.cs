using System.Runtime.InteropServices;

namespace Lvs.Devices.Native;

/// <summary>struct ifaddrs, as getifaddrs lists it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct InterfaceAddress
{
    internal InterfaceAddress* Next;
    internal byte* Name;
    internal uint Flags;
    internal void* Address;
    internal void* Netmask;
    internal void* BroadcastOrDestination;
    internal void* Data;
}
