using Lvs.Core;

namespace Lvs.Director.Replay;

/// <summary>What a replay did.</summary>
public sealed record ReplayResult
{
    /// <summary>Every frame the director sent, in order (forwarded frames, answers and ICMP errors).</summary>
    public required IReadOnlyList<ReplayedFrame> Outputs { get; init; }

    /// <summary>
    /// The frames dropped, by reason: those the engine dropped, those it answered with an ICMP error instead of
    /// forwarding (<see cref="DropReason.NoRealServer"/>, <see cref="DropReason.HopLimitExceeded"/>,
    /// <see cref="DropReason.FragmentationNeeded"/>: the error is in <see cref="Outputs"/>), and those waiting for a
    /// neighbour that was not given (<see cref="DropReason.NeighborUnresolved"/>).
    /// </summary>
    public required IReadOnlyDictionary<DropReason, int> Drops { get; init; }

    /// <summary>The input frames the director processed (a broadcast counts once per link it reached).</summary>
    public int Processed { get; init; }

    /// <summary>The input frames the director itself had sent (source MAC one of the links'): skipped, they are outputs of the capture.</summary>
    public int SkippedOwn { get; init; }

    /// <summary>The input frames addressed to no link (another unicast MAC, or a broadcast whose target is on no link's subnet): skipped.</summary>
    public int NotAddressed { get; init; }

    /// <summary>The frames the engine left to the host's own stack (<see cref="FrameAction.Deliver"/>).</summary>
    public int Delivered { get; init; }

    /// <summary>The frames the engine used up (<see cref="FrameAction.Consumed"/>: ARP replies and neighbour advertisements it learned from).</summary>
    public int Consumed { get; init; }
}
