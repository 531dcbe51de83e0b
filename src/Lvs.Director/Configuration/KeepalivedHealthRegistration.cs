using System.Diagnostics;
using Lvs.Core;
using Lvs.HealthChecks;

namespace Lvs.Director.Configuration;

/// <summary>
/// The health registrations of a keepalived configuration with a <see cref="DirectorHealth"/>: one watched service per
/// table service, one watched real server with its checkers per real server, and the notify scripts. A reload
/// (<see cref="Reload"/>) applies the new configuration to the table as a diff, stops the watches of the servers that
/// go, starts the ones of the servers that come, and keeps the running checks of what did not change.
/// </summary>
/// <remarks>
/// A real server whose weight, inhibit_on_failure or checkers change is watched again: its checks restart from their
/// initial state (keepalived keeps an unchanged checker's state across a reload; here the unit is the real server).
/// A service whose quorum, hysteresis or sorry server changes is watched again with all its servers.
/// <para>
/// The registration owns the checkers it creates: those that hold resources (an HTTP_GET / SSL_GET checker's HTTP
/// handler) are disposed when their server's watch stops on a reload, and all of them by <see cref="Dispose"/>. A
/// check still running then ends with an error nobody reads (the server is no longer watched).
/// </para>
/// </remarks>
public sealed class KeepalivedHealthRegistration : IDisposable
{
    private readonly DirectorHealth _health;
    private readonly TimeProvider? _timeProvider;
    private readonly Action<string> _runScript;
    private readonly Lock _gate = new();
    private readonly Dictionary<VirtualServiceKey, ServiceWatch> _services = [];
    private readonly Dictionary<MonitoredRealServer, (string? Up, string? Down, bool? WasUp)> _notify = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<MonitoredVirtualService, (string? Up, string? Down, bool? HadQuorum)> _quorum = new(ReferenceEqualityComparer.Instance);
    private bool _disposed;

    internal KeepalivedHealthRegistration(DirectorHealth health, TimeProvider? timeProvider, Action<string>? runScript)
    {
        _health = health;
        _timeProvider = timeProvider;
        _runScript = runScript ?? RunShell;
        health.RealServerChanged += OnRealServerChanged;
        health.QuorumChanged += OnQuorumChanged;
    }

    /// <summary>The watched services, by key.</summary>
    public IReadOnlyDictionary<VirtualServiceKey, MonitoredVirtualService> Services
    {
        get
        {
            lock (_gate)
            {
                return _services.ToDictionary(entry => entry.Key, entry => entry.Value.Monitored);
            }
        }
    }

    /// <summary>The watched real servers of a service, by endpoint in the table.</summary>
    /// <param name="service">The service.</param>
    /// <returns>The watched servers; empty when the service is not watched.</returns>
    public IReadOnlyDictionary<InetEndpoint, MonitoredRealServer> RealServers(VirtualServiceKey service)
    {
        lock (_gate)
        {
            return _services.TryGetValue(service, out var watch)
                ? watch.Servers.ToDictionary(entry => entry.Key, entry => entry.Value.Monitored)
                : new Dictionary<InetEndpoint, MonitoredRealServer>();
        }
    }

    /// <summary>For tests: the checkers the registration created for a watched real server.</summary>
    internal IReadOnlyList<IHealthChecker> CheckersOf(VirtualServiceKey service, InetEndpoint endpoint)
    {
        lock (_gate)
        {
            return _services.TryGetValue(service, out var watch) && watch.Servers.TryGetValue(endpoint, out var server) ? [.. server.Checks.Select(check => check.Checker)] : [];
        }
    }

    /// <summary>
    /// Reloads a changed configuration: the table gets the diff (<see cref="ConfigurationReload"/>, every connection
    /// whose real server stays is kept), the watches of removed servers stop and those of new ones start.
    /// </summary>
    /// <param name="table">The health's table.</param>
    /// <param name="configuration">The new configuration.</param>
    /// <returns>What changed in the table.</returns>
    public ConfigurationDiff Reload(ServiceTable table, KeepalivedConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(configuration);
        lock (_gate)
        {
            var wanted = new Dictionary<VirtualServiceKey, (KeepalivedVirtualServer Vs, VirtualServiceOptions Service)>();
            foreach (var vs in configuration.VirtualServers)
            {
                foreach (var service in vs.Services)
                {
                    wanted[service.Key] = (vs, service);
                }
            }

            // Watches of what goes stop first, so that no health event re-adds a server being deleted.
            foreach (var (key, watch) in _services.ToList())
            {
                if (!wanted.TryGetValue(key, out var next) || watch.Definition != ServiceDefinition(next.Vs, key))
                {
                    Unwatch(key, watch);
                    continue;
                }

                var servers = next.Vs.RealServers.ToDictionary(rs => rs.OptionsFor(key).Endpoint);
                foreach (var (endpoint, server) in watch.Servers.ToList())
                {
                    if (!servers.TryGetValue(endpoint, out var rs) || server.Definition != ServerDefinition(rs))
                    {
                        _health.Unwatch(server.Monitored);
                        _ = _notify.Remove(server.Monitored);
                        _ = watch.Servers.Remove(endpoint);
                        server.DisposeCheckers();
                    }
                }
            }

            var diff = ConfigurationReload.Compute(table.Snapshot, configuration);
            ConfigurationReload.Apply(table, diff);

            foreach (var vs in configuration.VirtualServers)
            {
                foreach (var service in vs.Services)
                {
                    if (!_services.TryGetValue(service.Key, out var watch))
                    {
                        Watch(vs, service.Key);
                        continue;
                    }

                    foreach (var rs in vs.RealServers)
                    {
                        var endpoint = rs.OptionsFor(service.Key).Endpoint;
                        if (!watch.Servers.ContainsKey(endpoint))
                        {
                            WatchServer(watch, rs, service.Key);
                        }
                    }
                }
            }

            return diff;
        }
    }

    /// <summary>Registers every service of a configuration.</summary>
    internal void Add(KeepalivedConfiguration configuration)
    {
        lock (_gate)
        {
            foreach (var vs in configuration.VirtualServers)
            {
                foreach (var service in vs.Services)
                {
                    Watch(vs, service.Key);
                }
            }
        }
    }

    private void Watch(KeepalivedVirtualServer vs, VirtualServiceKey key)
    {
        var monitored = _health.WatchService(key, vs.HealthOptions(key), vs.SorryServer?.OptionsFor(key), vs.SorryServer?.InhibitOnFailure ?? false);
        var watch = new ServiceWatch(monitored, ServiceDefinition(vs, key));
        _services[key] = watch;
        _quorum[monitored] = (vs.QuorumUp, vs.QuorumDown, null);
        foreach (var rs in vs.RealServers)
        {
            WatchServer(watch, rs, key);
        }
    }

    private void WatchServer(ServiceWatch watch, KeepalivedRealServer rs, VirtualServiceKey key)
    {
        var options = rs.OptionsFor(key);
        var checks = rs.Checks.Select(check => check.Create(options.Endpoint, _timeProvider)).ToList();
        var monitored = _health.WatchRealServer(watch.Monitored, options.Endpoint, checks, rs.InhibitOnFailure);
        watch.Servers[options.Endpoint] = new ServerWatch(monitored, ServerDefinition(rs), checks);
        _notify[monitored] = (rs.NotifyUp, rs.NotifyDown, monitored.IsUp);
    }

    private void Unwatch(VirtualServiceKey key, ServiceWatch watch)
    {
        foreach (var server in watch.Servers.Values)
        {
            _ = _notify.Remove(server.Monitored);
        }

        _ = _quorum.Remove(watch.Monitored);
        _health.Unwatch(watch.Monitored);
        _ = _services.Remove(key);
        foreach (var server in watch.Servers.Values)
        {
            server.DisposeCheckers();
        }
    }

    /// <summary>
    /// Stops listening to the health's events (no more notify or quorum scripts) and disposes the checkers the
    /// registration created. Call it once the health checks have stopped (<see cref="DirectorHealth"/>'s host does so
    /// at shutdown); the table is left as it is.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _health.RealServerChanged -= OnRealServerChanged;
            _health.QuorumChanged -= OnQuorumChanged;
            foreach (var watch in _services.Values)
            {
                foreach (var server in watch.Servers.Values)
                {
                    server.DisposeCheckers();
                }
            }
        }
    }

    private static string ServiceDefinition(KeepalivedVirtualServer vs, VirtualServiceKey key) =>
        $"{vs.HealthOptions(key)} {vs.SorryServer?.OptionsFor(key)} {vs.SorryServer?.InhibitOnFailure} {vs.QuorumUp} {vs.QuorumDown}";

    private static string ServerDefinition(KeepalivedRealServer rs) =>
        $"{rs.Weight} {rs.InhibitOnFailure} {rs.NotifyUp} {rs.NotifyDown} {string.Join(" | ", rs.Checks.Select(c => c.Definition))}";

    private void OnRealServerChanged(RealServerStateChange change)
    {
        string? script = null;
        lock (_gate)
        {
            if (_notify.TryGetValue(change.Server, out var entry) && entry.WasUp != change.IsUp)
            {
                script = change.IsUp ? entry.Up : entry.Down;
                _notify[change.Server] = entry with { WasUp = change.IsUp };
            }
        }

        if (script is not null)
        {
            _runScript(script);
        }
    }

    private void OnQuorumChanged(QuorumStateChange change)
    {
        string? script = null;
        lock (_gate)
        {
            if (_quorum.TryGetValue(change.Service, out var entry) && entry.HadQuorum != change.HasQuorum)
            {
                // The first report is the initial state, not a change.
                script = entry.HadQuorum is null ? null : change.HasQuorum ? entry.Up : entry.Down;
                _quorum[change.Service] = entry with { HadQuorum = change.HasQuorum };
            }
        }

        if (script is not null)
        {
            _runScript(script);
        }
    }

    private static void RunShell(string script)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", script }, UseShellExecute = false });
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // keepalived logs a script it cannot run and goes on; the state change has been applied.
        }
    }

    private sealed record ServerWatch(MonitoredRealServer Monitored, string Definition, IReadOnlyList<RealServerCheck> Checks)
    {
        public void DisposeCheckers()
        {
            foreach (var check in Checks)
            {
                (check.Checker as IDisposable)?.Dispose();
            }
        }
    }

    private sealed class ServiceWatch(MonitoredVirtualService monitored, string definition)
    {
        public MonitoredVirtualService Monitored { get; } = monitored;

        public string Definition { get; } = definition;

        public Dictionary<InetEndpoint, ServerWatch> Servers { get; } = [];
    }
}
