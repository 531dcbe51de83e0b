namespace Lvs.HealthChecks;

/// <summary>A virtual service watched by a <see cref="HealthMonitor"/>: its real servers and its quorum state.</summary>
public sealed class MonitoredVirtualService
{
    private readonly List<MonitoredRealServer> _realServers = [];
    private volatile bool _hasQuorum;
    private volatile bool _sorryServerActive;
    private long _liveWeight;

    internal MonitoredVirtualService(HealthMonitor monitor, VirtualServiceHealthOptions options)
    {
        Monitor = monitor;
        Options = options;
    }

    /// <summary>The settings it was added with.</summary>
    public VirtualServiceHealthOptions Options { get; }

    /// <summary>The real servers, in the order added (a copy).</summary>
    public IReadOnlyList<MonitoredRealServer> RealServers
    {
        get
        {
            lock (Monitor.Gate)
            {
                return [.. _realServers];
            }
        }
    }

    /// <summary>Whether the live weight meets the quorum (as of the last event; false before the monitor starts).</summary>
    public bool HasQuorum => _hasQuorum;

    /// <summary>Whether the sorry server stands in for the pool (quorum lost and a sorry server configured).</summary>
    public bool SorryServerActive => _sorryServerActive;

    /// <summary>The total weight of the servers that are up.</summary>
    public long LiveWeight => Interlocked.Read(ref _liveWeight);

    internal HealthMonitor Monitor { get; }

    internal List<MonitoredRealServer> Servers => _realServers;

    internal QuorumState? Quorum { get; set; }

    internal void Publish(long liveWeight, bool hasQuorum, bool sorryServerActive)
    {
        Interlocked.Exchange(ref _liveWeight, liveWeight);
        _hasQuorum = hasQuorum;
        _sorryServerActive = sorryServerActive;
    }

    /// <summary>The service key.</summary>
    /// <returns>The text form of the key.</returns>
    public override string ToString() => Options.Key.ToString() ?? string.Empty;
}
