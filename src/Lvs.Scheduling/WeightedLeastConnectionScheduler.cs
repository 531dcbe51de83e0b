using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Weighted least connection (<c>wlc</c>, the kernel's <c>ip_vs_wlc.c</c> and its default): the schedulable server with
/// the smallest overhead / weight, compared by integer cross-multiplication (<c>loh * dw &gt; doh * lw</c>) as the
/// kernel does; the first in list order wins a tie.
/// </summary>
/// <remarks>A pick scans the server array once, reading the live counters, weights and overload flags.</remarks>
public sealed class WeightedLeastConnectionScheduler : IScheduler
{
    private readonly PublishedServerList _servers = new();

    /// <inheritdoc/>
    public string Name => SchedulerNames.WeightedLeastConnection;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers) => _servers.Replace(servers);

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow) => SelectLeast(_servers.Current);

    /// <summary>
    /// The kernel's weighted least-connection scan, shared with lblc and lblcr (<c>__ip_vs_lblc_schedule</c> is the same loop).
    /// </summary>
    /// <param name="servers">The servers in list order.</param>
    /// <returns>The least loaded schedulable server, or null.</returns>
    internal static RealServer? SelectLeast(RealServer[] servers)
    {
        RealServer? least = null;
        long leastOverhead = 0;
        long leastWeight = 0;
        foreach (var server in servers)
        {
            int weight = server.Weight;
            if (weight <= 0)
            {
                continue;
            }

            // overhead/weight < leastOverhead/leastWeight without division (both weights are positive; products stay below
            // 2^55). Flags are read only for a server that would win: the kernel's result with fewer reads per server.
            long overhead = server.Overhead;
            if (least is not null && leastOverhead * weight <= overhead * leastWeight)
            {
                continue;
            }

            if (server.IsOverloaded || !server.IsAvailable)
            {
                continue;
            }

            least = server;
            leastOverhead = overhead;
            leastWeight = weight;
        }

        return least;
    }
}
