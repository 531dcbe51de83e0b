using System.IO.Hashing;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// The Maglev lookup table (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer", NSDI 2016,
/// section 3.4): every server walks its own permutation of the table's slots (offset + j x skip, modulo the prime table
/// size) and, taking turns, claims the next slot of its permutation that is still free, until the table is full.
/// </summary>
/// <remarks>
/// <para>
/// Weights follow the kernel's <c>ip_vs_mh.c</c>: a server claims <c>turns</c> slots per round, where turns is its weight
/// divided by the gcd of the weights and shifted right so that the largest is below 2^6 (a weight that rounds to 0 still
/// gets one turn). With equal weights every server owns floor(M/N) or ceil(M/N) slots.
/// </para>
/// <para>
/// Offsets and skips come from two XxHash3 hashes of the server's address and port seeded with the configured seed (the
/// kernel uses siphash with fixed keys); the flow hash mixes the client's address and port into the same seed. Servers are ordered by (address,
/// port) before the rounds, so the table depends only on the set of servers and weights, the table size and the seed.
/// </para>
/// </remarks>
internal static class MaglevTable
{
    /// <summary>The kernel's <c>IP_VS_MH_TAB_BITS</c>: weights / gcd are shifted to at most this many bits.</summary>
    private const int TurnBits = 6;

    private const ulong SkipSeedTweak = 0x9E37_79B9_7F4A_7C15UL;

    /// <summary>Builds the table.</summary>
    /// <param name="servers">The servers ordered by (address, port).</param>
    /// <param name="weights">Their weights (for mh, the last weight above 0 each server had).</param>
    /// <param name="size">The prime table size, at least the number of servers.</param>
    /// <param name="seed">The hash seed.</param>
    /// <returns>For each slot the index of its server, or an empty array when no server has a weight.</returns>
    public static int[] Build(RealServer[] servers, int[] weights, int size, ulong seed)
    {
        var offsets = new int[servers.Length];
        var skips = new int[servers.Length];
        for (int i = 0; i < servers.Length; i++)
        {
            (offsets[i], skips[i]) = Permutation(servers[i].Endpoint, size, seed);
        }

        return Populate(offsets, skips, weights, size, TurnBits);
    }

    /// <summary>
    /// Fills the table (the kernel's <c>ip_vs_mh_permutate</c> turns and <c>ip_vs_mh_populate</c>): servers take turns in
    /// their order, each claiming <c>turns</c> slots in a row, every claim the next free slot of its permutation.
    /// </summary>
    /// <param name="offsets">Each server's first slot.</param>
    /// <param name="skips">Each server's step, in [1, size).</param>
    /// <param name="weights">Each server's weight (0: no slot).</param>
    /// <param name="size">The prime table size.</param>
    /// <param name="turnBits">The kernel's <c>IP_VS_MH_TAB_BITS</c>: weights / gcd are shifted right to fit this many bits.</param>
    /// <returns>For each slot the index of its server, or an empty array when no server has a weight.</returns>
    public static int[] Populate(int[] offsets, int[] skips, int[] weights, int size, int turnBits)
    {
        int gcd = 0;
        int max = 0;
        foreach (int w in weights)
        {
            if (w > 0)
            {
                gcd = gcd > 0 ? Gcd(gcd, w) : w;
                max = Math.Max(max, w);
            }
        }

        if (gcd == 0)
        {
            return [];
        }

        int shift = Math.Max(0, (32 - int.LeadingZeroCount(max / gcd)) - turnBits);
        int count = weights.Length;
        var next = (int[])offsets.Clone();
        var turns = new int[count];
        for (int i = 0; i < count; i++)
        {
            int scaled = (weights[i] / gcd) >> shift;
            turns[i] = scaled > 0 ? scaled : (weights[i] > 0 ? 1 : 0);
        }

        var table = new int[size];
        Array.Fill(table, -1);
        int filled = 0;
        while (true)
        {
            for (int i = 0; i < count; i++)
            {
                for (int turn = 0; turn < turns[i]; turn++)
                {
                    // Walk this server's permutation to its next free slot; the position is kept for the next claim.
                    int slot = next[i];
                    while (table[slot] >= 0)
                    {
                        slot += skips[i];
                        if (slot >= size)
                        {
                            slot -= size;
                        }
                    }

                    table[slot] = i;
                    next[i] = slot;
                    if (++filled == size)
                    {
                        return table;
                    }
                }
            }
        }
    }

    /// <summary>A server's permutation of the slots: its first slot (offset) and its step (skip), from two seeded hashes.</summary>
    /// <param name="endpoint">The server's address and port.</param>
    /// <param name="size">The prime table size.</param>
    /// <param name="seed">The seed.</param>
    /// <returns>The offset in [0, size) and the skip in [1, size).</returns>
    public static (int Offset, int Skip) Permutation(InetEndpoint endpoint, int size, ulong seed) =>
        ((int)(ServerHash(endpoint, seed) % (ulong)size), (int)(ServerHash(endpoint, seed ^ SkipSeedTweak) % (ulong)(size - 1)) + 1);

    /// <summary>
    /// The flow hash: a client's address, port (0 unless mh-port) and fallback round. The words are multiplied by odd
    /// constants in parallel, folded into the seed, and finished with MurmurHash3's 64-bit finalizer (fmix64), whose
    /// avalanche spreads every input bit: a short dependency chain, a few nanoseconds (XxHash3 over the same 24 bytes
    /// measured several times more). The seed is public by default, so a keyed hash would buy nothing here.
    /// </summary>
    /// <param name="address">The client's address.</param>
    /// <param name="port">The client's port, or 0.</param>
    /// <param name="round">0 for the first lookup, the fallback round otherwise.</param>
    /// <param name="seed">The seed.</param>
    /// <returns>A 64-bit hash.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong FlowHash(InetAddress address, ushort port, uint round, ulong seed)
    {
        ulong h = seed
            ^ (address.High * 0x9E37_79B9_7F4A_7C15UL)
            ^ BitOperations.RotateLeft(address.Low * 0xC2B2_AE3D_27D4_EB4FUL, 31)
            ^ ((((ulong)round << 16) | port) * 0x1656_67B1_9E37_79F9UL);
        return Mix(h);
    }

    /// <summary>Maps a 64-bit hash onto a slot without a division (Lemire's multiply-shift range reduction).</summary>
    /// <param name="hash">The hash.</param>
    /// <param name="size">The table size.</param>
    /// <returns>A slot below <paramref name="size"/>.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Slot(ulong hash, int size) => (int)(((hash >> 32) * (ulong)(uint)size) >> 32);

    /// <summary>True when <paramref name="value"/> is prime (trial division; table sizes are small).</summary>
    /// <param name="value">The value.</param>
    /// <returns>True for a prime.</returns>
    public static bool IsPrime(int value)
    {
        if (value < 2)
        {
            return false;
        }

        for (int d = 2; (long)d * d <= value; d++)
        {
            if (value % d == 0)
            {
                return false;
            }
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong x)
    {
        // fmix64 of MurmurHash3 (Appleby): every input bit affects every output bit.
        x ^= x >> 33;
        x *= 0xFF51_AFD7_ED55_8CCDUL;
        x ^= x >> 33;
        x *= 0xC4CE_B9FE_1A85_EC53UL;
        return x ^ (x >> 33);
    }

    private static ulong ServerHash(InetEndpoint endpoint, ulong seed)
    {
        var key = new HashKey(endpoint.Address.High, endpoint.Address.Low, endpoint.Port, 0);
        return XxHash3.HashToUInt64(MemoryMarshal.AsBytes(new ReadOnlySpan<HashKey>(in key)), unchecked((long)seed));
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }

    [StructLayout(LayoutKind.Sequential, Pack = 8)]
    private readonly struct HashKey(ulong high, ulong low, uint port, uint round)
    {
        public readonly ulong High = high;
        public readonly ulong Low = low;
        public readonly uint Port = port;
        public readonly uint Round = round;
    }
}
