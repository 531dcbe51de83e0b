using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Locality-based least connection (<c>lblc</c>, the kernel's <c>ip_vs_lblc.c</c>): each destination address sticks to
/// the server it was first given (by weighted least connection), so a cache cluster keeps each origin on one cache; it
/// moves to a new least-loaded server only when its server is gone, unavailable, quiesced, or busier than its weight
/// while another server is below half of its own.
/// </summary>
/// <remarks>
/// <para>
/// The table is cleaned by the kernel's timer-driven rules on <see cref="SchedulerOptions.TimeProvider"/> (see
/// <see cref="SchedulerOptions.LocalityExpiration"/>); dispose the scheduler to stop the timer. Entries whose server
/// leaves the set are dropped at <see cref="UpdateServers"/>, and a cached server counts only when the list the pick
/// reads holds its endpoint, so an entry written by a pick that raced with an update never sends a client to a
/// removed server.
/// </para>
/// <para>
/// As in the kernel, the cache hit does not look at the connection threshold flag (ipvsadm <c>-x</c>,
/// <see cref="RealServer.IsOverloaded"/>): only lblc's own "busier than its weight" rule moves a destination away from
/// its server. A cached server over its threshold is therefore returned; a new destination never goes to one.
/// </para>
/// </remarks>
public sealed class LocalityBasedLeastConnectionScheduler : IScheduler, IDisposable
{
    private readonly PublishedServerList _servers;
    private readonly LocalityTable<Entry> _table;

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">
    /// The options (<see cref="SchedulerOptions.TimeProvider"/>, <see cref="SchedulerOptions.LocalityExpiration"/>,
    /// <see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/>); null for the defaults.
    /// </param>
    public LocalityBasedLeastConnectionScheduler(SchedulerOptions? options = null)
    {
        options ??= SchedulerOptions.Default;
        _table = new LocalityTable<Entry>(options.TimeProvider, options.LocalityExpiration);
        _servers = new PublishedServerList(options);
    }

    /// <inheritdoc/>
    public string Name => SchedulerNames.LocalityBasedLeastConnection;

    /// <summary>The number of destination addresses in the table.</summary>
    public int Count => _table.Count;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers)
    {
        _servers.Replace(servers);

        // Only to free memory early: correctness does not depend on it, since a pick that read the previous list may
        // still write an entry for a server removed here, and every hit checks its server against the current list.
        var current = _servers.Snapshot;
        _table.Retain(entry => current.IndexOf(entry.Server.Endpoint) >= 0);
    }

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        var servers = _servers.Snapshot;
        var destination = flow.DestinationAddress;
        long now = _table.Now;
        if (_table.TryGet(destination, out var entry))
        {
            entry.LastUse = now;

            // ip_vs_lblc_schedule's hit test: available, weight above 0, and not is_overloaded. The kernel's removed
            // dest loses IP_VS_DEST_F_AVAILABLE; here "available" also means "in the list this pick read".
            var remembered = entry.Server;
            int index = servers.Find(remembered, entry.Index);
            if (index >= 0)
            {
                var cached = servers.Servers[index];
                if (cached.IsAvailable && cached.Weight > 0 && !IsBusierThanOthers(cached, servers))
                {
                    if (!ReferenceEquals(cached, remembered))
                    {
                        entry.Bind(cached, index);
                    }

                    return cached;
                }
            }
        }

        int least = WeightedLeastLoad.SelectIndex<ConnectionOverheadLoad>(servers);
        if (least < 0)
        {
            return null;
        }

        var server = servers.Servers[least];
        if (entry is not null)
        {
            // ip_vs_lblc_new replaces the entry; reusing it keeps the miss path allocation-free.
            entry.Bind(server, least);
        }
        else
        {
            _table.Set(destination, new Entry(server, least, now));
        }

        return server;
    }

    /// <summary>Stops the table's collection timer.</summary>
    public void Dispose() => _table.Dispose();

    /// <summary>Runs one periodic collection now (tests).</summary>
    internal void CheckExpire() => _table.CheckExpire();

    /// <summary>
    /// The kernel's lblc/lblcr <c>is_overloaded</c>: more active connections than its weight while some server has fewer
    /// than half of its own.
    /// </summary>
    /// <param name="server">The cached server.</param>
    /// <param name="servers">All servers, with their load block.</param>
    /// <returns>True when the connection should move.</returns>
    internal static bool IsBusierThanOthers(RealServer server, ServerListSnapshot servers)
    {
        if (server.ActiveConnections <= server.Weight)
        {
            return false;
        }

        if (servers.TryScanBlock(LoadBlockScan.AnyBelowHalfWeight, out bool any))
        {
            return any;
        }

        foreach (var other in servers.Servers)
        {
            if ((long)other.ActiveConnections * 2 < other.Weight)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A destination's server and its index in the list it was chosen from. The two fields are written separately: a
    /// reader that sees them torn only misses the one-read check of <see cref="ServerListSnapshot.Find"/> and looks
    /// the server up by endpoint.
    /// </summary>
    private sealed class Entry(RealServer server, int index, long now) : LocalityEntry(now)
    {
        private RealServer _server = server;
        private int _index = index;

        public RealServer Server => Volatile.Read(ref _server);

        public int Index => Volatile.Read(ref _index);

        public void Bind(RealServer server, int index)
        {
            Volatile.Write(ref _server, server);
            Volatile.Write(ref _index, index);
        }
    }
}
