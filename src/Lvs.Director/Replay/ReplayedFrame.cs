using Lvs.Core;

namespace Lvs.Director.Replay;

/// <summary>A frame the director sent during a replay.</summary>
/// <param name="Timestamp">The timestamp of the input frame it answers (the simulated director takes no time).</param>
/// <param name="Link">The link it was sent on (<see cref="DirectorLink.Index"/>).</param>
/// <param name="Data">The frame, from the Ethernet header on.</param>
/// <param name="Cause">Why the director sent an ICMP error instead of forwarding (<see cref="FrameVerdict.Reason"/>); <see cref="DropReason.None"/> for a forwarded frame or an answer.</param>
public sealed record ReplayedFrame(DateTimeOffset Timestamp, int Link, byte[] Data, DropReason Cause);
