using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lvs.Core;

/// <summary>
/// Where a real server's counters live: a slot of a block's array, in every counter plane. Immutable; a server that
/// moves gets a new location, so comparing references tells a counter update whether the server moved under it.
/// </summary>
/// <param name="block">The block, or null for the private slots of a server in no block.</param>
/// <param name="slots">The block's slot array (<see cref="RealServerLoadSlot.NewArray"/>).</param>
/// <param name="index">The server's slot in plane 0.</param>
internal sealed class RealServerLoadLocation(RealServerLoadBlock? block, RealServerLoadSlot[] slots, int index)
{
    /// <summary>The distance in slots between a plane's slot and the next plane's (the array holds <see cref="RealServerLoadBlock.Planes"/> planes).</summary>
    public readonly int PlaneStride = PlaneStrideOf(slots);

    /// <summary>
    /// The server's slot of plane 0 in <see cref="Slots"/>, checked with every plane's: <see cref="Slot"/> and
    /// <see cref="Plane"/> read them without a bounds check.
    /// </summary>
    public readonly int Index =
        index >= 0 && (long)index + ((long)(RealServerLoadBlock.Planes - 1) * PlaneStrideOf(slots)) < slots.Length
            ? index
            : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The block, or null for private slots.</summary>
    public readonly RealServerLoadBlock? Block = block;

    /// <summary>The slot array.</summary>
    public readonly RealServerLoadSlot[] Slots = slots;

    /// <summary>The server's slot in plane 0, which also holds the state word (the index was checked when the location was made).</summary>
    public ref RealServerLoadSlot Slot => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Slots), Index);

    /// <summary>The slot of the calling packet thread's plane (<see cref="PacketThread.Current"/>), which its counter updates write.</summary>
    public ref RealServerLoadSlot Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref Plane(PacketThread.Current);
    }

    /// <summary>The server's slot in plane <paramref name="plane"/> modulo <see cref="RealServerLoadBlock.Planes"/>.</summary>
    /// <param name="plane">The plane (any nonnegative number; only its low bits count).</param>
    /// <returns>The slot.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref RealServerLoadSlot Plane(int plane) =>
        ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Slots), Index + ((plane & (RealServerLoadBlock.Planes - 1)) * PlaneStride));

    /// <summary>
    /// The sum over the planes of one counter: exact once the updates have ended, otherwise possibly off by updates in
    /// flight (a connection counted on one plane and uncounted on another can make it transiently negative). The
    /// addition wraps as the planes' interlocked updates do, so a plane that wrapped still sums exactly.
    /// </summary>
    /// <param name="offset"><see cref="RealServerLoadBlock.ActiveOffset"/>, <see cref="RealServerLoadBlock.InactiveOffset"/> or <see cref="RealServerLoadBlock.PersistentOffset"/>.</param>
    /// <returns>The sum.</returns>
    public int Sum(int offset)
    {
        ref int first = ref Unsafe.Add(ref Unsafe.As<RealServerLoadSlot, int>(ref Slot), offset);
        int stride = PlaneStride * RealServerLoadBlock.SlotLength;
        int sum = 0;
        for (int plane = 0; plane < RealServerLoadBlock.Planes; plane++)
        {
            sum = unchecked(sum + Volatile.Read(ref Unsafe.Add(ref first, plane * stride)));
        }

        return sum;
    }

    /// <summary>The plane stride of a slot array made by <see cref="RealServerLoadSlot.NewArray"/> (the inverse of its length).</summary>
    private static int PlaneStrideOf(RealServerLoadSlot[] slots) => (slots.Length - RealServerLoadSlot.Padding) / RealServerLoadBlock.Planes;
}
