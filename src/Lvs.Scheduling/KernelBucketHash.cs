using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// The kernel's bucket hash of sh and dh: the address folded to 32 bits (IPv6 words XORed), plus the port for sh-port,
/// through <c>hash_32</c> (multiplication by the 32-bit golden ratio, top bits kept; include/linux/hash.h).
/// </summary>
/// <remarks>
/// Unseeded on purpose: two directors (or a director and the kernel) with the same servers map a client to the same
/// bucket. The table is small and a colliding client only hurts itself, so a chosen collision buys an attacker nothing.
/// </remarks>
internal static class KernelBucketHash
{
    private const uint GoldenRatio32 = 0x61C88647;

    /// <summary>The kernel's <c>hash_32(value, bits)</c>.</summary>
    /// <param name="value">The value.</param>
    /// <param name="bits">The table size in bits.</param>
    /// <returns>A bucket index below 2^bits.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Hash32(uint value, int bits) => unchecked(value * GoldenRatio32) >> (32 - bits);

    /// <summary>The address in host order (IPv4) or its four 32-bit words XORed (IPv6), as the kernel's <c>addr_fold</c>.</summary>
    /// <param name="address">The address.</param>
    /// <returns>The folded address.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Fold(InetAddress address) =>
        address.IsIPv4
            ? address.IPv4Value
            : (uint)(address.High >> 32) ^ (uint)address.High ^ (uint)(address.Low >> 32) ^ (uint)address.Low;

    /// <summary>Validates a bucket table size in bits (the kernel's Kconfig range).</summary>
    /// <param name="bits">The size in bits.</param>
    /// <returns>The size.</returns>
    public static int ValidateBits(int bits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bits, 4);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bits, 20);
        return bits;
    }
}
