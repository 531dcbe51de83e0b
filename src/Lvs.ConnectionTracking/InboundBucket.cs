using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lvs.ConnectionTracking;

/// <summary>
/// One bucket of the inbound index, one cache line: 15 cells that each hold a connection's slot index + 1 (0: empty)
/// under an 8-bit tag taken from its key's hash, and the head of an overflow chain (linked through the entries'
/// <see cref="ConnectionEntry{TAddress}.NextIn"/>) for the connections that found the cells full.
/// </summary>
/// <remarks>
/// A lookup reads the bucket's line, compares the tags of all 15 cells at once (vector instructions) and reads only
/// the entries whose tag is the key's: about 1 in 20 lookups reads an entry that is not the connection, where a chain
/// of one entry per bucket read 1.5 entries per hit. Cells are written whole (a 32-bit store) and never moved: an
/// insert fills an empty cell, a removal clears it.
/// </remarks>
[InlineArray(Cells)]
internal struct InboundBucket
{
    /// <summary>Cells per bucket: 15 for connections, then <see cref="OverflowCell"/>.</summary>
    public const int Cells = 16;

    /// <summary>The cell that holds the overflow chain's head (slot index + 1; 0 for none).</summary>
    public const int OverflowCell = 15;

    /// <summary>The bits of a cell that hold the slot index + 1; the tag is above them.</summary>
    public const uint IndexMask = 0xFF_FFFF;

    public const int TagShift = 24;

    /// <summary>The connection cells (all but <see cref="OverflowCell"/>), one bit per cell.</summary>
    public const uint ConnectionCells = (1u << OverflowCell) - 1;

    private uint _cell;

    /// <summary>The cells of <paramref name="cells"/> whose tag is <paramref name="tag"/>, one bit per cell.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly uint TagMatches(uint tag, uint cells)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            var tags = Vector256.Create(tag);
            var low = Vector256.ShiftRightLogical(Vector256.LoadUnsafe(in _cell), TagShift);
            var high = Vector256.ShiftRightLogical(Vector256.LoadUnsafe(in _cell, 8), TagShift);
            return (Vector256.Equals(low, tags).ExtractMostSignificantBits() | (Vector256.Equals(high, tags).ExtractMostSignificantBits() << 8)) & cells;
        }

        var tags128 = Vector128.Create(tag);
        uint mask = 0;
        for (int i = 0; i < Cells; i += 4)
        {
            mask |= Vector128.Equals(Vector128.ShiftRightLogical(Vector128.LoadUnsafe(in _cell, (nuint)i), TagShift), tags128).ExtractMostSignificantBits() << i;
        }

        return mask & cells;
    }

    /// <summary>The cells of <paramref name="cells"/> holding exactly <paramref name="value"/> (0 for the empty ones), one bit per cell.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly uint CellsEqual(uint value, uint cells)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            var values = Vector256.Create(value);
            return (Vector256.Equals(Vector256.LoadUnsafe(in _cell), values).ExtractMostSignificantBits()
                | (Vector256.Equals(Vector256.LoadUnsafe(in _cell, 8), values).ExtractMostSignificantBits() << 8)) & cells;
        }

        var values128 = Vector128.Create(value);
        uint mask = 0;
        for (int i = 0; i < Cells; i += 4)
        {
            mask |= Vector128.Equals(Vector128.LoadUnsafe(in _cell, (nuint)i), values128).ExtractMostSignificantBits() << i;
        }

        return mask & cells;
    }

    /// <summary>A cell's value for the slot at <paramref name="index"/> under <paramref name="tag"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Cell(uint tag, int index) => (tag << TagShift) | (uint)(index + 1);

    /// <summary>The slot index a cell holds, or -1 for an empty cell.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int IndexOf(uint cell) => (int)(cell & IndexMask) - 1;

    /// <summary>The first cell of <paramref name="mask"/>, or <see cref="OverflowCell"/> when it is empty.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int FirstOrOverflow(uint mask) => BitOperations.TrailingZeroCount(mask | (1u << OverflowCell));
}
