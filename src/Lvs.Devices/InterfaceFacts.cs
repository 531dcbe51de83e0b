using Lvs.Core;

namespace Lvs.Devices;

/// <summary>What the kernel says about a network interface: index, MAC, MTU, state and addresses.</summary>
public sealed class InterfaceFacts
{
    private InterfaceFacts(string name, int index, MacAddress mac, int mtu, bool isUp, IReadOnlyList<InetPrefix> addresses)
    {
        Name = name;
        Index = index;
        Mac = mac;
        Mtu = mtu;
        IsUp = isUp;
        Addresses = addresses;
    }

    /// <summary>The interface's name.</summary>
    public string Name { get; }

    /// <summary>Its index (if_nametoindex).</summary>
    public int Index { get; }

    /// <summary>Its MAC address (SIOCGIFHWADDR).</summary>
    public MacAddress Mac { get; }

    /// <summary>Its MTU (SIOCGIFMTU).</summary>
    public int Mtu { get; }

    /// <summary>True when the interface is administratively up (IFF_UP).</summary>
    public bool IsUp { get; }

    /// <summary>The kernel's IPv4 and IPv6 addresses on it, with their prefix lengths (getifaddrs), link-local ones included.</summary>
    public IReadOnlyList<InetPrefix> Addresses { get; }

    /// <summary>Reads an interface's facts.</summary>
    /// <param name="name">The interface's name.</param>
    /// <returns>The facts.</returns>
    /// <exception cref="PlatformNotSupportedException">Not Linux.</exception>
    /// <exception cref="IOException">There is no such interface, or an ioctl failed.</exception>
    public static InterfaceFacts Read(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Interface facts are read with Linux ioctls.");
        }

        int index = InterfaceControl.IndexOf(name);
        if (index == 0)
        {
            throw new IOException($"There is no network interface named '{name}'.");
        }

        Dictionary<string, List<InetPrefix>> all = InterfaceControl.ReadAllAddresses();
        IReadOnlyList<InetPrefix> addresses = all.TryGetValue(name, out List<InetPrefix>? list) ? list.ToArray() : [];
        return new InterfaceFacts(
            name,
            index,
            InterfaceControl.GetMac(name),
            InterfaceControl.GetMtu(name),
            (InterfaceControl.GetFlags(name) & Native.Constants.IffUp) != 0,
            addresses);
    }

    /// <summary>The kernel's addresses on every interface of the current network namespace, by interface name.</summary>
    /// <returns>Each interface's addresses with their prefix lengths.</returns>
    public static IReadOnlyDictionary<string, IReadOnlyList<InetPrefix>> ReadAllAddresses()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Interface addresses are read with getifaddrs on Linux.");
        }

        return InterfaceControl.ReadAllAddresses().ToDictionary(pair => pair.Key, pair => (IReadOnlyList<InetPrefix>)pair.Value.ToArray(), StringComparer.Ordinal);
    }
}
