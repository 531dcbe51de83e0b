using Lvs.Core;

namespace Lvs.Devices;

/// <summary>
/// The host kernel's settings that matter to a director on an AF_PACKET link: the interface's forwarding,
/// proxy ARP/NDP and state, and every kernel address of the network namespace. Read with <see cref="Read"/>, checked
/// with <see cref="HostCheck"/>.
/// </summary>
public sealed record HostSettings
{
    /// <summary>The interface the director's AF_PACKET link is on.</summary>
    public required string InterfaceName { get; init; }

    /// <summary>True when the interface is up.</summary>
    public bool InterfaceUp { get; init; } = true;

    /// <summary>net.ipv4.conf.&lt;interface&gt;.forwarding: the kernel routes IPv4 packets arriving on the interface that are not its own.</summary>
    public bool Ipv4Forwarding { get; init; }

    /// <summary>net.ipv6.conf.all.forwarding: the kernel routes IPv6 packets that are not its own.</summary>
    public bool Ipv6Forwarding { get; init; }

    /// <summary>net.ipv4.conf.{all,&lt;interface&gt;}.proxy_arp (either one): the kernel answers ARP for addresses it routes.</summary>
    public bool ProxyArp { get; init; }

    /// <summary>net.ipv6.conf.{all,&lt;interface&gt;}.proxy_ndp (either one): the kernel answers neighbour solicitations for its proxy entries.</summary>
    public bool ProxyNdp { get; init; }

    /// <summary>net.ipv4.conf.{all,&lt;interface&gt;}.rp_filter (the larger): reported for information only, it does not affect frames taken by AF_PACKET.</summary>
    public int ReversePathFilter { get; init; }

    /// <summary>The kernel's addresses on every interface, by interface name.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<InetPrefix>> KernelAddresses { get; init; } = new Dictionary<string, IReadOnlyList<InetPrefix>>();

    /// <summary>Reads the settings of the current network namespace from /proc/sys, ioctls and getifaddrs.</summary>
    /// <param name="interfaceName">The director's interface.</param>
    /// <returns>The settings.</returns>
    /// <exception cref="PlatformNotSupportedException">Not Linux.</exception>
    public static HostSettings Read(string interfaceName)
    {
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Host settings are read from Linux's /proc/sys.");
        }

        int index = InterfaceControl.IndexOf(interfaceName);
        return new HostSettings
        {
            InterfaceName = interfaceName,
            InterfaceUp = index != 0 && (InterfaceControl.GetFlags(interfaceName) & Native.Constants.IffUp) != 0,
            Ipv4Forwarding = Flag($"ipv4/conf/{interfaceName}/forwarding"),
            Ipv6Forwarding = Flag("ipv6/conf/all/forwarding"),
            ProxyArp = Flag("ipv4/conf/all/proxy_arp") || Flag($"ipv4/conf/{interfaceName}/proxy_arp"),
            ProxyNdp = Flag("ipv6/conf/all/proxy_ndp") || Flag($"ipv6/conf/{interfaceName}/proxy_ndp"),
            ReversePathFilter = Math.Max(Number("ipv4/conf/all/rp_filter"), Number($"ipv4/conf/{interfaceName}/rp_filter")),
            KernelAddresses = InterfaceFacts.ReadAllAddresses(),
        };
    }

    private static bool Flag(string path) => Number(path) != 0;

    private static int Number(string path) =>
        int.TryParse(InterfaceControl.ReadSysctl($"/proc/sys/net/{path}"), out int value) ? value : 0;
}
