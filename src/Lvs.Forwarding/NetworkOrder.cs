using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Lvs.Forwarding;

/// <summary>
/// Unchecked big-endian (network order) loads and stores through a reference into a frame, and the byte swap between
/// network order and host order.
/// </summary>
/// <remarks>
/// The rewriters' hot paths use these after <see cref="RewritePolicy.Check"/> (and the parser behind the
/// <see cref="Lvs.Core.ParsedFrame"/>) proved every offset read or written to lie inside the frame: a span's bounds
/// check would be paid a second time for each field. Nothing here checks bounds; a caller that has not proved them
/// must use <see cref="BinaryPrimitives"/> on a span instead. The <c>Raw</c> forms load and store the bytes in
/// memory order without a swap, for one's complement sums, which do not depend on byte order (RFC 1071 section 2(B)).
/// </remarks>
internal static class NetworkOrder
{
    /// <summary>Converts between host and network order (the same swap both ways); the JIT removes the test.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Swap(ushort value) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;

    /// <inheritdoc cref="Swap(ushort)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Swap(uint value) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;

    /// <inheritdoc cref="Swap(ushort)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Swap(ulong value) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;

    /// <summary>The big-endian 16-bit value at <paramref name="at"/> + <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ReadUInt16(ref byte at, int offset) => Swap(ReadRaw16(ref at, offset));

    /// <summary>The big-endian 32-bit value at <paramref name="at"/> + <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ReadUInt32(ref byte at, int offset) => Swap(ReadRaw32(ref at, offset));

    /// <summary>The big-endian 64-bit value at <paramref name="at"/> + <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ReadUInt64(ref byte at, int offset) => Swap(ReadRaw64(ref at, offset));

    /// <summary>Stores <paramref name="value"/> big-endian at <paramref name="at"/> + <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteUInt16(ref byte at, int offset, ushort value) => WriteRaw(ref at, offset, Swap(value));

    /// <inheritdoc cref="WriteUInt16"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteUInt32(ref byte at, int offset, uint value) => WriteRaw(ref at, offset, Swap(value));

    /// <inheritdoc cref="WriteUInt16"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteUInt64(ref byte at, int offset, ulong value) => WriteRaw(ref at, offset, Swap(value));

    /// <summary>The two bytes at <paramref name="at"/> + <paramref name="offset"/> in memory order (no swap).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ReadRaw16(ref byte at, int offset) => Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref at, offset));

    /// <summary>The four bytes at <paramref name="at"/> + <paramref name="offset"/> in memory order (no swap).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ReadRaw32(ref byte at, int offset) => Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref at, offset));

    /// <summary>The eight bytes at <paramref name="at"/> + <paramref name="offset"/> in memory order (no swap).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ReadRaw64(ref byte at, int offset) => Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref at, offset));

    /// <summary>Stores <paramref name="value"/> in memory order (no swap) at <paramref name="at"/> + <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteRaw(ref byte at, int offset, ushort value) => Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, offset), value);

    /// <inheritdoc cref="WriteRaw(ref byte, int, ushort)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteRaw(ref byte at, int offset, uint value) => Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, offset), value);

    /// <inheritdoc cref="WriteRaw(ref byte, int, ushort)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteRaw(ref byte at, int offset, ulong value) => Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, offset), value);
}
