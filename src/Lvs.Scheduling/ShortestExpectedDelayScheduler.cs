using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Shortest expected delay (<c>sed</c>, the kernel's <c>ip_vs_sed.c</c>): the schedulable server with the smallest
/// (active connections + 1) / weight, compared by integer cross-multiplication; the first in list order wins a tie.
/// </summary>
/// <remarks>
/// The kernel's sed counts active connections only (not the lc overhead): the +1 is the connection being scheduled, so
/// an idle heavy server beats an idle light one.
/// </remarks>
public sealed class ShortestExpectedDelayScheduler : IScheduler
{
    private readonly PublishedServerList _servers;

    /// <summary>Creates the scheduler with no servers and the default options.</summary>
    public ShortestExpectedDelayScheduler()
        : this(null)
    {
    }

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">The options (<see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/>); null for the defaults.</param>
    public ShortestExpectedDelayScheduler(SchedulerOptions? options) =>
        _servers = new PublishedServerList(options);

    /// <inheritdoc/>
    public string Name => SchedulerNames.ShortestExpectedDelay;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers) => _servers.Replace(servers);

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow) => WeightedLeastLoad.Select<ExpectedDelayLoad>(_servers.Snapshot);
}
