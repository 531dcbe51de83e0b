using Lvs.Core;

namespace Lvs.Director;

/// <summary>
/// A link the director sends and receives frames on, as the engine needs it: its MAC address, its own addresses with
/// their connected subnets, and its MTU. The device layer (an AF_PACKET socket, a TAP device, a pcap replay, or the
/// in-memory links of tests) implements the link itself; the engine only names it by <see cref="Index"/> in verdicts.
/// </summary>
/// <param name="Index">The link's number in the director's list of links (0-based).</param>
/// <param name="Name">A name for people (the interface name).</param>
/// <param name="Mac">The link's MAC address: the source of every frame the director sends on it.</param>
/// <param name="Addresses">The director's own addresses on the link, with their connected subnets.</param>
public sealed record DirectorLink(int Index, string Name, MacAddress Mac, IReadOnlyList<InetPrefix> Addresses)
{
    /// <summary>The link's MTU (the largest IP packet it carries).</summary>
    public int Mtu { get; init; } = 1500;

    /// <summary>
    /// Whether the director answers echo requests for the link's own addresses (true for a TAP device the director
    /// owns; false for an AF_PACKET link on a host interface, where the host's kernel already answers for them).
    /// </summary>
    public bool AnswersForAddresses { get; init; } = true;

    /// <summary>The director's first address on the link in a family, the source of what the director itself originates there (ICMP errors, tunnels).</summary>
    /// <param name="ipv6">The family.</param>
    /// <param name="address">The address.</param>
    /// <returns>False when the link has no address in the family.</returns>
    public bool TryGetSourceAddress(bool ipv6, out InetAddress address)
    {
        foreach (var prefix in Addresses)
        {
            if (prefix.Address.IsIPv6 == ipv6)
            {
                address = prefix.Address;
                return true;
            }
        }

        address = default;
        return false;
    }

    /// <summary>Whether an address is in one of the link's connected subnets.</summary>
    /// <param name="address">The address.</param>
    /// <returns>True when it is on the link.</returns>
    public bool IsOnLink(InetAddress address)
    {
        foreach (var prefix in Addresses)
        {
            if (prefix.Contains(address))
            {
                return true;
            }
        }

        return false;
    }
}
