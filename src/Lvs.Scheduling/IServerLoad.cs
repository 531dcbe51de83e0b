using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// How the least-load schedulers measure a server's load before dividing it by the weight: a static abstract member,
/// so that <see cref="WeightedLeastLoad.Select{TLoad}(RealServer[], bool)"/> is specialised per measure with no call per server.
/// </summary>
internal interface IServerLoad
{
    /// <summary>The server's current load.</summary>
    /// <param name="server">The server.</param>
    /// <returns>The load; never negative.</returns>
    static abstract long Of(RealServer server);

    /// <summary>True when the load is active connections + 1 (sed, nq), false for the lc overhead (wlc, lblc, lblcr).</summary>
    static abstract bool ActiveOnly { get; }

    /// <summary>The same scan as <see cref="WeightedLeastLoad.Select{TLoad}(RealServer[], bool)"/> over a load block.</summary>
    /// <param name="block">The block.</param>
    /// <param name="idleWins">True for nq.</param>
    /// <param name="refreshPicks">The scheduler's <see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/>.</param>
    /// <returns>The index of the least loaded schedulable server, or <see cref="LoadBlockScan.None"/>.</returns>
    static abstract int SelectIn(RealServerLoadBlock block, bool idleWins, int refreshPicks);
}
