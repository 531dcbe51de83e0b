using System.Runtime.CompilerServices;

namespace Lvs.ConnectionTracking;

/// <summary>
/// The four secret words of the connection table's hash (<see cref="FlowHashKey{TAddress}"/>), expanded from one
/// 64-bit seed with SplitMix64, and the multiply-fold the hash is built from.
/// </summary>
internal readonly struct FlowHashSecret
{
    public readonly ulong K0;
    public readonly ulong K1;
    public readonly ulong K2;
    public readonly ulong K3;

    public FlowHashSecret(ulong seed)
    {
        K0 = Next(ref seed);
        K1 = Next(ref seed);
        K2 = Next(ref seed);
        K3 = Next(ref seed) | 1;
    }

    /// <summary>The 128-bit product of the two words, its high half xor its low half (wyhash's <c>mum</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Fold(ulong left, ulong right)
    {
        ulong high = Math.BigMul(left, right, out ulong low);
        return high ^ low;
    }

    /// <summary>The last step of every key: one more multiply-fold with secret words, so every output bit depends on every input bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Finish(ulong state) => Fold(state ^ K2, K3);

    private static ulong Next(ref ulong state)
    {
        // SplitMix64 (Steele, Lea and Flood, 2014), the usual seed expander.
        ulong z = state += 0x9E37_79B9_7F4A_7C15;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB;
        return z ^ (z >> 31);
    }
}
