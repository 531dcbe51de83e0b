using Lvs.Core;
using Microsoft.Extensions.Time.Testing;

namespace Lvs.Scheduling.Tests;

/// <summary>The lblc/lblcr locality table's garbage collection against the kernel's <c>ip_vs_lblc_check_expire</c>.</summary>
public sealed class LocalityTableTests
{
    private const int KernelBuckets = 1024;
    private const int KernelMaxSize = KernelBuckets * 16;

    private sealed class TestEntry(long now) : LocalityEntry(now);

    /// <summary>The kernel's bucket of an IPv4 address: hash_32(ntohl(addr), 10), the golden-ratio multiply's top 10 bits.</summary>
    private static int KernelBucket(uint address) => (int)(unchecked(address * 0x61C88647u) >> 22);

    /// <summary>
    /// The kernel's walk: from the bucket after the rover, every idle entry of a bucket goes, the goal is checked between
    /// buckets; returns the addresses removed and the new rover.
    /// </summary>
    private static (HashSet<uint> Removed, int Rover) KernelWalk(IEnumerable<uint> idle, int count, int rover)
    {
        var byBucket = idle.GroupBy(KernelBucket).ToDictionary(g => g.Key, g => g.ToList());
        int goal = Math.Min((count - KernelMaxSize) * 4 / 3, KernelMaxSize / 2);
        var removed = new HashSet<uint>();
        int j = rover;
        for (int i = 0; i < KernelBuckets; i++)
        {
            j = (j + 1) & (KernelBuckets - 1);
            foreach (uint address in byBucket.GetValueOrDefault(j) ?? [])
            {
                removed.Add(address);
                goal--;
            }

            if (goal <= 0)
            {
                break;
            }
        }

        return (removed, j);
    }

    [Fact]
    public void CheckExpire_OverTheMaximumSize_EmptiesWholeBucketsFromTheRoverOn()
    {
        var time = new FakeTimeProvider();
        using var table = new LocalityTable<TestEntry>(time, TimeSpan.FromHours(24));
        var old = Enumerable.Range(0, KernelMaxSize + 300).Select(i => 0x0A00_0000u + ((uint)i * 7)).ToList();
        foreach (uint address in old)
        {
            table.Set(InetAddress.FromIPv4(address), new TestEntry(table.Now));
        }

        // Five checks find nothing idle for 6 minutes (each walks all 1024 buckets and leaves the rover where it was).
        for (int minute = 1; minute <= 5; minute++)
        {
            time.Advance(TimeSpan.FromMinutes(1));
            Assert.Equal(old.Count, table.Count);
        }

        // At 6 minutes: goal 400, met only at the end of a bucket, so whole buckets go (a few more than 400 entries).
        var (first, rover) = KernelWalk(old, old.Count, rover: 0);
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(first.Count >= 400);
        Assert.Equal(old.Where(a => !first.Contains(a)).Order(), Remaining(table, old).Order());

        // New, busy entries push the table over the limit again: the next walk starts after the rover and takes only idle ones.
        var fresh = Enumerable.Range(0, 1000).Select(i => 0x0B00_0000u + (uint)i).ToList();
        foreach (uint address in fresh)
        {
            table.Set(InetAddress.FromIPv4(address), new TestEntry(table.Now));
        }

        var idle = old.Where(a => !first.Contains(a)).ToList();
        var (second, _) = KernelWalk(idle, idle.Count + fresh.Count, rover);
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(idle.Where(a => !second.Contains(a)).Order(), Remaining(table, idle).Order());
        Assert.Equal(fresh.Count, Remaining(table, fresh).Count());
    }

    private static IEnumerable<uint> Remaining(LocalityTable<TestEntry> table, IEnumerable<uint> addresses) =>
        addresses.Where(a => table.TryGet(InetAddress.FromIPv4(a), out _));
}
