using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Never queue (<c>nq</c>, the kernel's <c>ip_vs_nq.c</c>): the first schedulable server with no active connection if
/// there is one, otherwise the shortest expected delay ((active + 1) / weight, integer cross-multiplication).
/// </summary>
public sealed class NeverQueueScheduler : IScheduler
{
    private readonly PublishedServerList _servers = new();

    /// <inheritdoc/>
    public string Name => SchedulerNames.NeverQueue;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers) => _servers.Replace(servers);

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        RealServer? least = null;
        long leastOverhead = 0;
        long leastWeight = 0;
        foreach (var server in _servers.Current)
        {
            int weight = server.Weight;
            if (weight <= 0)
            {
                continue;
            }

            int active = server.ActiveConnections;
            long overhead = (long)active + 1;
            if (active != 0 && least is not null && leastOverhead * weight <= overhead * leastWeight)
            {
                continue;
            }

            if (server.IsOverloaded || !server.IsAvailable)
            {
                continue;
            }

            if (active == 0)
            {
                // An idle server takes the connection at once: nobody queues behind a busy fast server.
                return server;
            }

            least = server;
            leastOverhead = overhead;
            leastWeight = weight;
        }

        return least;
    }
}
