namespace Lvs.HealthChecks;

/// <summary>A virtual service gained or lost its quorum, or reports its initial quorum state.</summary>
/// <param name="Service">The virtual service.</param>
/// <param name="HasQuorum">Whether the live weight meets the quorum.</param>
/// <param name="LiveWeight">The total weight of the servers that are up.</param>
/// <param name="Threshold">The live weight the next change is measured against (quorum - hysteresis while up, quorum + hysteresis while down).</param>
/// <param name="SorryServerAction">
/// <see cref="PoolAction.Add"/> to add the sorry server (quorum lost), <see cref="PoolAction.Remove"/> to remove it
/// (quorum regained), <see cref="PoolAction.None"/> when the service has no sorry server or it stays as it is.
/// </param>
/// <param name="Time">When, on the monitor's clock.</param>
public sealed record QuorumStateChange(
    MonitoredVirtualService Service,
    bool HasQuorum,
    long LiveWeight,
    long Threshold,
    PoolAction SorryServerAction,
    DateTimeOffset Time);
