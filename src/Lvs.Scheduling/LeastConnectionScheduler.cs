using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Least connection (<c>lc</c>, the kernel's <c>ip_vs_lc.c</c>): the schedulable server with the smallest overhead
/// (active connections x 256 + inactive ones); weights only matter when they are 0; the first in list order wins a tie.
/// </summary>
/// <remarks>
/// A pick scans the server array once, reading the live counters; weights and flags are read only for a server that
/// would win, which gives the kernel's result with fewer reads.
/// </remarks>
public sealed class LeastConnectionScheduler : IScheduler
{
    private readonly PublishedServerList _servers = new();

    /// <inheritdoc/>
    public string Name => SchedulerNames.LeastConnection;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers) => _servers.Replace(servers);

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        RealServer? least = null;
        long leastOverhead = 0;
        foreach (var server in _servers.Current)
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
