using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Locality-based least connection with replication (<c>lblcr</c>, the kernel's <c>ip_vs_lblcr.c</c>): each destination
/// address maps to a set of servers; a connection goes to the set's least loaded member (weighted least connection),
/// and when that one is busier than its weight while another server is below half of its own, the least loaded server
/// overall joins the set. A set that has not changed for the expiration loses its busiest member.
/// </summary>
/// <remarks>
/// <para>
/// Sets are immutable arrays replaced by compare-and-swap, so picks never lock; changing a set allocates a new array
/// (as the kernel allocates a set element). New members go first, as the kernel's <c>list_add</c>, which decides ties.
/// The table is cleaned by the kernel's timer-driven rules on <see cref="SchedulerOptions.TimeProvider"/>, and a new
/// destination gets no entry while the table holds more than 16384 (the connection is still scheduled). Dispose the
/// scheduler to stop the timer.
/// </para>
/// <para>
/// Differs from the kernel in one way: set members over their connection threshold (ipvsadm <c>-x</c>) are skipped as
/// everywhere else; so does the kernel's <c>ip_vs_dest_set_min</c>, so this only makes the rule uniform.
/// </para>
/// </remarks>
public sealed class LocalityBasedLeastConnectionWithReplicationScheduler : IScheduler, IDisposable
{
    private readonly PublishedServerList _servers = new();
    private readonly LocalityTable<Entry> _table;

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">The options (<see cref="SchedulerOptions.TimeProvider"/>, <see cref="SchedulerOptions.LocalityExpiration"/>); null for the defaults.</param>
    public LocalityBasedLeastConnectionWithReplicationScheduler(SchedulerOptions? options = null)
    {
        options ??= SchedulerOptions.Default;
        _table = new LocalityTable<Entry>(options.TimeProvider, options.LocalityExpiration);
    }

    /// <inheritdoc/>
    public string Name => SchedulerNames.LocalityBasedLeastConnectionWithReplication;

    /// <summary>The number of destination addresses in the table.</summary>
    public int Count => _table.Count;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers)
    {
        _servers.Replace(servers);
        var present = new HashSet<RealServer>(_servers.Current, ReferenceEqualityComparer.Instance);
        _table.Retain(entry =>
        {
            var set = entry.Set;
            if (Array.TrueForAll(set, present.Contains))
            {
                return true;
            }

            var kept = Array.FindAll(set, present.Contains);
            entry.Set = kept;
            return kept.Length > 0;
        });
    }

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        var servers = _servers.Snapshot;
        var destination = flow.DestinationAddress;
        long now = _table.Now;
        if (!_table.TryGet(destination, out var entry))
        {
            var first = WeightedLeastLoad.Select<ConnectionOverheadLoad>(servers);
            if (first is not null && _table.Count <= LocalityTable<Entry>.MaxSize)
            {
                _table.TryAdd(destination, new Entry(first, now));
            }

            return first;
        }

        entry.LastUse = now;
        var server = WeightedLeastLoad.Select<ConnectionOverheadLoad>(entry.Set);

        // More than one member and no change for the expiration: drop the busiest member.
        if (entry.Set.Length > 1 && now - entry.LastModified > _table.Expiration)
        {
            entry.RemoveBusiest(now);
        }

        if (server is not null && !LocalityBasedLeastConnectionScheduler.IsBusierThanOthers(server, servers))
        {
            return server;
        }

        server = WeightedLeastLoad.Select<ConnectionOverheadLoad>(servers);
        if (server is not null)
        {
            entry.Add(server, now);
        }

        return server;
    }

    /// <summary>Stops the table's collection timer.</summary>
    public void Dispose() => _table.Dispose();

    /// <summary>Runs one periodic collection now (tests).</summary>
    internal void CheckExpire() => _table.CheckExpire();

    /// <summary>The current server set of a destination address (tests).</summary>
    /// <param name="destination">The destination address.</param>
    /// <returns>The set, empty when the address has no entry.</returns>
    internal RealServer[] SetOf(InetAddress destination) => _table.TryGet(destination, out var entry) ? entry.Set : [];

    private sealed class Entry(RealServer first, long now) : LocalityEntry(now)
    {
        private RealServer[] _set = [first];
        private long _lastModified = now;

        public RealServer[] Set
        {
            get => Volatile.Read(ref _set);
            set => Volatile.Write(ref _set, value);
        }

        public long LastModified => Volatile.Read(ref _lastModified);

        public void Add(RealServer server, long now)
        {
            while (true)
            {
                var set = Set;
                if (Array.IndexOf(set, server) >= 0)
                {
                    return;
                }

                if (Interlocked.CompareExchange(ref _set, [server, .. set], set) == set)
                {
                    Volatile.Write(ref _lastModified, now);
                    return;
                }
            }
        }

        public void RemoveBusiest(long now)
        {
            while (true)
            {
                var set = Set;
                if (set.Length <= 1)
                {
                    return;
                }

                var busiest = Busiest(set);
                if (busiest is null)
                {
                    return;
                }

                if (Interlocked.CompareExchange(ref _set, Array.FindAll(set, s => s != busiest), set) == set)
                {
                    Volatile.Write(ref _lastModified, now);
                    return;
                }
            }
        }

        // ip_vs_dest_set_max: the member with the largest overhead / weight among those with a weight.
        private static RealServer? Busiest(RealServer[] set)
        {
            RealServer? most = null;
            long mostOverhead = 0;
            long mostWeight = 0;
            foreach (var server in set)
            {
                int weight = server.Weight;
                if (weight <= 0)
                {
                    continue;
                }

                long overhead = server.Overhead;
                if (most is null || mostOverhead * weight < overhead * mostWeight)
                {
                    most = server;
                    mostOverhead = overhead;
                    mostWeight = weight;
                }
            }

            return most;
        }
    }
}
