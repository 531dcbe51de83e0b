using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// The server array of a scheduler that keeps no table (lc, wlc, sed, nq, ovf): replaced whole by
/// <see cref="IScheduler.UpdateServers"/> and read without locks by picks.
/// </summary>
internal sealed class PublishedServerList
{
    private RealServer[] _servers = [];

    /// <summary>The current servers in list order; never modified once published.</summary>
    public RealServer[] Current => Volatile.Read(ref _servers);

    /// <summary>Publishes a validated copy of the list.</summary>
    /// <param name="servers">The servers in list order.</param>
    public void Replace(IReadOnlyList<RealServer> servers) =>
        Volatile.Write(ref _servers, ServerSet.Copy(servers, sortByEndpoint: false));
}
