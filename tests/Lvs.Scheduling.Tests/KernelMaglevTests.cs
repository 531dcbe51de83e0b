using System.Buffers.Binary;
using Lvs.Core;

namespace Lvs.Scheduling.Tests;

/// <summary>
/// mh with <see cref="SchedulerOptions.MaglevKernelCompatible"/>: the kernel's hsiphash checked against the kernel's own
/// self-test vectors, and the table, picks and fallback checked against ip_vs_mh.c transcribed here step by step (its
/// linked-list walk, bitmap and dest_setup array), over random server lists.
/// </summary>
public class KernelMaglevTests
{
    /// <summary>lib/siphash_kunit.c, BITS_PER_LONG == 64: hsiphash of the bytes 0, 1, ..., i - 1 under the key below.</summary>
    private static readonly uint[] HsipHashVectors =
    [
        0x050fc4dc, 0x7d57ca93, 0x4dc7d44d, 0xe7ddf7fb, 0x88d38328, 0x49533b67, 0xc59f22a7, 0x9bb11140,
        0x8d299a8e, 0x6c063de4, 0x92ff097f, 0xf94dc352, 0x57b4d9a2, 0x1229ffa7, 0xc0f95d34, 0x2a519956,
        0x7d908b66, 0x63dbd80c, 0xb473e63e, 0x8d297d1c, 0xa6cce040, 0x2b45f844, 0xa320872e, 0xdae6c123,
        0x67349c8c, 0x705b0979, 0xca9913a5, 0x4ade3b35, 0xef6cd00d, 0x4ab1e1f4, 0x43c5e663, 0x8c21d1bc,
        0x16a7b60d, 0x7a8ff9bf, 0x1f2a753e, 0xbf186b91, 0xada26206, 0xa3c33057, 0xae3a36a1, 0x7b108392,
        0x99e41531, 0x3f1ad944, 0xc8138825, 0xc28949a6, 0xfaf8876b, 0x9f042196, 0x68b1d623, 0x8b5114fd,
        0xdf074c46, 0x12cc86b3, 0x0a52098f, 0x9d292f9a, 0xa2f41f12, 0x43a71ed0, 0x73f0bce6, 0x70a7e980,
        0x243c6d75, 0xfdb71513, 0xa67d8a08, 0xb7e8f148, 0xf7a644ee, 0x0f1837f2, 0x4b6694e0, 0xb7bbb3a8,
    ];

    private const ulong VectorKey0 = 0x0706050403020100UL;
    private const ulong VectorKey1 = 0x0f0e0d0c0b0a0908UL;

    // generate_hash_secret in ip_vs_mh.c.
    private const ulong Hash1 = 2654435761UL;
    private const ulong Hash2 = 2654446892UL;

    [Fact]
    public void HsipHash_MatchesTheKernelsSelfTestVectors()
    {
        byte[] input = [.. Enumerable.Range(0, 64).Select(i => (byte)i)];
        for (int length = 0; length < 64; length++)
        {
            Assert.True(HsipHashVectors[length] == ReferenceHsipHash(input.AsSpan(0, length), VectorKey0, VectorKey1), $"length {length}");
        }

        Assert.Equal(HsipHashVectors[4], KernelHsipHash.HashUInt32(BinaryPrimitives.ReadUInt32LittleEndian(input), VectorKey0, VectorKey1));
    }

    [Theory]
    [InlineData(251, 1)]
    [InlineData(509, 2)]
    [InlineData(4093, 3)]
    [InlineData(4093, 4)]
    public void Table_IsTheKernels_ForRandomServerListsAndWeights(int size, int seed)
    {
        var random = new Random(seed);
        for (int round = 0; round < 25; round++)
        {
            var servers = RandomServers(random, random.Next(1, 40));
            var mh = Kernel(size);
            mh.UpdateServers(servers);

            var expected = ReferenceTable(servers, [.. servers.Select(s => s.Weight)], size);
            Assert.Equal(servers, mh.CurrentServers());
            int[] actual = mh.CurrentTable();
            Assert.Equal(expected.All(i => i < 0) ? Array.Empty<int>() : expected, actual);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pick_IsTheKernels_ForIPv4AndIPv6ClientsWithAndWithoutThePort(bool port)
    {
        var random = new Random(port ? 11 : 12);
        var servers = RandomServers(random, 9);
        var mh = Kernel(4093, port ? SchedulerFlags.Port : SchedulerFlags.None);
        mh.UpdateServers(servers);
        var table = ReferenceTable(servers, [.. servers.Select(s => s.Weight)], 4093);
        for (int i = 0; i < 2000; i++)
        {
            var flow = RandomFlow(random);
            var expected = table[ReferenceHash(flow.SourceAddress, port ? flow.SourcePort : (ushort)0, Hash1, 0) % 4093];
            Assert.Same(servers[expected], mh.Pick(flow));
        }
    }

    [Fact]
    public void Pick_DrainedServer_KeepsTheTable_RefusesItsClients_OrFallsBackAsTheKernel()
    {
        var random = new Random(21);
        var servers = RandomServers(random, 6);
        for (int i = 0; i < servers.Length; i++)
        {
            servers[i].Weight = i + 1;
        }

        var plain = Kernel(4093);
        var fallback = Kernel(4093, SchedulerFlags.Fallback);
        plain.UpdateServers(servers);
        fallback.UpdateServers(servers);
        int[] before = plain.CurrentTable();

        // Weight 0 (quiescing) keeps the server's last weight in the table, as the kernel's last_weight does.
        var drained = servers[2];
        drained.Weight = 0;
        plain.UpdateServers(servers);
        fallback.UpdateServers(servers);
        Assert.Equal(before, plain.CurrentTable());

        int refused = 0;
        for (int i = 0; i < 3000; i++)
        {
            var flow = RandomFlow(random);
            int slot = (int)(ReferenceHash(flow.SourceAddress, 0, Hash1, 0) % 4093);
            var first = servers[before[slot]];
            if (first != drained)
            {
                Assert.Same(first, plain.Pick(flow));
                Assert.Same(first, fallback.Pick(flow));
                continue;
            }

            refused++;
            Assert.Null(plain.Pick(flow));
            Assert.Same(ReferenceFallback(servers, before, flow.SourceAddress, 0, (uint)slot, 4093), fallback.Pick(flow));
        }

        Assert.InRange(refused, 200, 900);
    }

    /// <summary>
    /// A service's destinations may be of the other family with tunnelling: the kernel folds their addresses by the
    /// service's family (an IPv4 service takes an IPv6 destination's first word only).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Table_DestinationsOfTheOtherFamily_FoldedByTheServicesFamily(bool serviceIPv6)
    {
        var random = new Random(serviceIPv6 ? 31 : 32);
        for (int round = 0; round < 10; round++)
        {
            var servers = RandomServers(random, random.Next(2, 20));
            var family = serviceIPv6 ? System.Net.Sockets.AddressFamily.InterNetworkV6 : System.Net.Sockets.AddressFamily.InterNetwork;
            var mh = new MaglevHashingScheduler(new SchedulerOptions { MaglevKernelCompatible = true, MaglevTableSize = 251, ServiceAddressFamily = family });
            mh.UpdateServers(servers);

            var expected = ReferenceTable(servers, [.. servers.Select(s => s.Weight)], 251, serviceIPv6);
            Assert.Equal(expected.All(i => i < 0) ? Array.Empty<int>() : expected, mh.CurrentTable());
        }
    }

    [Fact]
    public void Table_DependsOnTheListOrder_AsTheKernels()
    {
        var servers = TestServers.WithWeights(1, 1, 1, 1);
        var forward = Kernel(251);
        var backward = Kernel(251);
        forward.UpdateServers(servers);
        backward.UpdateServers([.. servers.Reverse()]);

        var forwardSlots = forward.CurrentTable().Select(i => forward.CurrentServers()[i]).ToArray();
        var backwardSlots = backward.CurrentTable().Select(i => backward.CurrentServers()[i]).ToArray();
        Assert.NotEqual(forwardSlots, backwardSlots);
        Assert.Equal(ReferenceTable([.. servers.Reverse()], [1, 1, 1, 1], 251).Select(i => servers[3 - i]), backwardSlots);
    }

    [Fact]
    public void Options_TableSize_IsTheKernelsDefault_OrOneOfItsPrimes()
    {
        Assert.Equal(4093, Kernel(SchedulerOptions.DefaultMaglevTableSize).TableSize);
        Assert.Equal(131071, Kernel(131071).TableSize);
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernel(4099));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernel(65537 + 2));
    }

    private static MaglevHashingScheduler Kernel(int size, SchedulerFlags flags = SchedulerFlags.None) =>
        new(new SchedulerOptions { MaglevKernelCompatible = true, MaglevTableSize = size, Flags = flags });

    private static RealServer[] RandomServers(Random random, int count)
    {
        var endpoints = new HashSet<InetEndpoint>();
        while (endpoints.Count < count)
        {
            var address = random.Next(3) == 0
                ? new InetAddress((ulong)random.NextInt64(), (ulong)random.NextInt64())
                : InetAddress.FromIPv4((uint)random.NextInt64(0x0100_0000, 0xE000_0000));
            endpoints.Add(new InetEndpoint(address, (ushort)random.Next(1, 65536)));
        }

        // Weights from 0 to large ones, so that both the gcd and the shift to IP_VS_MH_TAB_BITS matter.
        return [.. endpoints.Select(e => new RealServer(e, random.Next(4) switch { 0 => 0, 1 => random.Next(1, 5), 2 => 10 * random.Next(1, 6), _ => random.Next(1, RealServer.MaxWeight + 1) }))];
    }

    private static FlowKey RandomFlow(Random random)
    {
        var client = random.Next(2) == 0
            ? InetAddress.FromIPv4((uint)random.NextInt64(0x0100_0000, 0xE000_0000))
            : new InetAddress((ulong)random.NextInt64(), (ulong)random.NextInt64());
        var vip = client.IsIPv4 ? InetAddress.FromIPv4(192, 0, 2, 1) : InetAddress.Parse("2001:db8::1");
        return new FlowKey(L4Protocol.Tcp, client, (ushort)random.Next(1024, 65536), vip, 80);
    }

    /// <summary>
    /// ip_vs_mh_hashkey: hsiphash of (offset + ntohs(port) + ntohl(addr_fold)) with both key words equal, where the
    /// address is a union nf_inet_addr (an IPv4 address in its first word, the rest 0) folded by the service's family
    /// (<paramref name="serviceIPv6"/>; null: the address's own).
    /// </summary>
    private static uint ReferenceHash(InetAddress address, ushort port, ulong key, uint offset, bool? serviceIPv6 = null)
    {
        Span<byte> union = stackalloc byte[16];
        if (address.IsIPv4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(union, address.IPv4Value);
        }
        else
        {
            BinaryPrimitives.WriteUInt64BigEndian(union, address.High);
            BinaryPrimitives.WriteUInt64BigEndian(union[8..], address.Low);
        }

        // __be32 addr_fold = addr->ip; for AF_INET6 the four __be32 words XORed; then ntohl.
        uint folded = BinaryPrimitives.ReadUInt32LittleEndian(union);
        if (serviceIPv6 ?? address.IsIPv6)
        {
            for (int w = 1; w < 4; w++)
            {
                folded ^= BinaryPrimitives.ReadUInt32LittleEndian(union[(w * 4)..]);
            }
        }

        uint fold = BinaryPrimitives.ReverseEndianness(folded);

        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(v, unchecked(offset + port + fold));
        return ReferenceHsipHash(v, key, key);
    }

    /// <summary>
    /// ip_vs_mh_gcd_weight, ip_vs_mh_shift_weight, ip_vs_mh_permutate and ip_vs_mh_populate, statement by statement:
    /// the destinations list is indices 0..n-1 with n as its head, the lookup holds a list index or -1 (NULL).
    /// </summary>
    private static int[] ReferenceTable(RealServer[] list, int[] lastWeight, int size, bool? serviceIPv6 = null)
    {
        int head = list.Length;
        int Next(int p) => p == head ? (list.Length == 0 ? head : 0) : (p + 1 == list.Length ? head : p + 1);
        int tabBits = (Array.IndexOf(new[] { 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071 }, size) + 8) / 2;

        int g = 0;
        foreach (int weight in lastWeight)
        {
            if (weight > 0)
            {
                g = g > 0 ? (int)System.Numerics.BigInteger.GreatestCommonDivisor(weight, g) : weight;
            }
        }

        var lookup = Enumerable.Repeat(-1, size).ToArray();
        if (g < 1)
        {
            return lookup;
        }

        int mw = lastWeight.Max() / g;
        int fls = 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)mw);
        int rshift = Math.Max(fls - tabBits, 0);

        var offset = new int[list.Length];
        var skip = new int[list.Length];
        var perm = new int[list.Length];
        var turns = new int[list.Length];
        for (int d = 0; d < list.Length; d++)
        {
            offset[d] = (int)(ReferenceHash(list[d].Address, list[d].Port, Hash1, 0, serviceIPv6) % (uint)size);
            skip[d] = (int)(ReferenceHash(list[d].Address, list[d].Port, Hash2, 0, serviceIPv6) % (uint)(size - 1)) + 1;
            perm[d] = offset[d];
            int lw = lastWeight[d];
            int t = (lw / g) >> rshift;
            turns[d] = t != 0 ? t : (lw != 0 ? 1 : 0);
        }

        var table = new bool[size];
        int p = head, n = 0, dtCount = 0;
        while (n < size)
        {
            if (p == head)
            {
                p = Next(p);
            }

            int ds = 0;
            while (p != head)
            {
                if (turns[ds] < 1)
                {
                    p = Next(p);
                    ds++;
                    continue;
                }

                int c = perm[ds];
                while (table[c])
                {
                    perm[ds] += skip[ds];
                    if (perm[ds] >= size)
                    {
                        perm[ds] -= size;
                    }

                    c = perm[ds];
                }

                table[c] = true;
                lookup[c] = p;
                if (++n == size)
                {
                    return lookup;
                }

                if (++dtCount >= turns[ds])
                {
                    dtCount = 0;
                    p = Next(p);
                    ds++;
                }
            }
        }

        return lookup;
    }

    /// <summary>ip_vs_mh_get_fallback after its first slot was unavailable.</summary>
    private static RealServer? ReferenceFallback(RealServer[] list, int[] lookup, InetAddress address, ushort port, uint ihash, int size)
    {
        for (uint offset = 0; offset < size; offset++)
        {
            uint roffset = (offset + ihash) % (uint)size;
            uint hash = ReferenceHash(address, port, Hash1, roffset) % (uint)size;
            int dest = lookup[hash];
            if (dest < 0)
            {
                break;
            }

            if (list[dest].Weight > 0)
            {
                return list[dest];
            }
        }

        return null;
    }

    /// <summary>
    /// lib/siphash.c's hsiphash on a 64-bit kernel, written here from its macros (PREAMBLE, SIPROUND, HPOSTAMBLE) for
    /// any length: SipHash-1-3 over little-endian words, truncated to 32 bits. The test's oracle, independent of
    /// <see cref="KernelHsipHash"/>.
    /// </summary>
    private static uint ReferenceHsipHash(ReadOnlySpan<byte> data, ulong key0, ulong key1)
    {
        ulong v0 = 0x736f6d6570736575UL ^ key0, v1 = 0x646f72616e646f6dUL ^ key1, v2 = 0x6c7967656e657261UL ^ key0, v3 = 0x7465646279746573UL ^ key1;
        void SipRound()
        {
            v0 += v1; v1 = ulong.RotateLeft(v1, 13); v1 ^= v0; v0 = ulong.RotateLeft(v0, 32);
            v2 += v3; v3 = ulong.RotateLeft(v3, 16); v3 ^= v2;
            v0 += v3; v3 = ulong.RotateLeft(v3, 21); v3 ^= v0;
            v2 += v1; v1 = ulong.RotateLeft(v1, 17); v1 ^= v2; v2 = ulong.RotateLeft(v2, 32);
        }

        int whole = data.Length & ~7;
        for (int i = 0; i < whole; i += 8)
        {
            ulong m = BinaryPrimitives.ReadUInt64LittleEndian(data[i..]);
            v3 ^= m;
            SipRound();
            v0 ^= m;
        }

        ulong b = (ulong)data.Length << 56;
        for (int i = whole; i < data.Length; i++)
        {
            b |= (ulong)data[i] << (8 * (i - whole));
        }

        v3 ^= b;
        SipRound();
        v0 ^= b;
        v2 ^= 0xff;
        SipRound();
        SipRound();
        SipRound();
        return (uint)((v0 ^ v1) ^ (v2 ^ v3));
    }
}
