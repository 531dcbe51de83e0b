using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Weighted failover (<c>fo</c>, the kernel's <c>ip_vs_fo.c</c>): every new connection goes to the schedulable server
/// with the highest weight; the first in list order wins a tie. Lower weights are standbys.
/// </summary>
/// <remarks>
/// The kernel scans the list for the highest live weight. Here <see cref="UpdateServers"/> orders the servers by
/// weight (highest first, list order within a weight) and a pick returns the first schedulable one, usually the first
/// entry: constant time instead of a scan. Weights are therefore those of the last update, as for the table-driven
/// schedulers; weight 0, overload and removal are still honoured at pick time.
/// </remarks>
public sealed class WeightedFailoverScheduler : IScheduler
{
    private RealServer[] _byWeight = [];

    /// <inheritdoc/>
    public string Name => SchedulerNames.WeightedFailover;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers)
    {
        var copy = ServerSet.Copy(servers, sortByEndpoint: false);
        var weights = Array.ConvertAll(copy, s => s.Weight);
        var order = new int[copy.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        // Highest weight first, list order within a weight (the kernel keeps the first of equal weights).
        Array.Sort(order, (a, b) => weights[a] != weights[b] ? weights[b].CompareTo(weights[a]) : a.CompareTo(b));
        var byWeight = new RealServer[copy.Length];
        int count = 0;
        foreach (int i in order)
        {
            if (weights[i] > 0)
            {
                byWeight[count++] = copy[i];
            }
        }

        Volatile.Write(ref _byWeight, byWeight[..count]);
    }

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        foreach (var server in Volatile.Read(ref _byWeight))
        {
            if (server.IsSchedulable)
            {
                return server;
            }
        }

        return null;
    }
}
