using Lvs.Core;

namespace Lvs.Devices;

/// <summary>
/// What the host kernel must not do for a director that runs on an AF_PACKET link (the kernel still sees every
/// frame the director sees): own a director address (it would answer ARP/NDP for it and reset or refuse its
/// connections), forward packets arriving on the interface (it would forward the director's traffic a second time),
/// or answer ARP/NDP by proxy. Each problem comes with the command that fixes it. See docs/devices.md.
/// </summary>
public static class HostCheck
{
    /// <summary>Checks the host for a director on an AF_PACKET link.</summary>
    /// <param name="settings">The host's settings (<see cref="HostSettings.Read"/>).</param>
    /// <param name="directorAddresses">
    /// The addresses the director owns and the kernel must not: VIPs and FULLNAT local addresses (not the interface's
    /// own addresses, which the director shares with the kernel).
    /// </param>
    /// <returns>The problems; empty when the host is set up.</returns>
    public static IReadOnlyList<HostProblem> Check(HostSettings settings, IEnumerable<InetAddress> directorAddresses)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(directorAddresses);
        var problems = new List<HostProblem>();
        string name = settings.InterfaceName;
        if (!settings.InterfaceUp)
        {
            problems.Add(new HostProblem(name, $"Interface {name} is missing or down: the director cannot receive on it.", $"ip link set {name} up"));
        }

        bool anyIpv6 = false;
        foreach (InetAddress address in directorAddresses.Distinct())
        {
            anyIpv6 |= address.IsIPv6;
            foreach ((string owner, IReadOnlyList<InetPrefix> prefixes) in settings.KernelAddresses.OrderBy(pair => pair.Key, StringComparer.Ordinal))
            {
                foreach (InetPrefix prefix in prefixes)
                {
                    if (prefix.Address == address)
                    {
                        problems.Add(new HostProblem(
                            address.ToString(),
                            $"{address} is a kernel address on {owner} ({prefix}): the kernel would answer ARP/NDP for it and reset or refuse the director's connections to it.",
                            $"ip addr del {prefix} dev {owner}"));
                    }
                }
            }
        }

        if (settings.Ipv4Forwarding)
        {
            problems.Add(new HostProblem(
                $"net.ipv4.conf.{name}.forwarding",
                $"IPv4 forwarding is on for {name}: the kernel would route the director's traffic (addressed to the interface's MAC) a second time.",
                $"sysctl -w net.ipv4.conf.{name}.forwarding=0"));
        }

        if (settings.Ipv6Forwarding && anyIpv6)
        {
            problems.Add(new HostProblem(
                "net.ipv6.conf.all.forwarding",
                "IPv6 forwarding is on: the kernel would route the director's IPv6 traffic a second time.",
                "sysctl -w net.ipv6.conf.all.forwarding=0"));
        }

        if (settings.ProxyArp)
        {
            problems.Add(new HostProblem(
                $"net.ipv4.conf.{name}.proxy_arp",
                $"Proxy ARP is on for {name}: the kernel would answer ARP for the director's addresses with its own replies.",
                $"sysctl -w net.ipv4.conf.all.proxy_arp=0 net.ipv4.conf.{name}.proxy_arp=0"));
        }

        if (settings.ProxyNdp && anyIpv6)
        {
            problems.Add(new HostProblem(
                $"net.ipv6.conf.{name}.proxy_ndp",
                $"Proxy NDP is on for {name}: the kernel would answer neighbour solicitations for its proxy entries.",
                $"sysctl -w net.ipv6.conf.all.proxy_ndp=0 net.ipv6.conf.{name}.proxy_ndp=0"));
        }

        return problems;
    }
}
