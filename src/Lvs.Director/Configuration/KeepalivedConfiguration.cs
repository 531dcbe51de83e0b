using Lvs.Core;
using Lvs.Scheduling;

namespace Lvs.Director.Configuration;

/// <summary>
/// A keepalived.conf as read by <see cref="KeepalivedConfigParser"/>: the virtual servers with their real servers and
/// checkers, and the notices of what was skipped or corrected. <see cref="ApplyTo"/> builds the table keepalived would
/// build in the kernel; <see cref="Watch"/> registers the checkers with a <see cref="DirectorHealth"/>.
/// </summary>
public sealed class KeepalivedConfiguration
{
    internal KeepalivedConfiguration(IReadOnlyList<KeepalivedVirtualServer> virtualServers, IReadOnlyList<ConfigurationNotice> notices)
    {
        VirtualServers = virtualServers;
        Notices = notices;
    }

    /// <summary>The virtual servers, in file order.</summary>
    public IReadOnlyList<KeepalivedVirtualServer> VirtualServers { get; }

    /// <summary>What was skipped or corrected, each <c>file:line: message</c>, in file order.</summary>
    public IReadOnlyList<ConfigurationNotice> Notices { get; }

    /// <summary>
    /// The FULLNAT forks' local addresses by service (<c>laddr_group_name</c>). This director keeps one pool of local
    /// addresses for every service (<see cref="DirectorOptions.LocalAddresses"/>): pass the distinct addresses there.
    /// </summary>
    /// <returns>The local addresses by service, in file order.</returns>
    public IReadOnlyList<(VirtualServiceKey Service, InetAddress Address)> LocalAddresses() =>
        [.. VirtualServers.SelectMany(vs => vs.Services.SelectMany(s => vs.LocalAddresses.Select(a => (s.Key, a))))];

    /// <summary>
    /// Adds the services and their real servers to a table, as keepalived adds them to the kernel at start (in file
    /// order; each new real server goes to the head of its service's list). The whole configuration is checked first:
    /// if a service already exists or a scheduler is unknown, nothing changes and every failure is reported.
    /// </summary>
    /// <param name="table">The table (usually empty; use <see cref="ConfigurationReload"/> for a running one).</param>
    /// <param name="schedulers">The scheduler names the table knows; null: the built-in ones.</param>
    /// <exception cref="ConfigurationException">A service exists or a scheduler is unknown: all the failures.</exception>
    public void ApplyTo(ServiceTable table, SchedulerRegistry? schedulers = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        var known = new HashSet<string>((schedulers ?? new SchedulerRegistry()).Names, StringComparer.Ordinal);
        var snapshot = table.Snapshot;
        var errors = new List<ConfigurationError>();
        foreach (var vs in VirtualServers)
        {
            foreach (var service in vs.Services)
            {
                if (snapshot.Find(service.Key) is not null)
                {
                    errors.Add(new ConfigurationError(vs.File, vs.Line, $"Service already exists: {service.Key}"));
                }

                if (!known.Contains(service.Scheduler))
                {
                    errors.Add(new ConfigurationError(vs.File, vs.Line, $"Scheduler not found: '{service.Scheduler}'"));
                }
            }
        }

        if (errors.Count > 0)
        {
            throw new ConfigurationException(errors);
        }

        foreach (var (service, servers) in Desired())
        {
            _ = table.AddService(service);
            foreach (var server in servers)
            {
                _ = table.AddRealServer(service.Key, server);
            }
        }
    }

    /// <summary>
    /// Registers every service (quorum, hysteresis, sorry server) and real server (checkers, inhibit_on_failure) with
    /// the health checks, and runs the notify and quorum scripts on state changes. The services must be in the
    /// health's table (<see cref="ApplyTo"/>). Start the checks with <see cref="DirectorHealth.Start"/>.
    /// </summary>
    /// <param name="health">The health checks of the table.</param>
    /// <param name="timeProvider">The clock of the checkers' timeouts; null: the system clock.</param>
    /// <param name="runScript">Runs a notify or quorum script; null: <c>/bin/sh -c</c>, not waited for.</param>
    /// <returns>The registration, to reload with.</returns>
    public KeepalivedHealthRegistration Watch(DirectorHealth health, TimeProvider? timeProvider = null, Action<string>? runScript = null)
    {
        ArgumentNullException.ThrowIfNull(health);
        var registration = new KeepalivedHealthRegistration(health, timeProvider, runScript);
        registration.Add(this);
        return registration;
    }

    /// <summary>Every service with its real servers' table options, in file order.</summary>
    internal IEnumerable<(VirtualServiceOptions Service, IReadOnlyList<RealServerOptions> RealServers)> Desired()
    {
        foreach (var vs in VirtualServers)
        {
            foreach (var service in vs.Services)
            {
                yield return (service, [.. vs.RealServers.Select(rs => rs.OptionsFor(service.Key))]);
            }
        }
    }
}
