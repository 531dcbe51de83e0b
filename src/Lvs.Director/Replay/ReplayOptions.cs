using Lvs.Core;

namespace Lvs.Director.Replay;

/// <summary>The simulated network around a replayed director.</summary>
public sealed record ReplayOptions
{
    /// <summary>The director's links: its addresses, subnets and MAC addresses (one link per distinct MAC, in order of first appearance).</summary>
    public IReadOnlyList<ReplayLink> Links { get; init; } = [];

    /// <summary>The neighbours' MAC addresses, set in the engine's neighbour table (each on the link whose subnet holds it); nothing is resolved by ARP.</summary>
    public IReadOnlyList<ReplayNeighbor> Neighbors { get; init; } = [];

    /// <summary>The FULLNAT local addresses (<c>--local-address</c>).</summary>
    public IReadOnlyList<InetAddress> LocalAddresses { get; init; } = [];

    /// <summary>The IPv4 default gateway, if any.</summary>
    public InetAddress? Gateway { get; init; }

    /// <summary>The IPv6 default gateway, if any.</summary>
    public InetAddress? GatewayV6 { get; init; }

    /// <summary>The rest of the director's options (forwarding, connection table, ...); links, gateways and local addresses come from this record.</summary>
    public DirectorOptions Director { get; init; } = new();
}
