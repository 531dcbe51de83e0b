using Lvs.Core;
using Lvs.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lvs.Director;

/// <summary>
/// keepalived's check daemon over the <see cref="ServiceTable"/>: a <see cref="HealthMonitor"/> whose events change the
/// table as keepalived's ipwrapper.c changes the kernel's (a failed server is removed, or set to weight 0 with
/// inhibit_on_failure; it comes back at the head of the list with its configured weight; misc_dynamic weights; the
/// sorry server goes in when the quorum is lost and out when it is regained).
/// </summary>
/// <remarks>
/// The weight a check puts back is the table's configured weight (<see cref="RealServerOptions.Weight"/>), read when the
/// server is watched: there is no second default to keep in step.
/// </remarks>
public sealed class DirectorHealth : IRealServerHealthSink, IAsyncDisposable
{
    private readonly ServiceTable _table;
    private readonly ILogger _logger;
    private readonly Dictionary<VirtualServiceKey, RealServerOptions> _sorryServers = [];
    private readonly Lock _gate = new();

    /// <summary>Creates the binding and its monitor (not started).</summary>
    /// <param name="table">The table the events change.</param>
    /// <param name="options">The monitor's options.</param>
    /// <param name="loggerFactory">Logging; null: none.</param>
    public DirectorHealth(ServiceTable table, HealthMonitorOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        _table = table;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Lvs.Director.Health");
        Monitor = new HealthMonitor(this, options);
    }

    /// <summary>The monitor.</summary>
    public HealthMonitor Monitor { get; }

    /// <summary>Watches a virtual service of the table: its quorum, hysteresis and sorry server.</summary>
    /// <param name="service">The service (it must be in the table).</param>
    /// <param name="quorum">The quorum, hysteresis and sorry-server endpoint (keepalived <c>quorum</c>, <c>hysteresis</c>, <c>sorry_server</c>); null: none.</param>
    /// <param name="sorryServer">How to forward to the sorry server (its method; weight 1 by default, as keepalived adds it).</param>
    /// <returns>The monitored service, to add real servers to.</returns>
    /// <exception cref="InvalidOperationException">The service is not in the table.</exception>
    public MonitoredVirtualService WatchService(VirtualServiceKey service, VirtualServiceHealthOptions? quorum = null, RealServerOptions? sorryServer = null)
    {
        if (_table.Snapshot.Find(service) is null)
        {
            throw new InvalidOperationException($"No such service: {service}.");
        }

        var options = quorum ?? new VirtualServiceHealthOptions(service);
        if (options.Key != service)
        {
            throw new ArgumentException($"The health options are for {options.Key}, not {service}.", nameof(quorum));
        }

        if (options.SorryServer is { } endpoint)
        {
            lock (_gate)
            {
                _sorryServers[service] = sorryServer is null ? new RealServerOptions(endpoint) : sorryServer with { Endpoint = endpoint };
            }
        }

        return Monitor.AddVirtualService(options);
    }

    /// <summary>Watches a real server of a watched service with its checks; its weight is the table's configured weight.</summary>
    /// <param name="service">The monitored service.</param>
    /// <param name="server">The real server's endpoint (it must be configured in the table).</param>
    /// <param name="checks">Its checkers (all must pass for it to be up).</param>
    /// <param name="inhibitOnFailure">keepalived <c>inhibit_on_failure</c>: set weight 0 on failure instead of removing.</param>
    /// <returns>The monitored server.</returns>
    /// <exception cref="InvalidOperationException">The server is not configured in the service.</exception>
    public MonitoredRealServer WatchRealServer(MonitoredVirtualService service, InetEndpoint server, IReadOnlyList<RealServerCheck> checks, bool inhibitOnFailure = false)
    {
        ArgumentNullException.ThrowIfNull(service);
        var key = service.Options.Key;
        var configured = _table.Snapshot.Find(key)?.FindRealServer(server)
            ?? throw new InvalidOperationException($"No such destination: {server} in {key}.");
        return Monitor.AddRealServer(service, new RealServerHealthOptions(server)
        {
            Weight = configured.Options.Weight,
            InhibitOnFailure = inhibitOnFailure,
            Checks = checks,
        });
    }

    /// <summary>Starts the checks.</summary>
    public void Start() => Monitor.Start();

    /// <inheritdoc />
    void IRealServerHealthSink.OnRealServerStateChanged(RealServerStateChange change)
    {
        var key = change.Server.Service.Options.Key;
        if (change.Action == PoolAction.None)
        {
            return;
        }

        if (_table.ApplyHealth(key, change.Server.Endpoint, change.Action, change.Weight))
        {
            DirectorLog.HealthApplied(_logger, change.Server.Endpoint, key, change.Action, change.Weight, change.Reason);
        }
    }

    /// <inheritdoc />
    void IRealServerHealthSink.OnQuorumStateChanged(QuorumStateChange change)
    {
        var key = change.Service.Options.Key;
        DirectorLog.QuorumChanged(_logger, key, change.HasQuorum ? "gained" : "lost", change.LiveWeight, change.Threshold);
        RealServerOptions? sorry;
        lock (_gate)
        {
            _ = _sorryServers.TryGetValue(key, out sorry);
        }

        if (sorry is not null && change.SorryServerAction is PoolAction.Add or PoolAction.Remove)
        {
            _ = _table.SetSorryServer(key, sorry, change.SorryServerAction == PoolAction.Add);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Monitor.DisposeAsync();
}
