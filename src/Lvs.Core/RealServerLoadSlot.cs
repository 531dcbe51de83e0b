using System.Runtime.InteropServices;

namespace Lvs.Core;

/// <summary>
/// One real server's live load inside a <see cref="RealServerLoadBlock"/>: 16 bytes, four to a cache line, in the order
/// that <see cref="RealServerLoadBlock.ActiveOffset"/> and its siblings document.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = RealServerLoadBlock.SlotLength * sizeof(int))]
internal struct RealServerLoadSlot
{
    /// <summary>Connections in an active state.</summary>
    public int Active;

    /// <summary>Connections in any other state.</summary>
    public int Inactive;

    /// <summary>Persistence templates.</summary>
    public int Persistent;

    /// <summary>The weight with <see cref="RealServerLoadBlock.OverloadedFlag"/> and <see cref="RealServerLoadBlock.UnavailableFlag"/>.</summary>
    public int State;

    /// <summary>
    /// Slots of padding on each side of the slots in use, in every slot array (<see cref="NewArray"/>): 64 bytes, so
    /// the counters every packet thread increments on each new connection share no cache line with another object,
    /// which would then miss on every read (a server's weight and flags, a service, a scheduler's server list).
    /// </summary>
    public const int Padding = 64 / (RealServerLoadBlock.SlotLength * sizeof(int));

    /// <summary>A slot array for <paramref name="count"/> slots in use, at indexes <see cref="Padding"/> to <see cref="Padding"/> + count - 1.</summary>
    /// <param name="count">The slots in use.</param>
    /// <returns>The array, with <see cref="Padding"/> unused slots before and after them.</returns>
    public static RealServerLoadSlot[] NewArray(int count) => new RealServerLoadSlot[count + (2 * Padding)];
}
