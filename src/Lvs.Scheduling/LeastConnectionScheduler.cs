using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Least connection (<c>lc</c>, the kernel's <c>ip_vs_lc.c</c>): the schedulable server with the smallest overhead
/// (active connections x 256 + inactive ones); weights only matter when they are 0; the first in list order wins a tie.
/// </summary>
/// <remarks>
/// A pick scans the servers' load block once (<see cref="LoadBlockScan.LeastConnection(RealServerLoadBlock, int)"/>), reading the live counters,
/// weights and flags; when the block is stale (a server was attached to another scheduler's block since) it scans the
/// server objects instead, with the same result.
/// </remarks>
public sealed class LeastConnectionScheduler : IScheduler
{
    private readonly PublishedServerList _servers;

    /// <summary>Creates the scheduler with no servers and the default options.</summary>
    public LeastConnectionScheduler()
        : this(null)
    {
    }

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">The options (<see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/>); null for the defaults.</param>
    public LeastConnectionScheduler(SchedulerOptions? options) =>
        _servers = new PublishedServerList(options);

    /// <inheritdoc/>
    public string Name => SchedulerNames.LeastConnection;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers) => _servers.Replace(servers);

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        var list = _servers.Snapshot;
        return list.TryScanBlock(LoadBlockScan.LeastConnection, out int index) ? list.ServerAt(index) : SelectByObjects(list.Servers);
    }

    private static RealServer? SelectByObjects(RealServer[] servers)
    {
        RealServer? least = null;
        long leastOverhead = 0;
        foreach (var server in servers)
        {
            // Load first, flags only for a server that would win: the same result as the kernel's skip-then-compare,
            // with fewer reads per server.
            long overhead = server.Overhead;
            if (least is not null && overhead >= leastOverhead)
            {
                continue;
            }

            if (!server.IsSchedulable)
            {
                continue;
            }

            least = server;
            leastOverhead = overhead;
        }

        return least;
    }
}
