namespace Lvs.Scheduling;

/// <summary>The ipvsadm names of the fourteen built-in schedulers (<c>ipvsadm -s NAME</c>).</summary>
public static class SchedulerNames
{
    /// <summary>Round robin.</summary>
    public const string RoundRobin = "rr";

    /// <summary>Weighted round robin.</summary>
    public const string WeightedRoundRobin = "wrr";

    /// <summary>Least connection.</summary>
    public const string LeastConnection = "lc";

    /// <summary>Weighted least connection (the kernel's default).</summary>
    public const string WeightedLeastConnection = "wlc";

    /// <summary>Shortest expected delay.</summary>
    public const string ShortestExpectedDelay = "sed";

    /// <summary>Never queue.</summary>
    public const string NeverQueue = "nq";

    /// <summary>Locality-based least connection.</summary>
    public const string LocalityBasedLeastConnection = "lblc";

    /// <summary>Locality-based least connection with replication.</summary>
    public const string LocalityBasedLeastConnectionWithReplication = "lblcr";

    /// <summary>Destination hashing.</summary>
    public const string DestinationHashing = "dh";

    /// <summary>Source hashing.</summary>
    public const string SourceHashing = "sh";

    /// <summary>Maglev hashing.</summary>
    public const string MaglevHashing = "mh";

    /// <summary>Weighted failover.</summary>
    public const string WeightedFailover = "fo";

    /// <summary>Weighted overflow.</summary>
    public const string WeightedOverflow = "ovf";

    /// <summary>Power of two choices.</summary>
    public const string PowerOfTwoChoices = "twos";

    /// <summary>
    /// Whether the built-in scheduler of this name scans every server's connection counts (lc, wlc, sed, nq, ovf, lblc,
    /// lblcr): the ones <see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/> applies to.
    /// </summary>
    /// <param name="name">An ipvsadm scheduler name (any case).</param>
    /// <returns>True for those seven.</returns>
    public static bool ScansEveryServersCounts(string name) =>
        name.ToLowerInvariant() is LeastConnection or WeightedLeastConnection or ShortestExpectedDelay or NeverQueue
            or WeightedOverflow or LocalityBasedLeastConnection or LocalityBasedLeastConnectionWithReplication;
}
