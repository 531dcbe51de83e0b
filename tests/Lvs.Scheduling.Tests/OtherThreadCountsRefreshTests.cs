using FsCheck.Xunit;
using Lvs.Core;
using Lvs.TestSupport;
using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

/// <summary>
/// <see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/>: the schedulers that scan every server's counts read
/// their own packet thread's counts and every weight and flag live, and the other threads' counts every N scans.
/// </summary>
public class OtherThreadCountsRefreshTests
{
    private const int N = 4;

    private static readonly SchedulerRegistry Registry = new();

    /// <summary>The schedulers whose every pick is one scan of the counts.</summary>
    public static TheoryData<string> ScanningSchedulers { get; } =
    [
        SchedulerNames.LeastConnection, SchedulerNames.WeightedLeastConnection, SchedulerNames.ShortestExpectedDelay,
        SchedulerNames.NeverQueue, SchedulerNames.WeightedOverflow,
    ];

    private static IScheduler Create(string name, int refreshPicks, RealServer[] servers)
    {
        var scheduler = Registry.Create(name, new SchedulerOptions { OtherThreadCountsRefreshPicks = refreshPicks });
        scheduler.UpdateServers(servers);
        return scheduler;
    }

    /// <summary>
    /// Another thread's thousand connections on the server picked first reach this thread's picks N picks later with
    /// the option (every pick until then returns the same server), at once without it; with one counter plane every
    /// thread number shares the plane, so they reach it at once either way.
    /// </summary>
    [Theory]
    [MemberData(nameof(ScanningSchedulers))]
    public void OtherThreadsCounts_ReachThePicksAfterRefreshPicks(string name)
    {
        foreach (int refreshPicks in new[] { 0, N })
        {
            var servers = WithWeights(1, 1);
            var picked = new List<RealServer?>();
            PacketThreadRunner.Run(1, () =>
            {
                var scheduler = Create(name, refreshPicks, servers);
                picked.Add(scheduler.Pick(Flow(1)));
                PacketThreadRunner.Run(2, () => servers[0].WithConnections(active: 1000, inactive: 0));
                for (int pick = 2; pick <= N + 3; pick++)
                {
                    picked.Add(scheduler.Pick(Flow((uint)pick)));
                }
            });

            int stale = refreshPicks != 0 && RealServerLoadBlock.Planes > 1 ? N - 1 : 0;
            Assert.Equal([servers[0], .. Enumerable.Repeat(servers[0], stale), .. Enumerable.Repeat(servers[1], N + 2 - stale)], picked);
        }
    }

    /// <summary>The names the option applies to: the seven that scan every server's counts, in any case.</summary>
    [Fact]
    public void ScansEveryServersCounts_TheSevenCountScanningSchedulers()
    {
        Assert.Equal(["lblc", "lblcr", "lc", "nq", "ovf", "sed", "wlc"], Registry.Names.Where(SchedulerNames.ScansEveryServersCounts));
        Assert.True(SchedulerNames.ScansEveryServersCounts("WLC"));
    }

    /// <summary>lblc scans twice for a pick whose cached server is over its weight, so the view runs out in fewer picks.</summary>
    [Fact]
    public void Lblc_OtherThreadsCounts_ReachTheCachedDestinationWithinRefreshPicks()
    {
        var servers = WithWeights(1, 1);
        var picked = new List<RealServer?>();
        PacketThreadRunner.Run(1, () =>
        {
            var scheduler = Create(SchedulerNames.LocalityBasedLeastConnection, N, servers);
            picked.Add(scheduler.Pick(Flow(1)));
            PacketThreadRunner.Run(2, () => servers[0].WithConnections(active: 1000, inactive: 0));
            for (int pick = 2; pick <= N + 1; pick++)
            {
                picked.Add(scheduler.Pick(Flow((uint)pick)));
            }
        });

        // Pick 1 scans once (a refresh); pick 2 twice (the overload test and the new choice), both stale; pick 3's
        // second scan is the fifth, a refresh.
        Assert.Same(servers[0], picked[0]);
        Assert.Same(RealServerLoadBlock.Planes > 1 ? servers[0] : servers[1], picked[1]);
        Assert.All(picked.Skip(2), server => Assert.Same(servers[1], server));
    }

    /// <summary>A weight set to 0, or a server made unavailable, on another thread counts from this thread's next pick, however long the view would last.</summary>
    [Theory]
    [MemberData(nameof(ScanningSchedulers))]
    public void WeightsAndFlagsChangedOnAnotherThread_CountFromTheNextPick(string name)
    {
        var servers = WithWeights(1, 1);
        PacketThreadRunner.Run(1, () =>
        {
            var scheduler = Create(name, 1000, servers);
            Assert.Same(servers[0], scheduler.Pick(Flow(1)));
            PacketThreadRunner.Run(0, () => servers[0].Weight = 0);
            Assert.Same(servers[1], scheduler.Pick(Flow(2)));
            PacketThreadRunner.Run(0, () =>
            {
                servers[0].Weight = 1;
                servers[1].IsAvailable = false;
            });
            Assert.Same(servers[0], scheduler.Pick(Flow(3)));
            PacketThreadRunner.Run(0, () => servers[0].Weight = 0);
            Assert.Null(scheduler.Pick(Flow(4)));
        });
    }

    /// <summary>
    /// On one packet thread number (not 0, so the weights and flags come from the view's copy of plane 0), with every
    /// counter update made by the same number, the option changes no pick: twin server sets and schedulers, with and
    /// without it, given the same random picks, connection ends, weight and availability changes.
    /// </summary>
    [Property(MaxTest = 200)]
    public bool OneThreadNumber_PicksAsWithoutTheOption(byte[] operations, byte refreshByte, byte schedulerByte)
    {
        string[] names =
        [
            SchedulerNames.LeastConnection, SchedulerNames.WeightedLeastConnection, SchedulerNames.ShortestExpectedDelay,
            SchedulerNames.NeverQueue, SchedulerNames.WeightedOverflow, SchedulerNames.LocalityBasedLeastConnection,
            SchedulerNames.LocalityBasedLeastConnectionWithReplication,
        ];
        string name = names[schedulerByte % names.Length];
        int refreshPicks = 1 + (refreshByte % 5);
        bool same = true;
        PacketThreadRunner.Run(3, () =>
        {
            RealServer[] plain = WithWeights(2, 1, 3, 1), viewed = WithWeights(2, 1, 3, 1);
            var without = Create(name, 0, plain);
            var with = Create(name, refreshPicks, viewed);
            foreach (byte operation in operations)
            {
                int server = operation & 3;
                bool active = (operation & 4) != 0;
                switch (operation >> 5)
                {
                    case 0:
                        foreach (var set in new[] { plain, viewed })
                        {
                            set[server].Weight = (operation >> 3) & 3;
                        }

                        break;
                    case 1:
                        plain[server].IsAvailable = viewed[server].IsAvailable = active;
                        break;
                    case 2:
                        if (plain[server].ActiveConnections + plain[server].InactiveConnections > 0)
                        {
                            bool wasActive = plain[server].ActiveConnections > 0;
                            plain[server].RemoveConnection(wasActive);
                            viewed[server].RemoveConnection(wasActive);
                        }

                        break;
                    default:
                        var flow = Flow((uint)(operation & 7));
                        var a = without.Pick(flow);
                        var b = with.Pick(flow);
                        same &= a is null ? b is null : b is not null && Array.IndexOf(plain, a) == Array.IndexOf(viewed, b);
                        if (a is not null && b is not null)
                        {
                            a.AddConnection(active);
                            b.AddConnection(active);
                        }

                        break;
                }
            }
        });

        return same;
    }

    /// <summary>Two packet threads of different numbers picking wlc at once keep the shares of the weights within two views' staleness.</summary>
    [Fact]
    public void TwoThreadsAtOnce_KeepTheWeightsShares()
    {
        const int Picks = 6000;
        const int RefreshPicks = 64;
        var servers = WithWeights(1, 2, 3);
        var scheduler = Create(SchedulerNames.WeightedLeastConnection, RefreshPicks, servers);
        PacketThreads.Run(2, t => t, _ =>
        {
            for (int i = 0; i < Picks; i++)
            {
                scheduler.Pick(Flow((uint)i))!.AddConnection(active: true);
            }
        });

        Assert.Equal(2 * Picks, servers.Sum(s => s.ActiveConnections));
        for (int i = 0; i < servers.Length; i++)
        {
            int expected = 2 * Picks * servers[i].Weight / 6;
            Assert.InRange(servers[i].ActiveConnections, expected - (4 * RefreshPicks), expected + (4 * RefreshPicks));
        }
    }
}
