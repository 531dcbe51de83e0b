namespace Lvs.Director;

/// <summary>Where one frame of a batch lies in the batch's buffer, and the link it arrived on.</summary>
/// <param name="Offset">The frame's offset in the buffer (with headroom before it that belongs to this frame).</param>
/// <param name="Length">The frame's length.</param>
/// <param name="Link">The link it arrived on.</param>
/// <param name="Capacity">
/// The bytes from <paramref name="Offset"/> this frame may use (its length plus its own tailroom, where a tunnelled
/// packet's outer fragments are written); 0 means none beyond <paramref name="Length"/>. The engine never writes past
/// it, so frames packed back to back in one buffer (a TPACKET_V3 block) cannot overwrite each other.
/// </param>
public readonly record struct FrameSlot(int Offset, int Length, int Link, int Capacity = 0)
{
    /// <summary>Where this frame's room ends in the buffer: <see cref="Offset"/> plus the larger of <see cref="Capacity"/> and <see cref="Length"/>.</summary>
    internal long End => (long)Offset + Math.Max(Capacity, Length);
}
