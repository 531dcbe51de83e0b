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
    private readonly HashSet<VirtualServiceKey> _inhibitedSorryServers = [];
    private readonly Lock _gate = new();
    private bool _started;

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
    /// <param name="sorryServerInhibit">
    /// keepalived <c>sorry_server_inhibit</c>: the sorry server stays in the pool with weight 0 while the quorum holds
    /// and gets weight 1 when it is lost, instead of being added and removed.
    /// </param>
    /// <returns>The monitored service, to add real servers to.</returns>
    /// <exception cref="InvalidOperationException">The service is not in the table.</exception>
    public MonitoredVirtualService WatchService(VirtualServiceKey service, VirtualServiceHealthOptions? quorum = null, RealServerOptions? sorryServer = null, bool sorryServerInhibit = false)
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
                if (sorryServerInhibit)
                {
                    _ = _inhibitedSorryServers.Add(service);
                }
            }

            if (sorryServerInhibit && _started)
            {
                AddInhibitedSorryServer(service);
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
        ArgumentNullException.ThrowIfNull(checks);
        var configured = _table.Snapshot.Find(key)?.FindRealServer(server)
            ?? throw new InvalidOperationException($"No such destination: {server} in {key}.");
        var options = new RealServerHealthOptions(server)
        {
            Weight = configured.Options.Weight,
            InhibitOnFailure = inhibitOnFailure,
            Checks = checks,
        };
        if (_started)
        {
            // Watched after Start (a reload): its initial state is reported at once, as at start.
            HoldOutUntilReported(key, options, checks.All(check => check.StartsUp), service.SorryServerActive);
        }

        return Monitor.AddRealServer(service, options);
    }

    /// <summary>Raised after a real server's health event was applied to the table (keepalived runs <c>notify_up</c>/<c>notify_down</c> here).</summary>
    public event Action<RealServerStateChange>? RealServerChanged;

    /// <summary>Raised after a service's quorum changed (keepalived runs <c>quorum_up</c>/<c>quorum_down</c> here).</summary>
    public event Action<QuorumStateChange>? QuorumChanged;

    /// <summary>
    /// Starts the checks. The table's pool becomes what keepalived puts in the kernel at start (ipwrapper.c
    /// <c>init_service_rs</c>): a server that starts down (<c>alpha</c>), or that the sorry server stands in for
    /// (quorum not met), leaves the pool unless it is <c>inhibit_on_failure</c>, whose weight becomes 0 instead.
    /// </summary>
    public void Start()
    {
        foreach (var service in Monitor.VirtualServices)
        {
            bool sorry = SorryAtStart(service.Options, service.RealServers);
            foreach (var server in service.RealServers)
            {
                HoldOutUntilReported(service.Options.Key, server.Options, server.IsUp, sorry);
            }
        }

        lock (_gate)
        {
            foreach (var key in _inhibitedSorryServers)
            {
                AddInhibitedSorryServer(key);
            }
        }

        _started = true;
        Monitor.Start();
    }

    // ipwrapper.c: an inhibited sorry server is in the pool from the start, with weight 0.
    private void AddInhibitedSorryServer(VirtualServiceKey key)
    {
        if (_sorryServers.TryGetValue(key, out var sorry))
        {
            _ = _table.SetSorryServer(key, sorry with { Weight = 0 }, present: true);
        }
    }

    /// <summary>Stops watching a real server (a reload that removes it or changes its checks); the table is left as it is.</summary>
    /// <param name="server">The monitored server.</param>
    public void Unwatch(MonitoredRealServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        Monitor.RemoveRealServer(server);
    }

    /// <summary>Stops watching a service and its real servers; its sorry server, if the health checks put it in, is taken out.</summary>
    /// <param name="service">The monitored service.</param>
    public void Unwatch(MonitoredVirtualService service)
    {
        ArgumentNullException.ThrowIfNull(service);
        var key = service.Options.Key;
        Monitor.RemoveVirtualService(service);
        RealServerOptions? sorry;
        lock (_gate)
        {
            _ = _sorryServers.Remove(key, out sorry);
            _ = _inhibitedSorryServers.Remove(key);
        }

        if (sorry is not null)
        {
            _ = _table.SetSorryServer(key, sorry, present: false);
        }
    }

    // A server keepalived would not add at start is held out of the pool until its first "up" event puts it in.
    private void HoldOutUntilReported(VirtualServiceKey key, RealServerHealthOptions server, bool isUp, bool sorryStandsIn)
    {
        if ((!isUp || sorryStandsIn) && !server.InhibitOnFailure)
        {
            _ = _table.ApplyHealth(key, server.Endpoint, PoolAction.Remove, 0);
        }
    }

    // QuorumState: quorum is met at start when the live weight reaches quorum + hysteresis.
    private static bool SorryAtStart(VirtualServiceHealthOptions options, IReadOnlyList<MonitoredRealServer> servers)
    {
        long live = servers.Where(s => s.IsUp).Sum(s => (long)s.EffectiveWeight);
        return options.SorryServer is not null && live < options.Quorum + options.Hysteresis;
    }

    /// <inheritdoc />
    void IRealServerHealthSink.OnRealServerStateChanged(RealServerStateChange change)
    {
        var key = change.Server.Service.Options.Key;
        if (change.Action != PoolAction.None && _table.ApplyHealth(key, change.Server.Endpoint, change.Action, change.Weight))
        {
            DirectorLog.HealthApplied(_logger, change.Server.Endpoint, key, change.Action, change.Weight, change.Reason);
        }

        RealServerChanged?.Invoke(change);
    }

    /// <inheritdoc />
    void IRealServerHealthSink.OnQuorumStateChanged(QuorumStateChange change)
    {
        var key = change.Service.Options.Key;
        DirectorLog.QuorumChanged(_logger, key, change.HasQuorum ? "gained" : "lost", change.LiveWeight, change.Threshold);
        RealServerOptions? sorry;
        bool inhibited;
        lock (_gate)
        {
            _ = _sorryServers.TryGetValue(key, out sorry);
            inhibited = _inhibitedSorryServers.Contains(key);
        }

        if (sorry is not null && change.SorryServerAction is PoolAction.Add or PoolAction.Remove)
        {
            bool add = change.SorryServerAction == PoolAction.Add;
            if (inhibited)
            {
                // sorry_server_inhibit: a weight change of the server that stays in the pool (ipvswrapper.c).
                _ = _table.ApplyHealth(key, sorry.Endpoint, PoolAction.SetWeight, add ? 1 : 0);
            }
            else
            {
                _ = _table.SetSorryServer(key, sorry, add);
            }
        }

        QuorumChanged?.Invoke(change);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Monitor.DisposeAsync();
}
