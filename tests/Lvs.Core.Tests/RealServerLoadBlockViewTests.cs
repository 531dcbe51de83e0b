using FsCheck.Xunit;
using Lvs.TestSupport;

namespace Lvs.Core.Tests;

/// <summary>
/// <see cref="RealServerLoadBlock.CopySummedSlots(Span{int}, int)"/>: the calling plane's counts, every weight and flag
/// live, the other planes' counts from the plane's view of them, read again every N calls and after any state change.
/// </summary>
public class RealServerLoadBlockViewTests
{
    private const int Slot = RealServerLoadBlock.SlotLength;

    private static RealServer Server(int index, int weight = 1) =>
        new(new InetEndpoint(InetAddress.FromIPv4(10, 0, 0, (byte)index), 80), weight);

    private static int[] Live(RealServerLoadBlock block)
    {
        var sums = new int[block.SlotsLength];
        block.CopySummedSlots(sums);
        return sums;
    }

    private static int[] Viewed(RealServerLoadBlock block, int refreshPicks)
    {
        var sums = new int[block.SlotsLength];
        block.CopySummedSlots(sums, refreshPicks);
        return sums;
    }

    /// <summary>Runs <paramref name="action"/> as packet thread <paramref name="number"/> on the calling thread.</summary>
    private static void As(int number, Action action)
    {
        int previous = PacketThread.Current;
        PacketThread.Current = number;
        try
        {
            action();
        }
        finally
        {
            PacketThread.Current = previous;
        }
    }

    [Fact]
    public void OwnCountsAndStatesAreLive_OtherPlanesCountsArriveEveryRefreshPicksCalls()
    {
        const int N = 4;
        RealServer a = Server(1, weight: 3), b = Server(2, weight: 5);
        var block = RealServerLoadBlock.Attach([a, b]);
        PacketThreadRunner.Run(1, () =>
        {
            // The first call reads every plane.
            Assert.Equal(Live(block), Viewed(block, N));

            PacketThreadRunner.Run(2, () => a.AddConnection(active: true)); // another plane when there are several
            b.AddConnection(active: false); // this thread's plane
            bool shared = RealServerLoadBlock.Planes == 1; // thread numbers 1 and 2 write the same plane
            for (int call = 2; call <= N; call++)
            {
                var stale = Viewed(block, N);
                Assert.Equal(shared ? 1 : 0, stale[(0 * Slot) + RealServerLoadBlock.ActiveOffset]);
                Assert.Equal(1, stale[(1 * Slot) + RealServerLoadBlock.InactiveOffset]);
                Assert.Equal(3, stale[(0 * Slot) + RealServerLoadBlock.StateOffset]);
                Assert.Equal(5, stale[(1 * Slot) + RealServerLoadBlock.StateOffset]);
            }

            Assert.Equal(Live(block), Viewed(block, N)); // call N + 1 reads every plane again

            // A weight or flag changed on another thread counts from the next call, and brings the other counts with it.
            PacketThreadRunner.Run(2, () =>
            {
                a.AddConnection(active: true);
                b.Weight = 0;
            });
            var afterWeight = Viewed(block, N);
            Assert.Equal(0, afterWeight[(1 * Slot) + RealServerLoadBlock.StateOffset]);
            Assert.Equal(2, afterWeight[(0 * Slot) + RealServerLoadBlock.ActiveOffset]);
            PacketThreadRunner.Run(0, () => a.IsAvailable = false);
            Assert.Equal(3 | RealServerLoadBlock.UnavailableFlag, Viewed(block, N)[(0 * Slot) + RealServerLoadBlock.StateOffset]);
        });
    }

    [Fact]
    public void ZeroRefreshPicks_IsTheLiveSum_AndTheArgumentsAreChecked()
    {
        var server = Server(1, weight: 2);
        var block = RealServerLoadBlock.Attach([server, Server(2)]);
        PacketThreadRunner.Run(1, () =>
        {
            _ = Viewed(block, 8);
            PacketThreadRunner.Run(0, () => server.AddConnection(active: true));
            Assert.Equal(Live(block), Viewed(block, 0));
            Assert.Equal(1, Viewed(block, 0)[RealServerLoadBlock.ActiveOffset]);
            Assert.Throws<ArgumentOutOfRangeException>(() => block.CopySummedSlots(new int[block.SlotsLength], -1));
            Assert.Throws<ArgumentException>(() => block.CopySummedSlots(new int[block.SlotsLength - 1], 8));

            var sums = Enumerable.Repeat(-7, block.SlotsLength + 2).ToArray();
            block.CopySummedSlots(sums, 8);
            Assert.All(sums[(2 * Slot)..block.SlotsLength], value => Assert.Equal(0, value)); // padding slots
            Assert.Equal([-7, -7], sums[block.SlotsLength..]);
        });
    }

    [Fact]
    public void CallsAfterThePlanesFirst_AllocateNothing()
    {
        RealServer[] servers = [Server(1), Server(2), Server(3)];
        var block = RealServerLoadBlock.Attach(servers);
        var sums = new int[block.SlotsLength];
        PacketThreadRunner.Run(1, () =>
        {
            block.CopySummedSlots(sums, 3);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++)
            {
                servers[i % 3].AddConnection(active: true);
                block.CopySummedSlots(sums, 3);
            }

            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        });
    }

    /// <summary>
    /// Against a model of the views: random counter updates from four packet thread numbers, weight and availability
    /// changes, and calls from each number; every call returns the calling plane's live counts plus the other planes'
    /// counts as of the plane's last refresh (its first call, every <c>refreshPicks</c>-th call since, and the first
    /// call after a state change), with the live state words.
    /// </summary>
    [Property(MaxTest = 300)]
    public bool Calls_MatchTheModelOfViews(byte[] operations, byte refreshByte)
    {
        int refreshPicks = 1 + (refreshByte % 6);
        int planes = RealServerLoadBlock.Planes;
        RealServer[] servers = [Server(1, 2), Server(2, 3), Server(3, 1)];
        var block = RealServerLoadBlock.Attach(servers);
        var live = new long[planes, servers.Length, 2];
        var views = new long[planes][,];
        var picksLeft = new int[planes];
        var stateChanged = new bool[planes];
        bool matches = true;
        foreach (byte operation in operations)
        {
            int server = operation % 3;
            int number = (operation >> 2) & 3;
            int plane = number & (planes - 1);
            bool active = (operation & 0x10) != 0;
            switch (operation >> 5)
            {
                case 0 or 1:
                    As(number, () => servers[server].AddConnection(active));
                    live[plane, server, active ? 0 : 1]++;
                    break;
                case 2:
                    As(number, () => servers[server].RemoveConnection(active));
                    live[plane, server, active ? 0 : 1]--;
                    break;
                case 3:
                    servers[server].Weight = number;
                    Array.Fill(stateChanged, true);
                    break;
                case 4:
                    servers[server].IsAvailable = active;
                    Array.Fill(stateChanged, true);
                    break;
                default:
                    if (views[plane] is null || --picksLeft[plane] < 0 || stateChanged[plane])
                    {
                        var view = views[plane] = new long[servers.Length, 2];
                        for (int other = 0; other < planes; other++)
                        {
                            for (int s = 0; s < servers.Length && other != plane; s++)
                            {
                                view[s, 0] += live[other, s, 0];
                                view[s, 1] += live[other, s, 1];
                            }
                        }

                        picksLeft[plane] = refreshPicks - 1;
                        stateChanged[plane] = false;
                    }

                    int[] got = [];
                    As(number, () => got = Viewed(block, refreshPicks));
                    for (int s = 0; s < servers.Length; s++)
                    {
                        int state = servers[s].Weight | (servers[s].IsAvailable ? 0 : RealServerLoadBlock.UnavailableFlag);
                        matches &= got[(s * Slot) + RealServerLoadBlock.ActiveOffset] == live[plane, s, 0] + views[plane][s, 0]
                            && got[(s * Slot) + RealServerLoadBlock.InactiveOffset] == live[plane, s, 1] + views[plane][s, 1]
                            && got[(s * Slot) + RealServerLoadBlock.StateOffset] == state;
                    }

                    matches &= got.AsSpan(servers.Length * Slot).IndexOfAnyExcept(0) < 0;
                    break;
            }
        }

        return matches;
    }
}
