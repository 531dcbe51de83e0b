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
    private readonly PublishedServerList _servers;
    private readonly LocalityTable<Entry> _table;

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">
    /// The options (<see cref="SchedulerOptions.TimeProvider"/>, <see cref="SchedulerOptions.LocalityExpiration"/>,
    /// <see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/>); null for the defaults.
    /// </param>
    public LocalityBasedLeastConnectionWithReplicationScheduler(SchedulerOptions? options = null)
    {
        options ??= SchedulerOptions.Default;
        _table = new LocalityTable<Entry>(options.TimeProvider, options.LocalityExpiration);
        _servers = new PublishedServerList(options);
    }

    /// <inheritdoc/>
    public string Name => SchedulerNames.LocalityBasedLeastConnectionWithReplication;

    /// <summary>The number of destination addresses in the table.</summary>
    public int Count => _table.Count;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers)
    {
        _servers.Replace(servers);

        // Only to free memory early: every pick checks a set against the list it read (Entry.MembersFor), so a set
        // that a racing pick extended with a server removed here never returns it.
        var current = _servers.Snapshot;
        _table.Retain(entry => entry.MembersFor(current, _servers).Servers.Length > 0);
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
                _table.TryAdd(destination, new Entry(first, servers, now));
            }

            return first;
        }

        entry.LastUse = now;
        var members = entry.MembersFor(servers, _servers).Servers;
        var server = WeightedLeastLoad.Select<ConnectionOverheadLoad>(members);

        // More than one member and no change for the expiration: drop the busiest member.
        if (members.Length > 1 && now - entry.LastModified > _table.Expiration)
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
            entry.Add(server, servers, now);
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
    internal RealServer[] SetOf(InetAddress destination) => _table.TryGet(destination, out var entry) ? entry.Members.Servers : [];

    /// <summary>
    /// An immutable server set, with the published list all its members are known to belong to (null when unknown).
    /// </summary>
    /// <param name="servers">The members, newest first.</param>
    /// <param name="checkedAgainst">The list every member is in, or null.</param>
    private sealed class MemberSet(RealServer[] servers, ServerListSnapshot? checkedAgainst)
    {
        public readonly RealServer[] Servers = servers;
        public readonly ServerListSnapshot? CheckedAgainst = checkedAgainst;
    }

    private sealed class Entry(RealServer first, ServerListSnapshot list, long now) : LocalityEntry(now)
    {
        private MemberSet _members = new([first], list);
        private long _lastModified = now;

        public MemberSet Members => Volatile.Read(ref _members);

        public long LastModified => Volatile.Read(ref _lastModified);

        /// <summary>
        /// The set restricted to a list: as it is when it was last checked against that list (one compare), otherwise
        /// each member looked up by endpoint (its identity) and replaced by the list's object, members gone from the
        /// list dropped (the kernel skips members that lost <c>IP_VS_DEST_F_AVAILABLE</c>). The check allocates once
        /// per entry and update. The checked set is stored only while the list is still the published one: a pick that
        /// read a list an update has just replaced must not put its older view back.
        /// </summary>
        public MemberSet MembersFor(ServerListSnapshot list, PublishedServerList published)
        {
            while (true)
            {
                var set = Members;
                if (ReferenceEquals(set.CheckedAgainst, list))
                {
                    return set;
                }

                var kept = new List<RealServer>(set.Servers.Length);
                foreach (var member in set.Servers)
                {
                    int index = list.IndexOf(member.Endpoint);
                    if (index >= 0 && !kept.Contains(list.Servers[index]))
                    {
                        kept.Add(list.Servers[index]);
                    }
                }

                var checkedSet = new MemberSet([.. kept], list);
                if (!ReferenceEquals(list, published.Snapshot) || Interlocked.CompareExchange(ref _members, checkedSet, set) == set)
                {
                    return checkedSet;
                }
            }
        }

        public void Add(RealServer server, ServerListSnapshot list, long now)
        {
            while (true)
            {
                var set = Members;
                if (Array.IndexOf(set.Servers, server) >= 0)
                {
                    return;
                }

                // The server comes from the list the pick read; the other members are known to be in it only if the
                // set was checked against that same list.
                var checkedAgainst = ReferenceEquals(set.CheckedAgainst, list) ? list : null;
                if (Interlocked.CompareExchange(ref _members, new MemberSet([server, .. set.Servers], checkedAgainst), set) == set)
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
                var set = Members;
                if (set.Servers.Length <= 1)
                {
                    return;
                }

                var busiest = Busiest(set.Servers);
                if (busiest is null)
                {
                    return;
                }

                var rest = new MemberSet(Array.FindAll(set.Servers, s => s != busiest), set.CheckedAgainst);
                if (Interlocked.CompareExchange(ref _members, rest, set) == set)
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
