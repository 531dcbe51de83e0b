namespace Lvs.Devices.Neighbors;

/// <summary>
/// The neighbour cache's parameters, with the Linux kernel's defaults for ARP and NDP (<c>arp_tbl</c> and
/// <c>nd_tbl</c> in net/ipv4/arp.c and net/ipv6/ndisc.c; the sysctls under <c>net.ipv4.neigh.default</c>).
/// </summary>
public sealed record NeighborParameters
{
    /// <summary>The kernel's defaults.</summary>
    public static NeighborParameters Default { get; } = new();

    /// <summary><c>mcast_solicit</c>: broadcast (multicast) requests sent for an unknown neighbour before it is marked failed. 3.</summary>
    public int MulticastProbes { get; init; } = 3;

    /// <summary><c>ucast_solicit</c>: unicast requests sent to re-check a known neighbour before it is marked failed. 3.</summary>
    public int UnicastProbes { get; init; } = 3;

    /// <summary><c>retrans_time</c>: the time between two requests. 1 second.</summary>
    public TimeSpan RetransmitTime { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// <c>base_reachable_time</c>: how long a confirmed neighbour stays reachable, randomised between half and one and
    /// a half times this value (<c>neigh_rand_reach_time</c>, RFC 4861 6.3.2). 30 seconds.
    /// </summary>
    public TimeSpan BaseReachableTime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary><c>gc_stale_time</c>: how long an entry nobody asked for is kept after its last confirmation. 60 seconds.</summary>
    public TimeSpan GcStaleTime { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// <c>unres_qlen</c>: the packets held per unresolved neighbour; when more arrive the oldest is dropped. The
    /// kernel's default, 101, is <c>unres_qlen_bytes</c> (212,992) over the true size of a full Ethernet frame (before
    /// Linux 3.3 it was 3 packets).
    /// </summary>
    public int UnresolvedQueueLength { get; init; } = 101;

    /// <summary>A reachable time drawn from [<see cref="BaseReachableTime"/>/2, 3 <see cref="BaseReachableTime"/>/2) (<c>neigh_rand_reach_time</c>).</summary>
    /// <param name="random">The random source.</param>
    /// <returns>The time.</returns>
    public TimeSpan RandomReachableTime(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        long ticks = BaseReachableTime.Ticks;
        return ticks <= 0 ? TimeSpan.Zero : TimeSpan.FromTicks((ticks / 2) + random.NextInt64(ticks));
    }

    /// <summary>Throws when a parameter is out of range.</summary>
    /// <exception cref="ArgumentException">A parameter is invalid.</exception>
    public void Validate()
    {
        if (MulticastProbes < 1 || UnicastProbes < 0 || RetransmitTime <= TimeSpan.Zero || BaseReachableTime <= TimeSpan.Zero || GcStaleTime < TimeSpan.Zero || UnresolvedQueueLength < 0)
        {
            throw new ArgumentException($"Invalid neighbour parameters: {this}.");
        }
    }
}
