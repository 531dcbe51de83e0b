using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Never queue (<c>nq</c>, the kernel's <c>ip_vs_nq.c</c>): the first schedulable server with no active connection if
/// there is one, otherwise the shortest expected delay ((active + 1) / weight, integer cross-multiplication).
/// </summary>
public sealed class NeverQueueScheduler : IScheduler
{
    private readonly PublishedServerList _servers;

    /// <summary>Creates the scheduler with no servers and the default options.</summary>
    public NeverQueueScheduler()
        : this(null)
    {
    }

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">The options (<see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/>); null for the defaults.</param>
    public NeverQueueScheduler(SchedulerOptions? options) =>
        _servers = new PublishedServerList(options);

    /// <inheritdoc/>
    public string Name => SchedulerNames.NeverQueue;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers) => _servers.Replace(servers);

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow) => WeightedLeastLoad.Select<ExpectedDelayLoad>(_servers.Snapshot, idleWins: true);
}
