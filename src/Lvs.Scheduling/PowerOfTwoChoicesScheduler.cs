using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Power of two choices (<c>twos</c>, the kernel's <c>ip_vs_twos.c</c>, after Mitzenmacher): draws two servers at random
/// in proportion to their weights and takes the one with the smaller overhead / weight (lc overhead, integer
/// cross-multiplication); the first draw wins a tie.
/// </summary>
/// <remarks>
/// The kernel walks the list twice per pick (once for the total weight, once for the draws). Here the cumulative
/// weights are built at <see cref="UpdateServers"/> and each draw is a binary search, so a pick costs O(log N). A
/// draw that lands on a server that is not schedulable at pick time is drawn again (which gives the kernel's
/// distribution over the schedulable servers); after a few misses the pick falls back to the kernel's scan. Like the
/// kernel, draws are over [0, total weight], so the first weighted server gets one extra chance in total + 1.
/// The random source is <see cref="SchedulerOptions.Random"/>.
/// </remarks>
public sealed class PowerOfTwoChoicesScheduler : IScheduler
{
    private const int Redraws = 8;
    private readonly Random _random;
    private Snapshot _snapshot = new([], []);

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">The options (<see cref="SchedulerOptions.Random"/>); null for the defaults.</param>
    public PowerOfTwoChoicesScheduler(SchedulerOptions? options = null) =>
        _random = (options ?? SchedulerOptions.Default).Random;

    /// <inheritdoc/>
    public string Name => SchedulerNames.PowerOfTwoChoices;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers)
    {
        var copy = ServerSet.Copy(servers, sortByEndpoint: false);
        var cumulative = new long[copy.Length];
        long total = 0;
        for (int i = 0; i < copy.Length; i++)
        {
            total += copy[i].Weight;
            cumulative[i] = total;
        }

        Volatile.Write(ref _snapshot, new Snapshot(copy, cumulative));
    }

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        var first = Draw(snapshot);
        var second = first is null ? null : Draw(snapshot);
        if (first is null || second is null)
        {
            return SelectByScan(snapshot.Servers);
        }

        return Better(first, second);
    }

    private RealServer? Draw(Snapshot snapshot)
    {
        var cumulative = snapshot.Cumulative;
        if (cumulative.Length == 0 || cumulative[^1] == 0)
        {
            return null;
        }

        for (int attempt = 0; attempt < Redraws; attempt++)
        {
            // A draw of 0 lands on the first weighted server, as the kernel's "rweight -= weight; if (rweight <= 0)".
            long draw = Math.Max(1, _random.NextInt64(cumulative[^1] + 1));
            int index = Array.BinarySearch(cumulative, draw);
            if (index < 0)
            {
                index = ~index;
            }
            else
            {
                // Several servers can share a cumulative value when weights are 0: the first one with this value is the
                // weighted one.
                while (index > 0 && cumulative[index - 1] == draw)
                {
                    index--;
                }
            }

            var server = snapshot.Servers[index];
            if (server.IsSchedulable)
            {
                return server;
            }
        }

        return null;
    }

    private RealServer? SelectByScan(RealServer[] servers)
    {
        // ip_vs_twos_schedule over the live weights, for when draws keep missing schedulable servers.
        long total = 0;
        foreach (var server in servers)
        {
            if (server.IsSchedulable)
            {
                total += server.Weight;
            }
        }

        if (total == 0)
        {
            return null;
        }

        long draw1 = _random.NextInt64(total + 1);
        long draw2 = _random.NextInt64(total + 1);
        RealServer? first = null;
        RealServer? second = null;
        foreach (var server in servers)
        {
            int weight = server.Weight;
            if (weight <= 0 || !server.IsSchedulable)
            {
                continue;
            }

            draw1 -= weight;
            draw2 -= weight;
            if (draw1 <= 0 && first is null)
            {
                first = server;
            }

            if (draw2 <= 0 && second is null)
            {
                second = server;
            }

            if (first is not null && second is not null)
            {
                break;
            }
        }

        first ??= second;
        return first is null ? null : Better(first, second ?? first);
    }

    private static RealServer Better(RealServer first, RealServer second)
    {
        // Kernel: choice2 wins when weight2 * overhead1 > weight1 * overhead2.
        return (long)second.Weight * first.Overhead > (long)first.Weight * second.Overhead ? second : first;
    }

    private sealed class Snapshot(RealServer[] servers, long[] cumulative)
    {
        public readonly RealServer[] Servers = servers;
        public readonly long[] Cumulative = cumulative;
    }
}
