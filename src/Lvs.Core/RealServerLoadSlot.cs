using System.Runtime.InteropServices;

namespace Lvs.Core;

/// <summary>
/// One real server's live load in one counter plane of a slot array (see <see cref="RealServerLoadBlock.Planes"/>):
/// 16 bytes, four to a cache line, in the order that <see cref="RealServerLoadBlock.ActiveOffset"/> and its siblings
/// document.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = RealServerLoadBlock.SlotLength * sizeof(int))]
internal struct RealServerLoadSlot
{
    /// <summary>Connections in an active state (this plane's share: see <see cref="RealServerLoadBlock.Planes"/>).</summary>
    public int Active;

    /// <summary>Connections in any other state (this plane's share).</summary>
    public int Inactive;

    /// <summary>Persistence templates (this plane's share).</summary>
    public int Persistent;

    /// <summary>
    /// The weight with <see cref="RealServerLoadBlock.OverloadedFlag"/> and <see cref="RealServerLoadBlock.UnavailableFlag"/>,
    /// in plane 0 only; 0 in the other planes, so that summing whole slots over the planes leaves it intact.
    /// </summary>
    public int State;

    /// <summary>
    /// Slots of padding on each side of every plane of slots in use, in every slot array (<see cref="NewArray"/>): 64
    /// bytes, so the counters every packet thread increments on each new connection share no cache line with another
    /// object, which would then miss on every read (a server's weight and flags, a service, a scheduler's server list),
    /// nor with another plane, which another packet thread writes.
    /// </summary>
    public const int Padding = 64 / (RealServerLoadBlock.SlotLength * sizeof(int));

    /// <summary>
    /// A slot array for <paramref name="count"/> slots in use in each of <see cref="RealServerLoadBlock.Planes"/>
    /// planes: plane p's slots at indexes <see cref="Padding"/> + p x <see cref="PlaneStride"/>(count) onwards.
    /// </summary>
    /// <param name="count">The slots in use in each plane.</param>
    /// <returns>The array, with <see cref="Padding"/> unused slots before, between and after the planes.</returns>
    public static RealServerLoadSlot[] NewArray(int count) =>
        new RealServerLoadSlot[Padding + (RealServerLoadBlock.Planes * PlaneStride(count))];

    /// <summary>The distance in slots from a slot of one plane to the same slot of the next: the slots in use and a padding.</summary>
    /// <param name="count">The slots in use in each plane.</param>
    /// <returns>The stride.</returns>
    public static int PlaneStride(int count) => count + Padding;
}
