using System.Numerics;
using System.Runtime.CompilerServices;

namespace Lvs.Scheduling;

/// <summary>
/// The kernel's <c>hsiphash</c> as a 64-bit kernel computes it (lib/siphash.c): on 64-bit architectures "HalfSipHash"
/// is SipHash-1-3 (one compression round per 8-byte word, three finalisation rounds) over a key of two 64-bit words,
/// truncated to 32 bits. ip_vs_mh hashes its 4-byte keys with it under fixed keys, so its tables can be rebuilt here;
/// only that 4-byte form is needed (the tests check it, and their own SipHash-1-3 of any length, against the kernel's
/// self-test vectors).
/// </summary>
internal static class KernelHsipHash
{
    private const ulong Const0 = 0x736F_6D65_7073_6575UL;
    private const ulong Const1 = 0x646F_7261_6E64_6F6DUL;
    private const ulong Const2 = 0x6C79_6765_6E65_7261UL;
    private const ulong Const3 = 0x7465_6462_7974_6573UL;

    /// <summary>
    /// <c>hsiphash(&amp;v, sizeof(v), key)</c> for a 32-bit value in a little-endian kernel's memory (x86-64, arm64):
    /// what ip_vs_mh_hashkey computes.
    /// </summary>
    /// <param name="value">The value.</param>
    /// <param name="key0">The key's first word.</param>
    /// <param name="key1">The key's second word.</param>
    /// <returns>The 32-bit hash.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint HashUInt32(uint value, ulong key0, ulong key1) =>
        Finish(Const0 ^ key0, Const1 ^ key1, Const2 ^ key0, Const3 ^ key1, (4UL << 56) | value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Finish(ulong v0, ulong v1, ulong v2, ulong v3, ulong b)
    {
        v3 ^= b;
        Round(ref v0, ref v1, ref v2, ref v3);
        v0 ^= b;
        v2 ^= 0xFF;
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        return (uint)((v0 ^ v1) ^ (v2 ^ v3));
    }

    /// <summary>One SipRound (SIPHASH_PERMUTATION).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
    {
        v0 += v1;
        v1 = BitOperations.RotateLeft(v1, 13);
        v1 ^= v0;
        v0 = BitOperations.RotateLeft(v0, 32);
        v2 += v3;
        v3 = BitOperations.RotateLeft(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = BitOperations.RotateLeft(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = BitOperations.RotateLeft(v1, 17);
        v1 ^= v2;
        v2 = BitOperations.RotateLeft(v2, 32);
    }
}
