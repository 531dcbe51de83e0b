using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Weighted failover (<c>fo</c>, the kernel's <c>ip_vs_fo.c</c>): every new connection goes to the schedulable server
/// with the highest weight, read live at the pick as the kernel does; the first in list order wins a tie. Lower weights
/// are standbys.
/// </summary>
/// <remarks>
/// The kernel scans the list for the highest live weight at every pick. Here <see cref="UpdateServers"/> also orders
/// the servers by weight (highest first, list order within a weight) and notes <see cref="RealServer.WeightVersion"/>:
/// while no weight has changed since, that order is the live one and a pick returns its first schedulable server,
/// usually the first entry (constant time). After a weight change the pick scans the live weights, as the kernel does,
/// and once a scan finds every weight as it was at the update (the change was elsewhere) the order is trusted again.
/// Overload and availability are checked at pick time either way.
/// </remarks>
public sealed class WeightedFailoverScheduler : IScheduler
{
    private Snapshot _snapshot = new([], [], [], 0);

    /// <inheritdoc/>
    public string Name => SchedulerNames.WeightedFailover;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers)
    {
        // The version first: a weight changed after this read raises it, so the order below is never trusted stale.
        long version = RealServer.WeightVersion;
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

        Volatile.Write(ref _snapshot, new Snapshot(copy, weights, byWeight[..count], version));
    }

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        if (RealServer.WeightVersion != Volatile.Read(ref snapshot.CheckedVersion))
        {
            return snapshot.SelectByLiveWeights();
        }

        foreach (var server in snapshot.ByWeight)
        {
            if (server.IsSchedulable)
            {
                return server;
            }
        }

        return null;
    }

    private sealed class Snapshot(RealServer[] servers, int[] weights, RealServer[] byWeight, long version)
    {
        public readonly RealServer[] Servers = servers;
        public readonly int[] Weights = weights;
        public readonly RealServer[] ByWeight = byWeight;

        // The weight version at which Weights last matched the live weights; the only mutable field.
        public long CheckedVersion = version;

        /// <summary>ip_vs_fo_schedule: the highest live weight among servers not overloaded, the first of equal ones.</summary>
        public RealServer? SelectByLiveWeights()
        {
            long version = RealServer.WeightVersion;
            long checkedVersion = Volatile.Read(ref CheckedVersion);
            bool unchanged = true;
            RealServer? highest = null;
            int highestWeight = 0;
            for (int i = 0; i < Servers.Length; i++)
            {
                var server = Servers[i];
                int weight = server.Weight;
                unchanged &= weight == Weights[i];
                if (weight > highestWeight && !server.IsOverloaded && server.IsAvailable)
                {
                    highest = server;
                    highestWeight = weight;
                }
            }

            if (unchanged)
            {
                // Every weight read after the version was as at the update: the order holds at that version.
                _ = Interlocked.CompareExchange(ref CheckedVersion, version, checkedVersion);
            }

            return highest;
        }
    }
}
