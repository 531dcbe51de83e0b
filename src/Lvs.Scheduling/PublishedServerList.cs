using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// The server array of a scheduler that keeps no table (lc, wlc, sed, nq, ovf, lblc, lblcr): replaced whole by
/// <see cref="IScheduler.UpdateServers"/> and read without locks by picks, with the load block the servers are attached
/// to for the least-load scans (see <see cref="LoadBlockScan"/>).
/// </summary>
/// <param name="options">The scheduler's options: the scans read <see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/>; null for the defaults.</param>
internal sealed class PublishedServerList(SchedulerOptions? options)
{
    private readonly int _refreshPicks = (options ?? SchedulerOptions.Default).OtherThreadCountsRefreshPicks;

    private ServerListSnapshot _snapshot = ServerListSnapshot.Empty;

    /// <summary>The current servers in list order; never modified once published.</summary>
    public RealServer[] Current => Volatile.Read(ref _snapshot).Servers;

    /// <summary>The current servers with their load block.</summary>
    public ServerListSnapshot Snapshot => Volatile.Read(ref _snapshot);

    /// <summary>Publishes a validated copy of the list, attaching its servers to a load block in list order.</summary>
    /// <param name="servers">The servers in list order.</param>
    public void Replace(IReadOnlyList<RealServer> servers)
    {
        var copy = ServerSet.Copy(servers, sortByEndpoint: false);
        Volatile.Write(ref _snapshot, new ServerListSnapshot(copy, RealServerLoadBlock.Attach(copy), _refreshPicks));
    }
}
