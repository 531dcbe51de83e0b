namespace Lvs.HealthChecks;

/// <summary>
/// Receives a <see cref="HealthMonitor"/>'s events; the director implements it and applies each
/// <see cref="PoolAction"/> to its service table in the order received.
/// </summary>
/// <remarks>
/// The monitor calls the sink from its check completions, one call at a time and in order, while holding its
/// state lock: a sink should publish the change (for example rebuild a snapshot or post to a channel) and return.
/// An exception thrown by the sink is logged and does not stop the checks.
/// </remarks>
public interface IRealServerHealthSink
{
    /// <summary>A real server went up or down, got a new weight from its check, or moved in or out of the pool with the sorry server.</summary>
    /// <param name="change">The change.</param>
    void OnRealServerStateChanged(RealServerStateChange change);

    /// <summary>A virtual service gained or lost its quorum (and at start, its initial quorum state).</summary>
    /// <param name="change">The change.</param>
    void OnQuorumStateChanged(QuorumStateChange change);
}
