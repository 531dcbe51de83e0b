namespace Lvs.Director.Simulation;

/// <summary>How many flows changed real server between two runs of the same flows (<see cref="FlowSimulator.CompareRuns"/>).</summary>
/// <param name="Flows">The flows compared (those scheduled in both runs, or in either).</param>
/// <param name="Changed">Those whose real server differs between the runs (scheduled in one run only counts as changed).</param>
/// <param name="FromRemoved">Those of <paramref name="Changed"/> whose first server left the service: they had to move.</param>
public sealed record FlowDisruption(int Flows, int Changed, int FromRemoved)
{
    /// <summary>The changed flows' fraction of the flows (0 to 1).</summary>
    public double ChangedFraction => Flows == 0 ? 0 : (double)Changed / Flows;

    /// <summary>The flows that moved although their server stayed: the disruption a consistent hash keeps small.</summary>
    public int Avoidable => Changed - FromRemoved;
}
