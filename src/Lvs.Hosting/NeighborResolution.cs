using Lvs.Director;

namespace Lvs.Hosting;

/// <summary>The resolver's state of one neighbour (the kernel's <c>nud_state</c> with its probe count and timers).</summary>
internal sealed class NeighborResolution(NeighborEntry entry)
{
    public const int Idle = 0;
    public const int Starting = 1;
    public const int Incomplete = 2;
    public const int Reachable = 3;
    public const int Probe = 4;
    public const int Failed = 5;

    public NeighborEntry Entry { get; } = entry;

    /// <summary>One of the constants above; changed with compare-and-swap (packet threads start a resolution).</summary>
    public int Phase;

    /// <summary>How many resolutions failed: a packet thread drops what it held when this moves.</summary>
    public int Failures;

    public int ProbesSent;
    public long StartedTicks;
    public long NextProbeTicks;
    public long ConfirmedTicks;
    public long ReachableUntilTicks;
}
