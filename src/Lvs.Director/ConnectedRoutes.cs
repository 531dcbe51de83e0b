using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.Director;

/// <summary>
/// The director's routing table, flattened for the packet path: the connected subnets of its links in link order,
/// then the gateway of each family (what the kernel's FIB holds on a host with connected routes and one default route
/// per family). The gateway's neighbour entry is looked up once and kept, so a reply towards a client behind the
/// gateway reads one MAC address and no dictionary.
/// </summary>
internal sealed class ConnectedRoutes
{
    private readonly Route[] _routes;
    private readonly Gateway _ipv4;
    private readonly Gateway _ipv6;

    /// <summary>Builds the table.</summary>
    /// <param name="links">The links, in index order.</param>
    /// <param name="gatewayV4">The IPv4 gateway, or null.</param>
    /// <param name="gatewayV6">The IPv6 gateway, or null.</param>
    /// <param name="neighbors">Where the gateways' entries live (entries are never removed, only invalidated).</param>
    public ConnectedRoutes(IReadOnlyList<DirectorLink> links, InetAddress? gatewayV4, InetAddress? gatewayV6, NeighborTable neighbors)
    {
        var routes = new List<Route>();
        foreach (var link in links)
        {
            foreach (var prefix in link.Addresses)
            {
                routes.Add(Route.Of(prefix, link.Index));
            }
        }

        _routes = [.. routes];
        _ipv4 = GatewayOf(gatewayV4, neighbors);
        _ipv6 = GatewayOf(gatewayV6, neighbors);
    }

    /// <summary>The link and next hop towards a destination: the destination itself on a connected subnet, else the gateway of its family.</summary>
    /// <param name="destination">The destination.</param>
    /// <param name="link">The link to send on.</param>
    /// <param name="nextHop">The neighbour to send to.</param>
    /// <param name="gateway">The gateway's entry when the next hop is the gateway, else null.</param>
    /// <returns>False when there is no route.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryRoute(InetAddress destination, out int link, out InetAddress nextHop, out NeighborEntry? gateway)
    {
        bool ipv4 = destination.IsIPv4;
        foreach (ref readonly var route in _routes.AsSpan())
        {
            if (route.Contains(destination, ipv4))
            {
                link = route.Link;
                nextHop = destination;
                gateway = null;
                return true;
            }
        }

        ref readonly var via = ref ipv4 ? ref _ipv4 : ref _ipv6;
        link = via.Link;
        gateway = via.Entry;
        if (gateway is null)
        {
            nextHop = default;
            return false;
        }

        nextHop = gateway.Address;
        return true;
    }

    private Gateway GatewayOf(InetAddress? address, NeighborTable neighbors)
    {
        if (address is not { } via)
        {
            return default;
        }

        // The gateway must be on a connected subnet (the kernel refuses a default route via an unreachable gateway).
        foreach (ref readonly var route in _routes.AsSpan())
        {
            if (route.Contains(via, via.IsIPv4))
            {
                return new Gateway(route.Link, neighbors.GetOrAdd(route.Link, via));
            }
        }

        return default;
    }

    private readonly record struct Gateway(int Link, NeighborEntry? Entry);

    /// <summary>A connected subnet: the address's leading bits in the 128-bit form (IPv4 as ::ffff:a.b.c.d) and the link.</summary>
    private readonly record struct Route(ulong High, ulong Low, ulong HighMask, ulong LowMask, bool IPv4, int Link)
    {
        public static Route Of(InetPrefix prefix, int link)
        {
            bool ipv4 = prefix.Address.IsIPv4;
            int bits = ipv4 ? 96 + prefix.PrefixLength : prefix.PrefixLength;
            ulong highMask = bits >= 64 ? ulong.MaxValue : bits == 0 ? 0 : ulong.MaxValue << (64 - bits);
            ulong lowMask = bits <= 64 ? 0 : bits >= 128 ? ulong.MaxValue : ulong.MaxValue << (128 - bits);
            return new Route(prefix.Address.High & highMask, prefix.Address.Low & lowMask, highMask, lowMask, ipv4, link);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Contains(InetAddress address, bool ipv4) =>
            ipv4 == IPv4 && (address.High & HighMask) == High && (address.Low & LowMask) == Low;
    }
}
