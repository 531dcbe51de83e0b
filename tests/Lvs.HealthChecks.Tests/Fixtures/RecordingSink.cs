
namespace Lvs.HealthChecks.Tests.Fixtures;

/// <summary>Records every event a monitor reports, in order.</summary>
public sealed class RecordingSink : IRealServerHealthSink
{
    private readonly Lock _gate = new();
    private readonly List<object> _events = [];

    public IReadOnlyList<object> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    public IReadOnlyList<RealServerStateChange> ServerChanges => [.. Events.OfType<RealServerStateChange>()];

    public IReadOnlyList<QuorumStateChange> QuorumChanges => [.. Events.OfType<QuorumStateChange>()];

    /// <summary>Health transitions only (not initial or quorum-driven pool moves).</summary>
    public IReadOnlyList<RealServerStateChange> Transitions =>
        [.. ServerChanges.Where(change => change.Reason != "initial state" && !change.Reason.StartsWith("quorum", StringComparison.Ordinal) && !change.Reason.StartsWith("weight", StringComparison.Ordinal))];

    public void Clear()
    {
        lock (_gate)
        {
            _events.Clear();
        }
    }

    public void OnRealServerStateChanged(RealServerStateChange change)
    {
        lock (_gate)
        {
            _events.Add(change);
        }
    }

    public void OnQuorumStateChanged(QuorumStateChange change)
    {
        lock (_gate)
        {
            _events.Add(change);
        }
    }
}
