using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// The one's complement arithmetic of the rewriters' incremental checksum updates (RFC 1624 equation 3,
/// <c>HC' = ~(~HC + ~m + m')</c>): the changes of every field a checksum covers are summed unfolded in one 64-bit
/// accumulator, folded once (<see cref="Checksum.Fold"/>) and applied once.
/// </summary>
/// <remarks>
/// The sums may be taken over words loaded in memory order rather than network order: the one's complement sum is
/// the same up to a byte swap of the result (RFC 1071 section 2(B)), so a checksum field loaded, updated and stored in
/// memory order is right without swapping any operand. <see cref="TtlDecrementDeltaRaw"/> is the TTL delta for such
/// sums.
/// </remarks>
internal static class OnesComplement
{
    /// <summary>
    /// The change to the IPv4 header sum when the TTL drops by one, in network order: the TTL/protocol word m becomes
    /// m' = m - 0x0100, so ~m + m' = 0xFFFF - 0x0100 = 0xFEFF exactly (no carry, for any TTL of at least 1), the same
    /// for every packet (RFC 1624 section 5; the kernel's <c>ip_decrease_ttl</c> adds the same constant).
    /// </summary>
    public const ushort TtlDecrementDelta = 0xFEFF;

    /// <summary><see cref="TtlDecrementDelta"/> for a sum of words loaded in memory order (byte-swapped on a little-endian machine).</summary>
    public static uint TtlDecrementDeltaRaw
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => BitConverter.IsLittleEndian ? 0xFFFEu : TtlDecrementDelta;
    }

    /// <summary>
    /// The IPv4 header checksum after a TTL decrement and no other change, in memory order: equation 3 with the
    /// constant delta, ~(~HC + ~0x0100), is HC + 0x0100 with an end-around carry (the kernel's <c>ip_decrease_ttl</c>),
    /// which needs no fold. The carry is also taken at exactly 0xFFFF, so that, as from equation 3, the result is
    /// never 0xFFFF.
    /// </summary>
    /// <param name="checksum">The checksum field as loaded in memory order.</param>
    /// <returns>The new checksum field value, in memory order.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort AfterTtlDecrement(ushort checksum)
    {
        uint sum = checksum + (BitConverter.IsLittleEndian ? 0x0001u : 0x0100u);
        return (ushort)(sum + (sum >= 0xFFFF ? 1u : 0u));
    }

    /// <summary>RFC 1624 equation 3: the checksum field after changes whose sum (of ~old and new words) is <paramref name="delta"/>.</summary>
    /// <param name="checksum">The checksum field as loaded (in the same byte order as the words of <paramref name="delta"/>).</param>
    /// <param name="delta">The unfolded sum of the changed words' complements and new values.</param>
    /// <returns>The new checksum field value, in the same byte order.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Apply(ushort checksum, ulong delta) => (ushort)~Checksum.Fold(delta + (ushort)~checksum);

    /// <summary>The sum change of replacing the 32-bit value <paramref name="oldValue"/> by <paramref name="newValue"/> (two 16-bit words), unfolded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Delta(uint oldValue, uint newValue) => (ulong)~oldValue + newValue;

    /// <summary>The sum change of replacing the 64-bit value <paramref name="oldValue"/> by <paramref name="newValue"/> (four 16-bit words), unfolded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Delta(ulong oldValue, ulong newValue) => Words(~oldValue) + Words(newValue);

    /// <summary>The sum change of replacing the 16-bit value <paramref name="oldValue"/> by <paramref name="newValue"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Delta(ushort oldValue, ushort newValue) => (uint)(ushort)~oldValue + newValue;

    // Summing 32-bit chunks and folding the total once gives the same 16-bit sum as summing the 16-bit words
    // (RFC 1071 section 2(B): the sum is independent of the word size used to add it).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Words(ulong value) => (value >> 32) + (uint)value;
}
