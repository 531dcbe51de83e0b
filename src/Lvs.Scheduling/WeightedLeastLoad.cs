using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// The scan shared by wlc, sed, nq, lblc and lblcr (<c>ip_vs_wlc_schedule</c> and its copies): the schedulable server
/// with the smallest load / weight, compared by integer cross-multiplication, the first in list order on a tie.
/// </summary>
internal static class WeightedLeastLoad
{
    /// <summary>Scans a published list: its load block while the block is intact, otherwise the servers.</summary>
    /// <typeparam name="TLoad">The load measure.</typeparam>
    /// <param name="list">The list and its block.</param>
    /// <param name="idleWins">True for nq: the first schedulable server with no active connection wins at once.</param>
    /// <returns>The least loaded schedulable server, or null.</returns>
    public static RealServer? Select<TLoad>(ServerListSnapshot list, bool idleWins = false)
        where TLoad : struct, IServerLoad
    {
        int index = SelectIndex<TLoad>(list, idleWins);
        return index < 0 ? null : list.Servers[index];
    }

    /// <summary>Scans a published list as <see cref="Select{TLoad}(ServerListSnapshot, bool)"/> and returns the index.</summary>
    /// <typeparam name="TLoad">The load measure.</typeparam>
    /// <param name="list">The list and its block.</param>
    /// <param name="idleWins">True for nq: the first schedulable server with no active connection wins at once.</param>
    /// <returns>The index of the least loaded schedulable server in <see cref="ServerListSnapshot.Servers"/>, or -1.</returns>
    public static int SelectIndex<TLoad>(ServerListSnapshot list, bool idleWins = false)
        where TLoad : struct, IServerLoad
    {
        Func<RealServerLoadBlock, int, int> scan = idleWins
            ? static (block, refreshPicks) => TLoad.SelectIn(block, idleWins: true, refreshPicks)
            : static (block, refreshPicks) => TLoad.SelectIn(block, idleWins: false, refreshPicks);
        return list.TryScanBlock(scan, out int index) ? index : SelectIndex<TLoad>(list.Servers, idleWins);
    }

    /// <summary>Scans the servers once, reading live weights and counters.</summary>
    /// <typeparam name="TLoad">The load measure.</typeparam>
    /// <param name="servers">The servers in list order.</param>
    /// <param name="idleWins">True for nq: the first schedulable server with no active connection wins at once.</param>
    /// <returns>The least loaded schedulable server, or null.</returns>
    public static RealServer? Select<TLoad>(RealServer[] servers, bool idleWins = false)
        where TLoad : struct, IServerLoad
    {
        int index = SelectIndex<TLoad>(servers, idleWins);
        return index < 0 ? null : servers[index];
    }

    /// <summary>Scans the servers as <see cref="Select{TLoad}(RealServer[], bool)"/> and returns the index.</summary>
    /// <typeparam name="TLoad">The load measure.</typeparam>
    /// <param name="servers">The servers in list order.</param>
    /// <param name="idleWins">True for nq: the first schedulable server with no active connection wins at once.</param>
    /// <returns>The index of the least loaded schedulable server, or -1.</returns>
    public static int SelectIndex<TLoad>(RealServer[] servers, bool idleWins = false)
        where TLoad : struct, IServerLoad
    {
        int least = -1;
        long leastLoad = 0;
        long leastWeight = 0;
        for (int i = 0; i < servers.Length; i++)
        {
            var server = servers[i];
            int weight = server.Weight;
            if (weight <= 0)
            {
                continue;
            }

            // load/weight < leastLoad/leastWeight without division (both weights are positive; loads stay below 2^40
            // and weights below 2^16). Flags are read only for a server that would win: the kernel's result (it skips
            // unusable servers before comparing) with fewer reads per server.
            long load = TLoad.Of(server);
            bool idle = idleWins && server.ActiveConnections == 0;
            if (!idle && least >= 0 && leastLoad * weight <= load * leastWeight)
            {
                continue;
            }

            if (server.IsOverloaded || !server.IsAvailable)
            {
                continue;
            }

            if (idle)
            {
                return i;
            }

            least = i;
            leastLoad = load;
            leastWeight = weight;
        }

        return least;
    }
}
