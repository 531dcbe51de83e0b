namespace Lvs.Director;

/// <summary>Where one frame of a batch lies in the batch's buffer, and the link it arrived on.</summary>
/// <param name="Offset">The frame's offset in the buffer (with headroom before it).</param>
/// <param name="Length">The frame's length.</param>
/// <param name="Link">The link it arrived on.</param>
public readonly record struct FrameSlot(int Offset, int Length, int Link);
