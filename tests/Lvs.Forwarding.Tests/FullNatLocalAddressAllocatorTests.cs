using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;

namespace Lvs.Forwarding.Tests;

public class FullNatLocalAddressAllocatorTests
{
    private static readonly InetAddress[] TwoAddresses = [InetAddress.FromIPv4(10, 0, 0, 100), InetAddress.FromIPv4(10, 0, 0, 101)];

    [Fact]
    public void TryAllocate_WholeRange_HandsOutEveryPairOnceThenReportsExhaustion()
    {
        var allocator = new FullNatLocalAddressAllocator(TwoAddresses, 5000, 5099);
        var seen = new HashSet<InetEndpoint>();
        for (int i = 0; i < 200; i++)
        {
            Assert.True(allocator.TryAllocate(out var local));
            Assert.True(seen.Add(local), $"{local} handed out twice");
            Assert.Contains(local.Address, TwoAddresses);
            Assert.InRange(local.Port, (ushort)5000, (ushort)5099);
        }

        Assert.Equal(200, allocator.Capacity);
        Assert.Equal(200, allocator.InUse);
        Assert.False(allocator.TryAllocate(out _));
        Assert.False(allocator.TryAllocate(out _));
        Assert.Equal(2, allocator.ExhaustedCount);
    }

    [Fact]
    public void TryAllocate_ConsecutiveCalls_AlternateLocalAddresses()
    {
        var allocator = new FullNatLocalAddressAllocator(TwoAddresses, 1024, 2047);
        Assert.True(allocator.TryAllocate(out var first));
        Assert.True(allocator.TryAllocate(out var second));
        Assert.NotEqual(first.Address, second.Address);
    }

    /// <summary>Every pair of a full-size pool (4 addresses x 1024-65535) can be allocated, released and allocated again, three times over.</summary>
    [Fact]
    public void AllocateAllReleaseAll_RepeatedAtFullScale_HandsOutEveryPairEachCycle()
    {
        InetAddress[] addresses = [.. Enumerable.Range(0, 4).Select(i => InetAddress.FromIPv4(10, 0, 1, (byte)(100 + i)))];
        var allocator = new FullNatLocalAddressAllocator(addresses);
        Assert.Equal(4 * 64512, allocator.Capacity);
        var held = new InetEndpoint[allocator.Capacity];
        for (int cycle = 0; cycle < 3; cycle++)
        {
            var seen = new HashSet<InetEndpoint>(allocator.Capacity);
            for (int i = 0; i < held.Length; i++)
            {
                if (!allocator.TryAllocate(out held[i]) || !seen.Add(held[i]))
                {
                    Assert.Fail($"cycle {cycle}: allocation {i} failed or handed out {held[i]} twice");
                }
            }

            Assert.Equal(allocator.Capacity, allocator.InUse);
            Assert.False(allocator.TryAllocate(out _));
            Assert.Equal(held.Length, held.Count(allocator.Release));

            Assert.Equal(0, allocator.InUse);
        }

        Assert.Equal(3, allocator.ExhaustedCount);
    }

    /// <summary>The same cycles with the client-port policy: clients whose ports cover the range keep them, on the local address of their hash.</summary>
    [Fact]
    public void KeepClientPort_AllocateAllReleaseAllCycles_KeepsEveryFreeClientPortAndHandsOutEveryPair()
    {
        var allocator = new FullNatLocalAddressAllocator(TwoAddresses, 1024, 9215, FullNatPortPolicy.KeepClientPort);
        var clients = new InetEndpoint[allocator.Capacity];
        for (int i = 0; i < clients.Length; i++)
        {
            // Two clients per port: the second one finds its port taken when both hash to the same local address.
            clients[i] = new InetEndpoint(InetAddress.FromIPv4(198, 51, (byte)(i % 2), (byte)(1 + (i / 2 % 200))), (ushort)(1024 + (i / 2)));
        }

        for (int cycle = 0; cycle < 2; cycle++)
        {
            var seen = new HashSet<InetEndpoint>(allocator.Capacity);
            var held = new InetEndpoint[clients.Length];
            int kept = 0;
            for (int i = 0; i < clients.Length; i++)
            {
                if (!allocator.TryAllocate(clients[i], out held[i]) || !seen.Add(held[i]))
                {
                    Assert.Fail($"cycle {cycle}: allocation {i} failed or handed out {held[i]} twice");
                }

                kept += held[i].Port == clients[i].Port ? 1 : 0;
            }

            Assert.False(allocator.TryAllocate(clients[0], out _));
            Assert.True(kept >= clients.Length / 2, $"only {kept} of {clients.Length} kept their port");
            Assert.Equal(held.Length, held.Count(allocator.Release));

            Assert.Equal(0, allocator.InUse);
        }
    }

    [Fact]
    public void KeepClientPort_FreePort_IsKeptOnTheClientsLocalAddress()
    {
        var allocator = new FullNatLocalAddressAllocator(TwoAddresses, 1024, 65535, FullNatPortPolicy.KeepClientPort);
        var client = InetEndpoint.Parse("198.51.100.7:43210");

        Assert.True(allocator.TryAllocate(client, out var first));
        Assert.Equal(client.Port, first.Port);
        Assert.Contains(first.Address, TwoAddresses);

        // Taken on that address: the pool gives another pair; released, the port is kept again on the same address.
        Assert.True(allocator.TryAllocate(client, out var second));
        Assert.NotEqual(first, second);
        Assert.True(allocator.Release(first));
        Assert.True(allocator.TryAllocate(client, out var third));
        Assert.Equal(first, third);
    }

    [Fact]
    public void KeepClientPort_PortOutsideTheRange_ComesFromThePool()
    {
        var allocator = new FullNatLocalAddressAllocator(TwoAddresses, 5000, 5099, FullNatPortPolicy.KeepClientPort);
        Assert.True(allocator.TryAllocate(InetEndpoint.Parse("198.51.100.7:43210"), out var local));
        Assert.InRange(local.Port, (ushort)5000, (ushort)5099);
    }

    [Fact]
    public void Pool_ByDefault_IgnoresTheClientPort()
    {
        var allocator = new FullNatLocalAddressAllocator(TwoAddresses, 1024, 65535);
        Assert.Equal(FullNatPortPolicy.Pool, allocator.PortPolicy);
        Assert.True(allocator.TryAllocate(InetEndpoint.Parse("198.51.100.7:43210"), out var local));
        Assert.Equal((ushort)1024, local.Port);
    }

    [Fact]
    public void Release_AfterExhaustion_MakesExactlyThatPairAvailable()
    {
        var allocator = new FullNatLocalAddressAllocator([InetAddress.FromIPv4(192, 168, 1, 1)], 40000, 40009);
        var all = new List<InetEndpoint>();
        while (allocator.TryAllocate(out var local))
        {
            all.Add(local);
        }

        Assert.Equal(10, all.Count);
        Assert.True(allocator.Release(all[7]));
        Assert.False(allocator.IsInUse(all[7]));
        Assert.True(allocator.TryAllocate(out var again));
        Assert.Equal(all[7], again);
    }

    [Fact]
    public void Release_PairNotHeldOrForeign_ReturnsFalseAndChangesNothing()
    {
        var allocator = new FullNatLocalAddressAllocator(TwoAddresses, 2000, 2100);
        Assert.True(allocator.TryAllocate(out var local));
        Assert.False(allocator.Release(new InetEndpoint(InetAddress.FromIPv4(1, 2, 3, 4), local.Port)));
        Assert.False(allocator.Release(new InetEndpoint(local.Address, 1999)));
        Assert.False(allocator.Release(new InetEndpoint(local.Address, 2101)));
        Assert.True(allocator.Release(local));
        Assert.False(allocator.Release(local));
        Assert.Equal(0, allocator.InUse);
    }

    [Fact]
    public void Constructor_InvalidArguments_Throws()
    {
        _ = Assert.Throws<ArgumentException>(() => new FullNatLocalAddressAllocator([]));
        _ = Assert.Throws<ArgumentException>(() => new FullNatLocalAddressAllocator([InetAddress.FromIPv4(1, 1, 1, 1), InetAddress.Parse("2001:db8::1")]));
        _ = Assert.Throws<ArgumentException>(() => new FullNatLocalAddressAllocator([InetAddress.FromIPv4(1, 1, 1, 1), InetAddress.FromIPv4(1, 1, 1, 1)]));
        _ = Assert.Throws<ArgumentException>(() => new FullNatLocalAddressAllocator(TwoAddresses, 3000, 2999));
        _ = Assert.Throws<ArgumentException>(() => new FullNatLocalAddressAllocator(TwoAddresses, 0, 10));
    }

    [Fact]
    public void TryAllocate_ManyThreads_NeverHandsOutAPairTwice()
    {
        var allocator = new FullNatLocalAddressAllocator(TwoAddresses, 10000, 10999);
        var held = new System.Collections.Concurrent.ConcurrentDictionary<InetEndpoint, int>();
        int duplicates = 0;
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            var mine = new List<InetEndpoint>();
            for (int i = 0; i < 20000; i++)
            {
                if ((i + t) % 3 != 2 && allocator.TryAllocate(out var local))
                {
                    if (!held.TryAdd(local, t))
                    {
                        _ = Interlocked.Increment(ref duplicates);
                    }

                    mine.Add(local);
                }
                else if (mine.Count > 0)
                {
                    var victim = mine[^1];
                    mine.RemoveAt(mine.Count - 1);
                    _ = held.TryRemove(victim, out _);
                    Assert.True(allocator.Release(victim));
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Equal(0, duplicates);
        Assert.Equal(held.Count, allocator.InUse);
        Assert.All(held.Keys, k => Assert.True(allocator.IsInUse(k)));
    }

    /// <summary>Random allocate/release sequences against a model set: never a pair in use, exhaustion exactly when the model is full.</summary>
    [FsCheck.Xunit.Property(MaxTest = 300)]
    public Property TryAllocate_RandomAllocateReleaseSequences_NeverHandsOutAPairInUse()
    {
        var operations = Gen.ListOf(Gen.Choose(0, 99)).Select(l => l.ToArray());
        var ranges = Gen.Choose(1, 150).SelectMany(count => Gen.Choose(1, 3).Select(addresses => (count, addresses)));
        return Prop.ForAll(Arb.From(ranges), Arb.From(operations), (range, ops) =>
        {
            var addresses = Enumerable.Range(1, range.addresses).Select(i => InetAddress.FromIPv4(10, 1, 0, (byte)i)).ToArray();
            var allocator = new FullNatLocalAddressAllocator(addresses, 60000, (ushort)(60000 + range.count - 1));
            var model = new List<InetEndpoint>();
            long expectedExhausted = 0;
            foreach (int op in ops)
            {
                if (op < 60 || model.Count == 0)
                {
                    bool full = model.Count == allocator.Capacity;
                    bool ok = allocator.TryAllocate(out var local);
                    if (ok == full)
                    {
                        return false;
                    }

                    if (!ok)
                    {
                        expectedExhausted++;
                        continue;
                    }

                    if (model.Contains(local) || !addresses.Contains(local.Address) || local.Port < 60000 || local.Port >= 60000 + range.count)
                    {
                        return false;
                    }

                    model.Add(local);
                }
                else
                {
                    var victim = model[op % model.Count];
                    model.Remove(victim);
                    if (!allocator.Release(victim) || allocator.IsInUse(victim))
                    {
                        return false;
                    }
                }
            }

            return allocator.InUse == model.Count && allocator.ExhaustedCount == expectedExhausted && model.All(allocator.IsInUse);
        });
    }
}
