using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lvs.Core;

/// <summary>
/// Where a real server's counters live: a slot of a block's array. Immutable; a server that moves gets a new location,
/// so comparing references tells a counter update whether the server moved under it.
/// </summary>
/// <param name="block">The block, or null for the private slot of a server in no block.</param>
/// <param name="slots">The block's slot array.</param>
/// <param name="index">The server's slot.</param>
internal sealed class RealServerLoadLocation(RealServerLoadBlock? block, RealServerLoadSlot[] slots, int index)
{
    /// <summary>The server's slot in <see cref="Slots"/>, checked: <see cref="Slot"/> reads it without a bounds check.</summary>
    public readonly int Index = (uint)index < (uint)slots.Length ? index : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The block, or null for a private slot.</summary>
    public readonly RealServerLoadBlock? Block = block;

    /// <summary>The slot array.</summary>
    public readonly RealServerLoadSlot[] Slots = slots;

    /// <summary>The server's slot (the index was checked against the array when the location was made).</summary>
    public ref RealServerLoadSlot Slot => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Slots), Index);
}
