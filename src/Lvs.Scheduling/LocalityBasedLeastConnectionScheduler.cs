using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Locality-based least connection (<c>lblc</c>, the kernel's <c>ip_vs_lblc.c</c>): each destination address sticks to
/// the server it was first given (by weighted least connection), so a cache cluster keeps each origin on one cache; it
/// moves to a new least-loaded server only when its server is gone, quiesced, or busier than its weight while another
/// server is below half of its own.
/// </summary>
/// <remarks>
/// <para>
/// The table is cleaned by the kernel's timer-driven rules on <see cref="SchedulerOptions.TimeProvider"/> (see
/// <see cref="SchedulerOptions.LocalityExpiration"/>); dispose the scheduler to stop the timer. Entries whose server
/// leaves the set are dropped at <see cref="UpdateServers"/>.
/// </para>
/// <para>
/// Differs from the kernel in one way: a cached server over its connection threshold (ipvsadm <c>-x</c>) is not
/// returned; the kernel's cache hit ignores that flag and only the miss path honours it.
/// </para>
/// </remarks>
public sealed class LocalityBasedLeastConnectionScheduler : IScheduler, IDisposable
{
    private readonly PublishedServerList _servers = new();
    private readonly LocalityTable<Entry> _table;

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">The options (<see cref="SchedulerOptions.TimeProvider"/>, <see cref="SchedulerOptions.LocalityExpiration"/>); null for the defaults.</param>
    public LocalityBasedLeastConnectionScheduler(SchedulerOptions? options = null)
    {
        options ??= SchedulerOptions.Default;
        _table = new LocalityTable<Entry>(options.TimeProvider, options.LocalityExpiration);
    }

    /// <inheritdoc/>
    public string Name => SchedulerNames.LocalityBasedLeastConnection;

    /// <summary>The number of destination addresses in the table.</summary>
    public int Count => _table.Count;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers)
    {
        _servers.Replace(servers);
        var present = new HashSet<RealServer>(_servers.Current, ReferenceEqualityComparer.Instance);
        _table.Retain(entry => present.Contains(entry.Server));
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
            var cached = entry.Server;
            if (cached.IsSchedulable && !IsBusierThanOthers(cached, servers))
            {
                return cached;
            }
        }

        var server = WeightedLeastLoad.Select<ConnectionOverheadLoad>(servers);
        if (server is null)
        {
            return null;
        }

        if (entry is not null)
        {
            // ip_vs_lblc_new replaces the entry; reusing it keeps the hit path allocation-free.
            entry.Server = server;
        }
        else
        {
            _table.Set(destination, new Entry(server, now));
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

    private sealed class Entry(RealServer server, long now) : LocalityEntry(now)
    {
        private RealServer _server = server;

        public RealServer Server
        {
            get => Volatile.Read(ref _server);
            set => Volatile.Write(ref _server, value);
        }
    }
}
