using System.Runtime.InteropServices;
using System.Text;
using Lvs.Core;
using Lvs.Devices.Native;

namespace Lvs.Devices;

/// <summary>Interface ioctls (index, MAC, MTU, flags, ethtool) and the kernel's addresses (getifaddrs), without the <c>ip</c> command.</summary>
internal static unsafe class InterfaceControl
{
    /// <summary>The interface's index, or 0 when there is none by that name.</summary>
    internal static int IndexOf(string name)
    {
        Span<byte> text = stackalloc byte[InterfaceRequest.NameSize + 1];
        text.Clear();
        if (Encoding.ASCII.GetByteCount(name) >= InterfaceRequest.NameSize)
        {
            return 0;
        }

        Encoding.ASCII.GetBytes(name, text);
        fixed (byte* pointer = text)
        {
            return (int)LibC.InterfaceNameToIndex(pointer);
        }
    }

    internal static MacAddress GetMac(string name)
    {
        InterfaceRequest request = InterfaceRequest.For(name);
        Control(name, Constants.SiocGifHwAddr, ref request, "SIOCGIFHWADDR");
        return MacAddress.Read(new ReadOnlySpan<byte>(request.HardwareAddress, 6));
    }

    internal static void SetMac(string name, MacAddress mac)
    {
        InterfaceRequest request = InterfaceRequest.For(name);
        request.HardwareFamily = Constants.ArpHrdEther;
        mac.WriteTo(new Span<byte>(request.HardwareAddress, 6));
        Control(name, Constants.SiocSifHwAddr, ref request, "SIOCSIFHWADDR");
    }

    internal static int GetMtu(string name)
    {
        InterfaceRequest request = InterfaceRequest.For(name);
        Control(name, Constants.SiocGifMtu, ref request, "SIOCGIFMTU");
        return request.Mtu;
    }

    internal static void SetMtu(string name, int mtu)
    {
        InterfaceRequest request = InterfaceRequest.For(name);
        request.Mtu = mtu;
        Control(name, Constants.SiocSifMtu, ref request, "SIOCSIFMTU");
    }

    internal static short GetFlags(string name)
    {
        InterfaceRequest request = InterfaceRequest.For(name);
        Control(name, Constants.SiocGifFlags, ref request, "SIOCGIFFLAGS");
        return request.Flags;
    }

    internal static void SetUp(string name)
    {
        short flags = GetFlags(name);
        if ((flags & Constants.IffUp) != 0)
        {
            return;
        }

        InterfaceRequest request = InterfaceRequest.For(name);
        request.Flags = (short)(flags | Constants.IffUp);
        Control(name, Constants.SiocSifFlags, ref request, "SIOCSIFFLAGS");
    }

    /// <summary>Runs one legacy ethtool get or set command; false when the driver does not support it.</summary>
    internal static bool TryEthtool(string name, uint command, ref uint value)
    {
        InterfaceRequest request = InterfaceRequest.For(name);
        var ethtool = new EthtoolValue { Command = command, Data = value };
        request.Data = &ethtool;
        int fd = ControlSocket();
        try
        {
            if (LibC.IoControl(fd, Constants.SiocEthtool, &request) < 0)
            {
                return false;
            }
        }
        finally
        {
            LibC.Close(fd);
        }

        value = ethtool.Data;
        return true;
    }

    /// <summary>The kernel's addresses on every interface, with their prefix lengths, by interface name.</summary>
    internal static Dictionary<string, List<InetPrefix>> ReadAllAddresses()
    {
        var result = new Dictionary<string, List<InetPrefix>>(StringComparer.Ordinal);
        InterfaceAddress* list;
        if (LibC.GetInterfaceAddresses(&list) != 0)
        {
            throw LibC.Failure("getifaddrs");
        }

        try
        {
            for (InterfaceAddress* entry = list; entry != null; entry = entry->Next)
            {
                if (entry->Address == null || entry->Name == null)
                {
                    continue;
                }

                string name = Marshal.PtrToStringUTF8((nint)entry->Name) ?? string.Empty;
                ushort family = *(ushort*)entry->Address;
                InetAddress address;
                int prefixLength;
                if (family == Constants.AfInet)
                {
                    address = InetAddress.ReadIPv4(new ReadOnlySpan<byte>((byte*)entry->Address + 4, 4));
                    prefixLength = entry->Netmask == null ? 32 : CountBits(new ReadOnlySpan<byte>((byte*)entry->Netmask + 4, 4));
                }
                else if (family == Constants.AfInet6)
                {
                    address = InetAddress.ReadIPv6(new ReadOnlySpan<byte>((byte*)entry->Address + 8, 16));
                    prefixLength = entry->Netmask == null ? 128 : CountBits(new ReadOnlySpan<byte>((byte*)entry->Netmask + 8, 16));
                }
                else
                {
                    continue;
                }

                if (!result.TryGetValue(name, out List<InetPrefix>? prefixes))
                {
                    prefixes = [];
                    result.Add(name, prefixes);
                }

                prefixes.Add(new InetPrefix(address, prefixLength));
            }
        }
        finally
        {
            LibC.FreeInterfaceAddresses(list);
        }

        return result;
    }

    /// <summary>Reads a file under /proc/sys (null when it does not exist).</summary>
    internal static string? ReadSysctl(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static int CountBits(ReadOnlySpan<byte> mask)
    {
        int bits = 0;
        foreach (byte b in mask)
        {
            bits += System.Numerics.BitOperations.PopCount(b);
        }

        return bits;
    }

    private static int ControlSocket()
    {
        int fd = LibC.Socket(Constants.AfInet, Constants.SockDgram | Constants.SockCloexec, 0);
        if (fd < 0)
        {
            throw LibC.Failure("socket(AF_INET, SOCK_DGRAM)");
        }

        return fd;
    }

    private static void Control(string name, nuint command, ref InterfaceRequest request, string what)
    {
        int fd = ControlSocket();
        try
        {
            fixed (InterfaceRequest* pointer = &request)
            {
                if (LibC.IoControl(fd, command, pointer) < 0)
                {
                    throw LibC.Failure($"{what} on {name}");
                }
            }
        }
        finally
        {
            LibC.Close(fd);
        }
    }
}
