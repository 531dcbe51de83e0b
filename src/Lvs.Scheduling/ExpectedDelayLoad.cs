using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// The kernel's <c>ip_vs_sed_dest_overhead</c> and <c>ip_vs_nq_dest_overhead</c>: active connections + 1, the delay the
/// new connection would wait behind (sed, nq). Inactive connections do not count.
/// </summary>
internal readonly struct ExpectedDelayLoad : IServerLoad
{
    /// <inheritdoc/>
    public static long Of(RealServer server) => (long)server.ActiveConnections + 1;

    /// <inheritdoc/>
    public static bool ActiveOnly => true;

    /// <inheritdoc/>
    public static int SelectIn(RealServerLoadBlock block, bool idleWins, int refreshPicks) => LoadBlockScan.ShortestExpectedDelay(block, idleWins, refreshPicks);
}
