using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Scheduling;

namespace Lvs.Director.Configuration;

/// <summary>
/// Applies a changed configuration to a running table as a diff, with the table's edit operations only (never a
/// clear and rebuild): a service or real server that stays keeps its object, counters and connections; one whose
/// options change is edited in place (a weight change is an edit, not a delete and add); one that goes is deleted
/// and its connections follow the connection table's expire_nodest_conn rule.
/// </summary>
public static class ConfigurationReload
{
    /// <summary>Reloads ipvsadm rules: the table becomes what <c>ipvsadm -C</c> then <c>ipvsadm -R</c> of the file would build, without losing a connection that can stay.</summary>
    /// <param name="table">The running table.</param>
    /// <param name="rules">The new rules (usually a whole <c>ipvsadm-save</c> file).</param>
    /// <param name="timeouts">The connection timeouts <c>--set</c> changes; null when the file has none.</param>
    /// <param name="schedulers">The scheduler names; null: the built-in ones.</param>
    /// <returns>What changed.</returns>
    /// <exception cref="ConfigurationException">The rules cannot be applied (ipvsadm's messages, file:line): nothing changed.</exception>
    public static ConfigurationDiff Reload(ServiceTable table, IpvsadmRuleSet rules, ConnectionTimeouts? timeouts = null, SchedulerRegistry? schedulers = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(rules);
        var desired = new ServiceTable(schedulers);
        rules.ApplyTo(desired, timeouts, schedulers);
        var diff = Compute(table.Snapshot, Desired(desired.Snapshot));
        Apply(table, diff);
        return diff;
    }

    /// <summary>Reloads a keepalived configuration into the table, without health checks (see <see cref="KeepalivedHealthRegistration.Reload"/> for them).</summary>
    /// <param name="table">The running table.</param>
    /// <param name="configuration">The new configuration.</param>
    /// <returns>What changed.</returns>
    public static ConfigurationDiff Reload(ServiceTable table, KeepalivedConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(configuration);
        var diff = Compute(table.Snapshot, configuration.Desired());
        Apply(table, diff);
        return diff;
    }

    /// <summary>The changes that make the running table the keepalived configuration's.</summary>
    /// <param name="running">The running table.</param>
    /// <param name="configuration">The configuration.</param>
    /// <returns>The changes.</returns>
    public static ConfigurationDiff Compute(ServiceTableSnapshot running, KeepalivedConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(running);
        ArgumentNullException.ThrowIfNull(configuration);
        return Compute(running, configuration.Desired());
    }

    /// <summary>
    /// Applies changes to a table: removed real servers and services are deleted, changed ones edited, added ones
    /// added (real servers in the configuration's order, so that the kernel's list order is the order a fresh load gives).
    /// </summary>
    /// <param name="table">The table.</param>
    /// <param name="diff">The changes, computed against the table's present state.</param>
    public static void Apply(ServiceTable table, ConfigurationDiff diff)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(diff);
        foreach (var change in diff.RealServers)
        {
            if (change.Kind == ConfigurationChangeKind.Removed)
            {
                table.DeleteRealServer(change.Service, change.Endpoint);
            }
        }

        foreach (var change in diff.Services)
        {
            switch (change.Kind)
            {
                case ConfigurationChangeKind.Removed:
                    table.DeleteService(change.Key);
                    break;
                case ConfigurationChangeKind.Added:
                    _ = table.AddService(change.New!);
                    break;
                default:
                    _ = table.EditService(change.New!);
                    break;
            }
        }

        foreach (var change in diff.RealServers)
        {
            switch (change.Kind)
            {
                case ConfigurationChangeKind.Changed:
                    table.EditRealServer(change.Service, change.New!);
                    break;
                case ConfigurationChangeKind.Added:
                    _ = table.AddRealServer(change.Service, change.New!);
                    break;
                default:
                    break;
            }
        }
    }

    /// <summary>The services and configured real servers of a table (sorry servers excluded), in their order.</summary>
    internal static IEnumerable<(VirtualServiceOptions Service, IReadOnlyList<RealServerOptions> RealServers)> Desired(ServiceTableSnapshot snapshot)
    {
        foreach (var service in snapshot.Services)
        {
            yield return (service.Options, [.. service.Configured.Where(s => !s.IsSorryServer).Select(s => s.Options)]);
        }
    }

    internal static ConfigurationDiff Compute(ServiceTableSnapshot running, IEnumerable<(VirtualServiceOptions Service, IReadOnlyList<RealServerOptions> RealServers)> desired)
    {
        var services = new List<ServiceChange>();
        var servers = new List<RealServerChange>();
        var wanted = new HashSet<VirtualServiceKey>();
        foreach (var (options, realServers) in desired)
        {
            var key = options.Key;
            _ = wanted.Add(key);
            var current = running.Find(key);
            if (current is null)
            {
                services.Add(new ServiceChange(ConfigurationChangeKind.Added, key, null, options));
            }
            else if (current.Options != options)
            {
                services.Add(new ServiceChange(ConfigurationChangeKind.Changed, key, current.Options, options));
            }

            var configured = current?.Configured.Where(s => !s.IsSorryServer).ToList() ?? [];
            var endpoints = new HashSet<InetEndpoint>(realServers.Select(s => s.Endpoint));
            foreach (var server in configured)
            {
                if (!endpoints.Contains(server.Options.Endpoint))
                {
                    servers.Add(new RealServerChange(ConfigurationChangeKind.Removed, key, server.Options.Endpoint, server.Options, null));
                }
            }

            foreach (var server in realServers)
            {
                var existing = configured.FirstOrDefault(s => s.Options.Endpoint == server.Endpoint);
                if (existing is null)
                {
                    servers.Add(new RealServerChange(ConfigurationChangeKind.Added, key, server.Endpoint, null, server));
                }
                else if (existing.Options != server)
                {
                    servers.Add(new RealServerChange(ConfigurationChangeKind.Changed, key, server.Endpoint, existing.Options, server));
                }
            }
        }

        foreach (var service in running.Services)
        {
            if (!wanted.Contains(service.Key))
            {
                services.Add(new ServiceChange(ConfigurationChangeKind.Removed, service.Key, service.Options, null));
            }
        }

        return new ConfigurationDiff(services, servers);
    }
}
