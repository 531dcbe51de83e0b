using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;
using Microsoft.Extensions.Time.Testing;

namespace Lvs.Scheduling.Tests;

/// <summary>The <see cref="IScheduler"/> contract, checked for every built-in scheduler and flag combination.</summary>
public class SchedulerContractTests
{
    private static readonly string[] Names = [.. new SchedulerRegistry().Names];

    public static TheoryData<string> AllNames => [.. Names];

    private static IScheduler Create(string name, SchedulerFlags flags = SchedulerFlags.None, int seed = 1) =>
        new SchedulerRegistry().Create(name, new SchedulerOptions
        {
            Flags = flags,
            MaglevTableSize = 251,
            TimeProvider = new FakeTimeProvider(),
            Random = new Random(seed),
        });

    [FsCheck.Xunit.Property(MaxTest = 300)]
    public Property Pick_NeverReturnsAQuiescedOverloadedUnavailableOrRemovedServer()
    {
        var gen =
            from name in Gen.Elements(Names)
            from flags in Gen.Elements(SchedulerFlags.None, SchedulerFlags.Fallback, SchedulerFlags.Fallback | SchedulerFlags.Port)
            from specs in ServerSpec.Lists.Generator
            from removed in Gen.ArrayOf(Gen.Choose(0, 1), specs.Length)
            from clients in Gen.ArrayOf(Gen.Choose(0, 1 << 20), 30)
            from seed in Gen.Choose(0, 1000)
            select (name, flags, specs, removed, clients, seed);
        return Prop.ForAll(gen.ToArbitrary(), input =>
        {
            var (name, flags, specs, removed, clients, seed) = input;
            var scheduler = Create(name, flags, seed);
            try
            {
                // Schedule with every server first so that tables and caches (lblc, lblcr, rr position) refer to
                // servers that are then removed from the list (without flagging them: the list is the truth).
                var servers = specs.Select((s, i) => (s with { Available = true, Overloaded = false, Weight = Math.Max(1, s.Weight) }).Build(i)).ToArray();
                scheduler.UpdateServers(servers);
                foreach (int client in clients)
                {
                    scheduler.Pick(TestServers.Flow((uint)client, (ushort)client, (uint)(client % 7)));
                }

                var kept = specs.Select((s, i) => (s, i)).Where(p => removed[p.i] == 0).Select(p => p.s.Build(p.i + 1000)).ToArray();
                scheduler.UpdateServers(kept);
                foreach (int client in clients)
                {
                    var pick = scheduler.Pick(TestServers.Flow((uint)client, (ushort)client, (uint)(client % 7)));
                    if (pick is not null && (!pick.IsSchedulable || !kept.Contains(pick)))
                    {
                        return false.Label($"{name} returned {pick}");
                    }
                }

                return true.ToProperty();
            }
            finally
            {
                (scheduler as IDisposable)?.Dispose();
            }
        });
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Pick_NoServers_ReturnsNull(string name)
    {
        var scheduler = Create(name, SchedulerFlags.Fallback);
        Assert.Null(scheduler.Pick(TestServers.Flow(1)));
        scheduler.UpdateServers([]);
        Assert.Null(scheduler.Pick(TestServers.Flow(1)));
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Pick_AllWeightsZero_ReturnsNull(string name)
    {
        var scheduler = Create(name, SchedulerFlags.Fallback);
        scheduler.UpdateServers(TestServers.WithWeights(0, 0, 0));
        Assert.All(Enumerable.Range(0, 20), c => Assert.Null(scheduler.Pick(TestServers.Flow((uint)c))));
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Pick_AllOverloaded_ReturnsNull(string name)
    {
        var scheduler = Create(name, SchedulerFlags.Fallback);
        var servers = TestServers.WithWeights(1, 2, 3);
        foreach (var server in servers)
        {
            server.Overloaded();
        }

        scheduler.UpdateServers(servers);
        Assert.All(Enumerable.Range(0, 20), c => Assert.Null(scheduler.Pick(TestServers.Flow((uint)c))));
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void UpdateServers_DuplicateOrNull_Throws(string name)
    {
        var scheduler = Create(name);
        var server = TestServers.Create(1);
        Assert.Throws<ArgumentException>(() => scheduler.UpdateServers([server, server]));
        Assert.Throws<ArgumentException>(() => scheduler.UpdateServers([server, TestServers.Create(1)]));
        Assert.Throws<ArgumentNullException>(() => scheduler.UpdateServers([server, null!]));
        Assert.Throws<ArgumentNullException>(() => scheduler.UpdateServers(null!));
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public async Task Pick_WhileAnotherThreadSwapsServerSets_AlwaysReturnsAServerOfOneSet(string name)
    {
        // Two disjoint sets of schedulable servers; the control thread swaps them while four threads pick. A half-built
        // table would show as null, an exception, or a server of neither set.
        var scheduler = Create(name, SchedulerFlags.None);
        var first = Enumerable.Range(0, 16).Select(i => TestServers.Create(i, 1 + (i % 4))).ToArray();
        var second = Enumerable.Range(100, 9).Select(i => TestServers.Create(i, 1 + (i % 3))).ToArray();
        var all = first.Concat(second).ToHashSet();
        scheduler.UpdateServers(first);
        int stop = 0;
        var pickers = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            int picks = 0;
            uint client = (uint)t << 24;
            while (Volatile.Read(ref stop) == 0 || picks < 1000)
            {
                var pick = scheduler.Pick(TestServers.Flow(client++, (ushort)client, client % 5));
                Assert.NotNull(pick);
                Assert.Contains(pick, all);
                picks++;
            }

            return picks;
        }, TestContext.Current.CancellationToken)).ToArray();

        for (int swap = 0; swap < 300; swap++)
        {
            scheduler.UpdateServers(swap % 2 == 0 ? second : first);
        }

        Volatile.Write(ref stop, 1);
        int[] counts = await Task.WhenAll(pickers);
        Assert.All(counts, c => Assert.True(c >= 1000));
        (scheduler as IDisposable)?.Dispose();
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public async Task Pick_ConcurrentWithUpdateServers_NeverReturnsAServerRemovedBeforeThePickBegan(string name)
    {
        // The contract: once UpdateServers(list) has returned, no pick returns a server outside that list (or a later
        // one). List k holds servers k .. k+3 of a pool, so server j belongs to lists j-3 .. j only: a pick that began
        // after list k was published must return a server j >= k. One thread picks (each destination twice in a row,
        // so that a cached entry is read back at once) while this one slides the window; lblc and lblcr used to cache
        // a server of the list a pick had read after the update that removed it, and to return it from the cache
        // afterwards (issue 16).
        const int Window = 4;
        const int Updates = 1000;
        var scheduler = Create(name);
        var pool = Enumerable.Range(0, Updates + Window).Select(i => TestServers.Create(i, 1 + (i % 3))).ToArray();
        int published = 0;
        int stop = 0;
        long picks = 0;
        scheduler.UpdateServers(pool[..Window]);
        var picker = Task.Run(() =>
        {
            long violations = 0;
            string? first = null;
            uint next = 0;
            while (Volatile.Read(ref stop) == 0)
            {
                int current = Volatile.Read(ref published);
                uint n = (next++ >> 1) % 1_000;
                var pick = scheduler.Pick(TestServers.Flow(0x0B000000 + n, (ushort)(1024 + n), 0x0A800000 + n));
                Volatile.Write(ref picks, picks + 1);
                int j = pick is null ? -1 : (int)(pick.Address.IPv4Value & 0xFFFFFF);
                if (j < current)
                {
                    violations++;
                    first ??= $"{name} returned {(pick is null ? "null" : pick.ToString())} (server {j}) after list {current} was published";
                }
            }

            return (violations, first);
        }, TestContext.Current.CancellationToken);

        for (int k = 1; k <= Updates; k++)
        {
            // Let the picker run between updates (and start at all before the first one).
            long seen = Volatile.Read(ref picks);
            while (Volatile.Read(ref picks) < seen + 16 && !picker.IsCompleted)
            {
                Thread.SpinWait(20);
            }

            scheduler.UpdateServers(pool[k..(k + Window)]);
            Volatile.Write(ref published, k);
        }

        Volatile.Write(ref stop, 1);
        var (violationCount, firstViolation) = await picker;
        (scheduler as IDisposable)?.Dispose();
        Assert.True(violationCount == 0, $"{violationCount} of {Volatile.Read(ref picks)} picks broke the contract; first: {firstViolation}");
    }

    [Theory]
    [InlineData("rr")]
    [InlineData("wrr")]
    public void Pick_ConcurrentPickers_ShareOnePeriodExactly(string name)
    {
        // wrr's position advances by compare-and-swap: 4 threads x 9000 picks over a 9-pick period give exact shares.
        // rr's threads take runs of positions from a shared count into their packet thread's plane, here all one plane
        // (number 0): the positions handed out are consecutive, and the plane's partial run at the end leaves each
        // server within one of its share (within the planes holding a run plus one, exclusive; see RoundRobinScheduler).
        var scheduler = Create(name);
        var servers = TestServers.WithWeights(4, 3, 2);
        scheduler.UpdateServers(servers);
        var counts = new int[3];
        Parallel.For(0, 4, _ =>
        {
            int saved = PacketThread.Current;
            PacketThread.Current = 0;
            for (int i = 0; i < 9000; i++)
            {
                Interlocked.Increment(ref counts[Array.IndexOf(servers, scheduler.Pick(default))]);
            }

            PacketThread.Current = saved;
        });
        if (name == "rr")
        {
            Assert.Equal(36000, counts.Sum());
            Assert.All(counts, c => Assert.InRange(c, 11999, 12001));
        }
        else
        {
            Assert.Equal([16000, 12000, 8000], counts);
        }
    }
}
