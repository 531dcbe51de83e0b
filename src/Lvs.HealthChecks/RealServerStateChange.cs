namespace Lvs.HealthChecks;

/// <summary>A change in a real server's health, its weight, or its place in the pool.</summary>
/// <param name="Server">The server.</param>
/// <param name="IsUp">Whether the server is up after the change (all its checkers up).</param>
/// <param name="Weight">The weight for <see cref="PoolAction.Add"/> and <see cref="PoolAction.SetWeight"/>; the server's current weight otherwise.</param>
/// <param name="Action">What the director does to the pool.</param>
/// <param name="Reason">Why (the check's reason, "initial state", "quorum lost", ...).</param>
/// <param name="Time">When, on the monitor's clock.</param>
public sealed record RealServerStateChange(
    MonitoredRealServer Server,
    bool IsUp,
    int Weight,
    PoolAction Action,
    string Reason,
    DateTimeOffset Time);
