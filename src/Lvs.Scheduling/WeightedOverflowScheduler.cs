using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Weighted overflow (<c>ovf</c>, the kernel's <c>ip_vs_ovf.c</c>): the schedulable server with the highest weight whose
/// active connections do not exceed its weight; when it fills up, connections overflow to the next highest weight.
/// The first in list order wins a tie.
/// </summary>
/// <remarks>
/// As in the kernel, ovf counts active connections against the weight (not the lc overhead), so it suits TCP better
/// than UDP, whose connections are never active.
/// </remarks>
public sealed class WeightedOverflowScheduler : IScheduler
{
    private readonly PublishedServerList _servers;

    /// <summary>Creates the scheduler with no servers and the default options.</summary>
    public WeightedOverflowScheduler()
        : this(null)
    {
    }

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">The options (<see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/>); null for the defaults.</param>
    public WeightedOverflowScheduler(SchedulerOptions? options) =>
        _servers = new PublishedServerList(options);

    /// <inheritdoc/>
    public string Name => SchedulerNames.WeightedOverflow;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers) => _servers.Replace(servers);

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        var list = _servers.Snapshot;
        return list.TryScanBlock(LoadBlockScan.WeightedOverflow, out int index) ? list.ServerAt(index) : SelectByObjects(list.Servers);
    }

    private static RealServer? SelectByObjects(RealServer[] servers)
    {
        RealServer? highest = null;
        int highestWeight = 0;
        foreach (var server in servers)
        {
            int weight = server.Weight;
            if (weight <= highestWeight || server.ActiveConnections > weight || server.IsOverloaded || !server.IsAvailable)
            {
                continue;
            }

            highest = server;
            highestWeight = weight;
        }

        return highest;
    }
}
