using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Round robin (<c>rr</c>, the kernel's <c>ip_vs_rr.c</c>): each new connection goes to the next schedulable server
/// after the one picked last, in list order, whatever the weights (weight 0 still quiesces).
/// </summary>
/// <remarks>
/// The position is one integer in the published snapshot, advanced with a compare-and-swap, so concurrent picks never
/// block and never pick the same turn twice. When the server set changes the position follows the last picked server;
/// if that server was removed it moves back to the nearest surviving predecessor, as the kernel's
/// <c>ip_vs_rr_del_dest</c> does. Servers are identified by endpoint, not by object.
/// </remarks>
public sealed class RoundRobinScheduler : IScheduler
{
    private readonly Lock _updateLock = new();
    private Snapshot _snapshot = new([], -1);

    /// <inheritdoc/>
    public string Name => SchedulerNames.RoundRobin;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers)
    {
        var copy = ServerSet.Copy(servers, sortByEndpoint: false);
        lock (_updateLock)
        {
            // The position follows the server picked last, identified by its endpoint (a server's identity within
            // its service), so a list rebuilt from new objects with the same endpoints keeps the cycle where it was.
            var old = _snapshot;
            int last = (int)Volatile.Read(ref old.Last.Value);
            var indexByEndpoint = new Dictionary<InetEndpoint, int>(copy.Length);
            for (int i = 0; i < copy.Length; i++)
            {
                indexByEndpoint[copy[i].Endpoint] = i;
            }

            int position = -1;
            for (int i = last; i >= 0 && position < 0; i--)
            {
                position = indexByEndpoint.GetValueOrDefault(old.Servers[i].Endpoint, -1);
            }

            Volatile.Write(ref _snapshot, new Snapshot(copy, position));
        }
    }

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        var servers = snapshot.Servers;
        int count = servers.Length;
        while (true)
        {
            long last = Volatile.Read(ref snapshot.Last.Value);
            int i = (int)last;
            RealServer? found = null;
            for (int step = 0; step < count; step++)
            {
                i = i + 1 >= count ? 0 : i + 1;
                if (servers[i].IsSchedulable)
                {
                    found = servers[i];
                    break;
                }
            }

            if (found is null)
            {
                return null;
            }

            if (Interlocked.CompareExchange(ref snapshot.Last.Value, i, last) == last)
            {
                return found;
            }
        }
    }

    private sealed class Snapshot(RealServer[] servers, int last)
    {
        public readonly RealServer[] Servers = servers;

        // Index of the server picked last, -1 for the list head; the only mutable field, advanced by CAS, on a cache
        // line of its own (see IsolatedWord).
        public IsolatedWord Last = new() { Value = last };
    }
}
