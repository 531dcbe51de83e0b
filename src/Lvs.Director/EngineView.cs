using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using Lvs.Core;
using Lvs.Forwarding;

namespace Lvs.Director;

/// <summary>
/// What the packet path reads per frame, derived from one <see cref="ServiceTableSnapshot"/> and the links: for each
/// real server (by registry index) its link, its neighbour entry and its tunnel route; the addresses the director
/// answers for on each link. Rebuilt off the packet path whenever the table changes and published with one write.
/// </summary>
internal sealed class EngineView
{
    public required ServiceTableSnapshot Snapshot { get; init; }

    public required DestinationPath[] Paths { get; init; }

    /// <summary>The addresses the director answers ARP/NDP and echo for, per link.</summary>
    public required InetAddress[][] OwnedOnLink { get; init; }

    /// <summary>The FULLNAT local addresses (owned; packets to them are replies or nothing).</summary>
    public required InetAddress[] LocalAddresses { get; init; }

    /// <summary>Registry index by server object (the scheduler returns the object; the connection table stores the index).</summary>
    public required Dictionary<RealServer, int> IndexOf { get; init; }

    /// <summary>The firewall-mark rules, in order (empty when there are none).</summary>
    public required FirewallMarkRule[] MarkRules { get; init; }

    /// <summary>
    /// Whether any real server of the table forwards with FULLNAT, whose connections need their route line: without
    /// one, a batch skips the pass that prefetches it (a hint only; the line is read whenever it is needed).
    /// </summary>
    public required bool HasFullNat { get; init; }

    /// <summary>
    /// With <see cref="DirectorOptions.NatIcmpSend"/>, the protocol and endpoint of every NAT real server (the kernel's
    /// <c>rs_table</c> as <c>ip_vs_has_real_service</c> reads it), a firewall-mark service's under
    /// <see cref="L4Protocol.None"/> (any protocol); null when the option is off.
    /// </summary>
    public FrozenSet<(L4Protocol Protocol, InetEndpoint Endpoint)>? NatRealServices { get; init; }

    /// <summary>Whether <paramref name="source"/> is a NAT real server's endpoint for <paramref name="protocol"/> (<see cref="NatRealServices"/>).</summary>
    public bool IsNatRealService(L4Protocol protocol, InetEndpoint source) =>
        NatRealServices is { } set && (set.Contains((protocol, source)) || set.Contains((L4Protocol.None, source)));

    /// <summary>Whether a packet to this address is for a service: a VIP, or a destination a firewall-mark rule covers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsForAService(InetAddress destination) =>
        Snapshot.IsVirtualAddress(destination) || (MarkRules.Length != 0 && IsMarkedDestination(destination));

    /// <summary>The mark of a flow: that of the first rule that matches, or 0.</summary>
    public uint MarkOf(in FlowKey flow)
    {
        foreach (var rule in MarkRules)
        {
            if (rule.Matches(flow))
            {
                return rule.Mark;
            }
        }

        return 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool IsMarkedDestination(InetAddress destination)
    {
        foreach (var rule in MarkRules)
        {
            if (rule.Destination.Contains(destination))
            {
                return true;
            }
        }

        return false;
    }

    public bool IsLocalAddress(InetAddress address)
    {
        foreach (var local in LocalAddresses)
        {
            if (local == address)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether <paramref name="address"/> is one of the director's own, on any link: a link's address, a VIP, a local
    /// address (what the kernel's <c>inet_addr_type</c> calls <c>RTN_LOCAL</c> on a kernel director).
    /// </summary>
    public bool IsHostAddress(InetAddress address)
    {
        if (Snapshot.IsVirtualAddress(address) || IsLocalAddress(address))
        {
            return true;
        }

        for (int link = 0; link < OwnedOnLink.Length; link++)
        {
            if (OwnsOnLink(link, address))
            {
                return true;
            }
        }

        return false;
    }

    public bool OwnsOnLink(int link, InetAddress address)
    {
        if ((uint)link >= (uint)OwnedOnLink.Length)
        {
            return false;
        }

        foreach (var owned in OwnedOnLink[link])
        {
            if (owned == address)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>How to reach one real server: the link and next hop (a neighbour entry read lock-free), and its tunnel route.</summary>
internal struct DestinationPath
{
    public RealServer? Server;
    public int ServiceIndex;
    public int Link;
    public NeighborEntry? Neighbor;
    public TunnelRoute Tunnel;

    /// <summary>
    /// Whether connections to this server go to the packet's destination port rather than the server's: a server on
    /// port 0, or any server of a persistent service without a port (port 0 or a firewall mark), whose connections
    /// <c>ip_vs_sched_persist</c> sends to the packet's port whatever the server's.
    /// </summary>
    public bool PacketPort;

    /// <summary>
    /// Whether an established NAT connection's destination can be computed (<see cref="PacketPort"/> cannot change
    /// under it): true for services with a port, whose connections' destination does not depend on persistence; a
    /// port-0 or firewall-mark service may be edited into or out of persistence, so its connections' destinations are
    /// read from the connection table. Never true without a <see cref="Server"/>.
    /// </summary>
    public bool StableDestination;

    /// <summary>The port of the server's virtual service (0 for a firewall-mark service).</summary>
    public ushort ServicePort;
}
