namespace Lvs.Devices;

/// <summary>Where one received frame lies in its batch's buffer.</summary>
/// <param name="Offset">The frame's first byte (its Ethernet header). At least <see cref="FrameBatch.Headroom"/> bytes before it are the frame's own.</param>
/// <param name="Length">The frame's length.</param>
/// <param name="Capacity">The bytes from <paramref name="Offset"/> the frame may grow into (its length plus its own tailroom); never overlaps another frame.</param>
public readonly record struct ReceivedFrame(int Offset, int Length, int Capacity);
