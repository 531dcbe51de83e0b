namespace Lvs.Director.Statistics;

/// <summary>ipvsadm's counters of a service or a real server (<c>ipvsadm -L --stats</c>; the kernel's <c>ip_vs_kstats</c>).</summary>
/// <param name="Connections">Connections scheduled.</param>
/// <param name="InPackets">Packets from clients (to the real servers).</param>
/// <param name="OutPackets">Packets to clients (from the real servers, through the director: NAT and FULLNAT).</param>
/// <param name="InBytes">IP bytes from clients.</param>
/// <param name="OutBytes">IP bytes to clients.</param>
public readonly record struct IpvsCounters(long Connections, long InPackets, long OutPackets, long InBytes, long OutBytes)
{
    /// <summary>The sum of two sets of counters.</summary>
    /// <param name="left">One.</param>
    /// <param name="right">The other.</param>
    /// <returns>The sum.</returns>
    public static IpvsCounters operator +(IpvsCounters left, IpvsCounters right) =>
        new(left.Connections + right.Connections, left.InPackets + right.InPackets, left.OutPackets + right.OutPackets,
            left.InBytes + right.InBytes, left.OutBytes + right.OutBytes);

    /// <summary>The sum of two sets of counters.</summary>
    /// <param name="left">One.</param>
    /// <param name="right">The other.</param>
    /// <returns>The sum.</returns>
    public static IpvsCounters Add(IpvsCounters left, IpvsCounters right) => left + right;
}

/// <summary>ipvsadm's rates (<c>ipvsadm -L --rate</c>): per second, from the kernel's estimator (2-second samples, exponentially weighted).</summary>
/// <param name="ConnectionsPerSecond">CPS.</param>
/// <param name="InPacketsPerSecond">InPPS.</param>
/// <param name="OutPacketsPerSecond">OutPPS.</param>
/// <param name="InBytesPerSecond">InBPS.</param>
/// <param name="OutBytesPerSecond">OutBPS.</param>
public readonly record struct IpvsRates(long ConnectionsPerSecond, long InPacketsPerSecond, long OutPacketsPerSecond, long InBytesPerSecond, long OutBytesPerSecond);
