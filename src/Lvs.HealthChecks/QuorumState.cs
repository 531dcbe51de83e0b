namespace Lvs.HealthChecks;

/// <summary>
/// A virtual service's quorum with hysteresis, as keepalived's ipwrapper.c <c>update_quorum_state</c>: quorum is
/// gained when the live weight reaches quorum + hysteresis, and lost when it falls below quorum - hysteresis or
/// to 0. Between the two thresholds the state stays as it was, so a weight wobbling around the quorum does not
/// flap the sorry server.
/// </summary>
internal sealed class QuorumState(long quorum, long hysteresis, long initialLiveWeight)
{
    public long Quorum { get; } = quorum;

    public long Hysteresis { get; } = hysteresis;

    /// <summary>keepalived's <c>set_quorum_states</c>: up at start when the live weight reaches quorum + hysteresis.</summary>
    public bool HasQuorum { get; private set; } = initialLiveWeight >= quorum + hysteresis;

    /// <summary>The threshold that the next change is measured against.</summary>
    public long Threshold => HasQuorum ? Quorum - Hysteresis : Quorum + Hysteresis;

    /// <summary>Updates the state for a new live weight.</summary>
    /// <param name="liveWeight">The total weight of the servers that are up.</param>
    /// <returns>True when the state changed.</returns>
    public bool Update(long liveWeight)
    {
        if (!HasQuorum && liveWeight >= Quorum + Hysteresis)
        {
            HasQuorum = true;
            return true;
        }

        if (HasQuorum && (liveWeight == 0 || liveWeight < Quorum - Hysteresis))
        {
            HasQuorum = false;
            return true;
        }

        return false;
    }
}
