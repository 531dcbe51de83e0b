using Lvs.Core;

namespace Lvs.HealthChecks;

/// <summary>A real server watched by a <see cref="HealthMonitor"/>: its health as of the last event.</summary>
public sealed class MonitoredRealServer
{
    private volatile bool _isUp;
    private volatile string _lastReason = "not checked yet";
    private int _effectiveWeight;

    internal MonitoredRealServer(MonitoredVirtualService service, RealServerHealthOptions options)
    {
        Service = service;
        Options = options;
        BaseWeight = options.Weight;
        Checks = [.. options.Checks.Select(check => new MonitoredCheck(this, check))];
        _effectiveWeight = ComputeEffectiveWeight();
        FailedChecks = Checks.Count(check => !check.State.IsUp);
        _isUp = FailedChecks == 0;
    }

    /// <summary>The virtual service it belongs to.</summary>
    public MonitoredVirtualService Service { get; }

    /// <summary>The settings it was added with.</summary>
    public RealServerHealthOptions Options { get; }

    /// <summary>The server's address and port.</summary>
    public InetEndpoint Endpoint => Options.Endpoint;

    /// <summary>Whether all its checkers are up.</summary>
    public bool IsUp
    {
        get => _isUp;
        internal set => _isUp = value;
    }

    /// <summary>
    /// The weight it has when up: the configured weight, or the last one a dynamic check reported, plus the weight
    /// offsets of its checkers (<see cref="CheckResult.WeightOffset"/>: a <see cref="FileChecker"/>'s), clamped to 0 ..
    /// <see cref="RealServer.MaxWeight"/> (keepalived's <c>real_weight(effective_weight)</c>).
    /// </summary>
    public int EffectiveWeight
    {
        get => Volatile.Read(ref _effectiveWeight);
        internal set => Volatile.Write(ref _effectiveWeight, value);
    }

    /// <summary>The reason of the last check result.</summary>
    public string LastReason
    {
        get => _lastReason;
        internal set => _lastReason = value;
    }

    internal IReadOnlyList<MonitoredCheck> Checks { get; }

    /// <summary>The configured weight, or the last one a dynamic check reported: the weight before the checkers' offsets.</summary>
    internal int BaseWeight { get; set; }

    /// <summary>ipwrapper.h real_weight: the base weight plus the checkers' offsets, clamped to what IPVS takes.</summary>
    internal int ComputeEffectiveWeight()
    {
        long weight = BaseWeight;
        foreach (MonitoredCheck check in Checks)
        {
            weight += check.WeightOffset;
        }

        return (int)Math.Clamp(weight, 0, RealServer.MaxWeight);
    }

    /// <summary>keepalived's <c>num_failed_checkers</c>.</summary>
    internal int FailedChecks { get; set; }

    internal bool Removed { get; set; }

    /// <summary>The endpoint and state.</summary>
    /// <returns>Text for logs.</returns>
    public override string ToString() => $"{Endpoint} {(IsUp ? "up" : "down")} w={EffectiveWeight}";
}
