using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// A published server list of a scanning scheduler with the load block its servers were attached to; never modified
/// once published (the block's counters change, the binding does not).
/// </summary>
/// <param name="servers">The servers in list order.</param>
/// <param name="block">Their block, slot i holding server i.</param>
/// <param name="refreshPicks">What the scans of the block pass on as <see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/>.</param>
internal sealed class ServerListSnapshot(RealServer[] servers, RealServerLoadBlock block, int refreshPicks = 0)
{
    /// <summary>No servers.</summary>
    public static readonly ServerListSnapshot Empty = new([], RealServerLoadBlock.Attach([]));

    /// <summary>The scheduler's <see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/>, which <see cref="TryScanBlock"/> passes to the scan.</summary>
    public readonly int RefreshPicks = refreshPicks;

    /// <summary>The servers in list order.</summary>
    public readonly RealServer[] Servers = servers;

    /// <summary>The block holding their load, in the same order; scan it while <see cref="RealServerLoadBlock.IsIntact"/>.</summary>
    public readonly RealServerLoadBlock Block = block;

    // A server's identity within its service is its endpoint, not the object (the kernel's ip_vs_lookup_dest).
    private readonly Dictionary<InetEndpoint, int> _indexByEndpoint = IndexByEndpoint(servers);

    /// <summary>The index of the server with this endpoint, or -1 when the list has none.</summary>
    /// <param name="endpoint">The server's address and port.</param>
    /// <returns>The index into <see cref="Servers"/>, or -1.</returns>
    public int IndexOf(InetEndpoint endpoint) => _indexByEndpoint.TryGetValue(endpoint, out int index) ? index : -1;

    /// <summary>
    /// Finds a server remembered from an earlier pick in this list: at <paramref name="hint"/> when it is still there
    /// (one array read), otherwise by its endpoint, which may now be held by another <see cref="RealServer"/> object.
    /// </summary>
    /// <param name="server">The remembered server.</param>
    /// <param name="hint">Its index when it was remembered.</param>
    /// <returns>The index of the server with that endpoint in this list, or -1 when it is no longer in it.</returns>
    public int Find(RealServer server, int hint)
    {
        var servers = Servers;
        return (uint)hint < (uint)servers.Length && ReferenceEquals(servers[hint], server) ? hint : IndexOf(server.Endpoint);
    }

    /// <summary>
    /// Runs a scan of the load block if the block is intact, and keeps its result only if the block is still intact
    /// afterwards: a server moved to another block during the scan may have read as empty. When this returns false the
    /// caller scans the server objects instead.
    /// </summary>
    /// <typeparam name="T">What the scan returns.</typeparam>
    /// <param name="scan">The scan (a static method of <see cref="LoadBlockScan"/>), given the block and <see cref="RefreshPicks"/>.</param>
    /// <param name="result">The scan's result, when it counts.</param>
    /// <returns>False when the block was stale before or after the scan.</returns>
    public bool TryScanBlock<T>(Func<RealServerLoadBlock, int, T> scan, out T result)
    {
        var block = Block;
        if (block.IsIntact)
        {
            result = scan(block, RefreshPicks);
            if (block.IsIntact)
            {
                return true;
            }
        }

        result = default!;
        return false;
    }

    /// <summary>The server of a block scan's index, or null for <see cref="LoadBlockScan.None"/>.</summary>
    /// <param name="index">The index a scan returned.</param>
    /// <returns>The server, or null.</returns>
    public RealServer? ServerAt(int index) => index < 0 ? null : Block[index];

    private static Dictionary<InetEndpoint, int> IndexByEndpoint(RealServer[] servers)
    {
        var index = new Dictionary<InetEndpoint, int>(servers.Length);
        for (int i = 0; i < servers.Length; i++)
        {
            index[servers[i].Endpoint] = i;
        }

        return index;
    }
}
