using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>The kernel's <c>ip_vs_dest_conn_overhead</c>: active x 256 + inactive (wlc, lblc, lblcr, twos).</summary>
internal readonly struct ConnectionOverheadLoad : IServerLoad
{
    /// <inheritdoc/>
    public static long Of(RealServer server) => server.Overhead;

    /// <inheritdoc/>
    public static bool ActiveOnly => false;

    /// <inheritdoc/>
    public static int SelectIn(RealServerLoadBlock block, bool idleWins, int refreshPicks) => LoadBlockScan.WeightedLeastConnection(block, refreshPicks);
}
