using System.Runtime.InteropServices;

namespace Lvs.Devices.Native;

/// <summary>struct pollfd.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollDescriptor
{
    internal int Fd;
    internal short Events;
    internal short ReturnedEvents;
}
