using System.Numerics;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lvs.Core;

/// <summary>
/// The Internet checksum: RFC 1071 full computation, RFC 1624 incremental updates, and the pseudo-header
/// sums of TCP, UDP and ICMPv6 over IPv4 (RFC 793/768) and IPv6 (RFC 8200 section 8.1).
/// </summary>
/// <remarks>
/// <para>
/// All values are in host form as read by <see cref="BinaryPrimitives.ReadUInt16BigEndian(ReadOnlySpan{byte})"/>
/// from the header: a checksum field is passed and returned as that number, and written back with
/// <see cref="BinaryPrimitives.WriteUInt16BigEndian(Span{byte}, ushort)"/>.
/// </para>
/// <para>
/// A partial sum (<see cref="Sum"/>, <see cref="PseudoHeaderSum"/>) is the one's complement sum of the
/// 16-bit big-endian words, folded to 16 bits and not yet complemented; partial sums add with
/// <see cref="Add"/>. The full computation sums 32-bit native-order words into 64-bit accumulators and
/// swaps bytes once at the end, which RFC 1071 section 2(B) shows gives the same result.
/// </para>
/// <para>
/// UDP over IPv4 uses 0 to mean "no checksum"; a computed UDP checksum of 0 is sent as 0xFFFF (RFC 768).
/// <see cref="UdpResult"/> applies that rule; the incremental updates do not, so a caller updating a UDP
/// checksum must skip a zero IPv4 UDP checksum and pass the result through <see cref="UdpResult"/>.
/// </para>
/// </remarks>
public static class Checksum
{
    /// <summary>The one's complement sum of <paramref name="data"/> as big-endian 16-bit words (an odd last byte is padded with zero), plus <paramref name="initial"/>; folded, not complemented.</summary>
    /// <param name="data">The bytes to sum.</param>
    /// <param name="initial">A partial sum to add (for example a pseudo-header sum).</param>
    /// <returns>The folded 16-bit partial sum.</returns>
    public static ushort Sum(ReadOnlySpan<byte> data, uint initial = 0)
    {
        ulong acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        ref byte start = ref MemoryMarshal.GetReference(data);
        int length = data.Length;
        int i = 0;

        // 32 bytes per step into four independent 64-bit accumulators: 2^32 additions of 32-bit words
        // cannot overflow a 64-bit accumulator, so no carry handling is needed inside the loop.
        for (; i + 32 <= length; i += 32)
        {
            acc0 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i));
            acc1 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i + 4));
            acc2 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i + 8));
            acc3 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i + 12));
            acc0 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i + 16));
            acc1 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i + 20));
            acc2 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i + 24));
            acc3 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i + 28));
        }

        for (; i + 4 <= length; i += 4)
        {
            acc0 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i));
        }

        if (i + 2 <= length)
        {
            acc1 += Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, i));
            i += 2;
        }

        if (i < length)
        {
            // The odd byte is the high byte of a big-endian word: in native little-endian order it is the low byte.
            uint last = Unsafe.Add(ref start, i);
            acc2 += BitConverter.IsLittleEndian ? last : last << 8;
        }

        ulong sum = acc0 + acc1 + acc2 + acc3;
        ushort folded = Fold(sum);
        if (BitConverter.IsLittleEndian)
        {
            folded = BinaryPrimitives.ReverseEndianness(folded);
        }

        return Fold((ulong)folded + initial);
    }

    /// <summary>Computes the checksum field value for <paramref name="data"/>: the complement of its sum plus <paramref name="initial"/>.</summary>
    /// <param name="data">The bytes covered by the checksum, with the checksum field itself zero.</param>
    /// <param name="initial">A partial sum to add (for example a pseudo-header sum).</param>
    /// <returns>The checksum to store.</returns>
    public static ushort Compute(ReadOnlySpan<byte> data, uint initial = 0) => (ushort)~Sum(data, initial);

    /// <summary>True when <paramref name="data"/> (checksum field included) sums to 0xFFFF with <paramref name="initial"/>, i.e. the checksum is correct.</summary>
    /// <param name="data">The bytes covered by the checksum, including the stored checksum.</param>
    /// <param name="initial">A partial sum to add (for example a pseudo-header sum).</param>
    /// <returns>True when valid.</returns>
    public static bool IsValid(ReadOnlySpan<byte> data, uint initial = 0) => Sum(data, initial) == 0xFFFF;

    /// <summary>
    /// Folds a wide one's complement sum to 16 bits (end-around carry), in two rotate-adds: adding a value to itself
    /// rotated by half its width leaves the end-around-carry sum of its two halves in the upper half.
    /// </summary>
    /// <param name="sum">The wide sum.</param>
    /// <returns>The folded sum (0 only when <paramref name="sum"/> is 0).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Fold(ulong sum)
    {
        uint half = (uint)((sum + BitOperations.RotateRight(sum, 32)) >> 32);
        return (ushort)((half + BitOperations.RotateRight(half, 16)) >> 16);
    }

    /// <summary>Adds two partial sums (one's complement addition).</summary>
    /// <param name="a">A partial sum.</param>
    /// <param name="b">Another partial sum.</param>
    /// <returns>The folded sum.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Add(uint a, uint b) => Fold((ulong)a + b);

    /// <summary>
    /// The partial sum of the pseudo-header that TCP, UDP and ICMPv6 checksums cover: addresses, protocol and
    /// upper-layer length (RFC 793 for IPv4, RFC 8200 section 8.1 for IPv6).
    /// </summary>
    /// <param name="source">The IP source address.</param>
    /// <param name="destination">The IP destination address (the final one, for IPv6 with a routing header).</param>
    /// <param name="protocol">The upper-layer protocol.</param>
    /// <param name="upperLayerLength">The length of the TCP/UDP/ICMPv6 header and data.</param>
    /// <returns>The folded partial sum.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort PseudoHeaderSum(InetAddress source, InetAddress destination, L4Protocol protocol, int upperLayerLength)
    {
        ulong sum = (ulong)(byte)protocol + (uint)upperLayerLength;
        if (source.IsIPv4)
        {
            sum += (uint)source.Low + (ulong)(uint)destination.Low;
        }
        else
        {
            sum += SumWords(source.High) + SumWords(source.Low) + SumWords(destination.High) + SumWords(destination.Low);
        }

        return Fold(sum);
    }

    /// <summary>RFC 1624 equation 3: the checksum after a 16-bit field changed from <paramref name="oldValue"/> to <paramref name="newValue"/>.</summary>
    /// <param name="checksum">The current checksum field value.</param>
    /// <param name="oldValue">The field's old value.</param>
    /// <param name="newValue">The field's new value.</param>
    /// <returns>The new checksum field value.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update16(ushort checksum, ushort oldValue, ushort newValue) =>
        (ushort)~Fold((ulong)(ushort)~checksum + (ushort)~oldValue + newValue);

    /// <summary>RFC 1624 equation 3 for a 32-bit field (an IPv4 address, or two adjacent 16-bit fields).</summary>
    /// <param name="checksum">The current checksum field value.</param>
    /// <param name="oldValue">The field's old value (big-endian number).</param>
    /// <param name="newValue">The field's new value (big-endian number).</param>
    /// <returns>The new checksum field value.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update32(ushort checksum, uint oldValue, uint newValue) =>
        (ushort)~Fold((ulong)(ushort)~checksum + (~oldValue >> 16) + (~oldValue & 0xFFFF) + (newValue >> 16) + (newValue & 0xFFFF));

    /// <summary>RFC 1624 equation 3 for an address change: 32 bits for IPv4, 128 bits for IPv6.</summary>
    /// <param name="checksum">The current checksum field value.</param>
    /// <param name="oldAddress">The old address.</param>
    /// <param name="newAddress">The new address, of the same family.</param>
    /// <returns>The new checksum field value.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort UpdateAddress(ushort checksum, InetAddress oldAddress, InetAddress newAddress)
    {
        if (oldAddress.IsIPv4)
        {
            return Update32(checksum, (uint)oldAddress.Low, (uint)newAddress.Low);
        }

        ulong sum = (ulong)(ushort)~checksum
            + SumWords(~oldAddress.High) + SumWords(~oldAddress.Low)
            + SumWords(newAddress.High) + SumWords(newAddress.Low);
        return (ushort)~Fold(sum);
    }

    /// <summary>The one's complement sum change of replacing <paramref name="oldValue"/> by <paramref name="newValue"/>, to combine several edits into one update with <see cref="ApplyDelta"/>.</summary>
    /// <param name="oldValue">The old 16-bit value.</param>
    /// <param name="newValue">The new 16-bit value.</param>
    /// <returns>A delta partial sum.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Delta16(ushort oldValue, ushort newValue) => (uint)(ushort)~oldValue + newValue;

    /// <summary>The sum change of replacing a 32-bit value (an IPv4 address, or two adjacent 16-bit fields such as the ports), to combine with other deltas.</summary>
    /// <param name="oldValue">The old value (big-endian number).</param>
    /// <param name="newValue">The new value (big-endian number).</param>
    /// <returns>A delta partial sum.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Delta32(uint oldValue, uint newValue)
    {
        uint o = ~oldValue;
        return Fold((ulong)(o >> 16) + (o & 0xFFFF) + (newValue >> 16) + (newValue & 0xFFFF));
    }

    /// <summary>The sum change of replacing an address, to combine with other deltas.</summary>
    /// <param name="oldAddress">The old address.</param>
    /// <param name="newAddress">The new address, of the same family.</param>
    /// <returns>A delta partial sum.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint DeltaAddress(InetAddress oldAddress, InetAddress newAddress)
    {
        if (oldAddress.IsIPv4)
        {
            return Delta32((uint)oldAddress.Low, (uint)newAddress.Low);
        }

        return Fold(SumWords(~oldAddress.High) + SumWords(~oldAddress.Low) + SumWords(newAddress.High) + SumWords(newAddress.Low));
    }

    /// <summary>Applies a combined delta (from <see cref="Delta16"/>, <see cref="DeltaAddress"/>, added with <see cref="Add"/>) to a checksum field.</summary>
    /// <param name="checksum">The current checksum field value.</param>
    /// <param name="delta">The combined delta.</param>
    /// <returns>The new checksum field value.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ApplyDelta(ushort checksum, uint delta) => (ushort)~Fold((ulong)(ushort)~checksum + delta);

    /// <summary>Maps a computed UDP checksum of 0 to 0xFFFF, since 0 means "no checksum" (RFC 768; RFC 8200 forbids 0 for IPv6).</summary>
    /// <param name="checksum">A computed or updated checksum.</param>
    /// <returns>The value to store in a UDP header.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort UdpResult(ushort checksum) => checksum == 0 ? (ushort)0xFFFF : checksum;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong SumWords(ulong value) =>
        (value >> 48) + ((value >> 32) & 0xFFFF) + ((value >> 16) & 0xFFFF) + (value & 0xFFFF);
}
