using System.Runtime.InteropServices;
using System.Text;

namespace Lvs.Devices.Native;

/// <summary>struct ifreq (40 bytes): the interface name and a 24-byte union (flags, MTU, hardware address, data pointer).</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal unsafe struct InterfaceRequest
{
    internal const int NameSize = 16;

    [FieldOffset(0)]
    internal fixed byte Name[NameSize];

    /// <summary>ifr_flags.</summary>
    [FieldOffset(16)]
    internal short Flags;

    /// <summary>ifr_mtu.</summary>
    [FieldOffset(16)]
    internal int Mtu;

    /// <summary>ifr_hwaddr.sa_family.</summary>
    [FieldOffset(16)]
    internal ushort HardwareFamily;

    /// <summary>ifr_hwaddr.sa_data: the MAC in the first 6 bytes.</summary>
    [FieldOffset(18)]
    internal fixed byte HardwareAddress[14];

    /// <summary>ifr_data.</summary>
    [FieldOffset(16)]
    internal void* Data;

    /// <summary>A request for an interface name (at most 15 bytes).</summary>
    internal static InterfaceRequest For(string name)
    {
        var request = default(InterfaceRequest);
        int length = Encoding.ASCII.GetByteCount(name);
        if (length is 0 or >= NameSize)
        {
            throw new ArgumentException($"Interface name '{name}' must have 1 to {NameSize - 1} characters.", nameof(name));
        }

        Encoding.ASCII.GetBytes(name, new Span<byte>(request.Name, NameSize));
        return request;
    }
}
