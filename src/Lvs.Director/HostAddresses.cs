using Lvs.Core;

namespace Lvs.Director;

/// <summary>
/// The kernel's <c>inet_addr_type</c> for an IPv4 address, as the director's host would answer it: local (one of the
/// director's addresses), broadcast or multicast, or unicast (anything else). Read by <see cref="ReplyIpOptions"/>
/// for the prespecified timestamp and source route options, rarely: it walks the address lists.
/// </summary>
/// <param name="view">The engine's current view (VIPs, local addresses, the addresses owned on each link).</param>
/// <param name="links">The director's links, whose prefixes give the subnet broadcast addresses.</param>
internal readonly struct HostAddresses(EngineView view, DirectorLink[] links)
{
    /// <summary>Whether <paramref name="address"/> is one of the director's (<c>RTN_LOCAL</c>).</summary>
    /// <param name="address">An IPv4 address as a 32-bit value.</param>
    /// <returns>True for a link's address, a VIP, a local address.</returns>
    public bool IsLocal(uint address) => view.IsHostAddress(InetAddress.FromIPv4(address));

    /// <summary>
    /// Whether <paramref name="address"/> is a unicast address not the director's (<c>inet_addr_type</c> gives
    /// <c>RTN_UNICAST</c>): not in 0.0.0.0/8, not 255.255.255.255, not multicast, not in 127.0.0.0/8 (local on every
    /// host, through the loopback device), not one of the director's addresses and not the broadcast address of a
    /// link's subnet (the kernel's <c>fib_add_ifaddr</c> adds one for prefixes shorter than 31).
    /// </summary>
    /// <param name="address">An IPv4 address as a 32-bit value.</param>
    /// <returns>False for the addresses that name the host in a prespecified timestamp option.</returns>
    public bool IsUnicast(uint address)
    {
        if ((address >> 24) is 0 or 127 || address == uint.MaxValue || (address >> 28) == 0xE || IsLocal(address))
        {
            return false;
        }

        foreach (var link in links)
        {
            for (int i = 0; i < link.Addresses.Count; i++)
            {
                var prefix = link.Addresses[i];
                if (prefix.Address.IsIPv4 && prefix.PrefixLength < 31)
                {
                    uint host = uint.MaxValue >> prefix.PrefixLength;
                    if (address == (prefix.Address.IPv4Value | host))
                    {
                        return false;
                    }
                }
            }
        }

        return true;
    }
}
