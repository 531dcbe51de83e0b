using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Scheduling;

namespace Lvs.Director.Configuration;

/// <summary>
/// Parsed ipvsadm rules (<see cref="IpvsadmRulesParser"/>): the commands in file order, and how to apply them to a
/// <see cref="ServiceTable"/> as <c>ipvsadm -R</c> applies them to the kernel.
/// </summary>
public sealed class IpvsadmRuleSet
{
    internal IpvsadmRuleSet(IReadOnlyList<IpvsadmCommand> commands) => Commands = commands;

    /// <summary>The commands, in file order.</summary>
    public IReadOnlyList<IpvsadmCommand> Commands { get; }

    /// <summary>
    /// The FULLNAT local addresses the file leaves configured (<c>-P ... -z</c> minus <c>-Q ... -z</c>, after any
    /// <c>-C</c>), by service. This director keeps one pool of local addresses for every service
    /// (<see cref="DirectorOptions.LocalAddresses"/>): pass the distinct addresses there.
    /// </summary>
    /// <returns>The local addresses by service, in the order added.</returns>
    public IReadOnlyList<(VirtualServiceKey Service, InetAddress Address)> LocalAddresses()
    {
        var result = new List<(VirtualServiceKey, InetAddress)>();
        foreach (var command in Commands)
        {
            switch (command.Kind)
            {
                case IpvsadmCommandKind.AddLocalAddress when !result.Contains((command.Service, command.LocalAddress)):
                    result.Add((command.Service, command.LocalAddress));
                    break;
                case IpvsadmCommandKind.DeleteLocalAddress:
                    _ = result.Remove((command.Service, command.LocalAddress));
                    break;
                case IpvsadmCommandKind.Clear:
                    result.Clear();
                    break;
                case IpvsadmCommandKind.DeleteService:
                    _ = result.RemoveAll(entry => entry.Item1 == command.Service);
                    break;
                default:
                    break;
            }
        }

        return result;
    }

    /// <summary>
    /// Applies the commands to a table (and <c>--set</c> to the timeouts), in order, as <c>ipvsadm -R</c> does. The
    /// whole file is first checked against the table's present state (a service that exists, a server that does
    /// not, an unknown scheduler, <c>--set</c> without timeouts): if any command would fail, nothing is changed and
    /// every failure is reported, each with its line and ipvsadm's message.
    /// </summary>
    /// <param name="table">The table.</param>
    /// <param name="timeouts">The connection timeouts <c>--set</c> changes (the engine's <c>Connections.Timeouts</c>); null when the file has no <c>--set</c>.</param>
    /// <param name="schedulers">The scheduler names the table knows; null: the 14 IPVS schedulers and the built-in extras.</param>
    /// <exception cref="ConfigurationException">A command would fail: all the failures.</exception>
    public void ApplyTo(ServiceTable table, ConnectionTimeouts? timeouts = null, SchedulerRegistry? schedulers = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        var errors = Check(table.Snapshot, timeouts, schedulers ?? new SchedulerRegistry());
        if (errors.Count > 0)
        {
            throw new ConfigurationException(errors);
        }

        foreach (var command in Commands)
        {
            switch (command.Kind)
            {
                case IpvsadmCommandKind.AddService:
                    _ = table.AddService(command.ServiceOptions!);
                    break;
                case IpvsadmCommandKind.EditService:
                    _ = table.EditService(command.ServiceOptions!);
                    break;
                case IpvsadmCommandKind.DeleteService:
                    table.DeleteService(command.Service);
                    break;
                case IpvsadmCommandKind.Clear:
                    table.Clear();
                    break;
                case IpvsadmCommandKind.AddServer:
                    _ = table.AddRealServer(command.Service, command.Server!);
                    break;
                case IpvsadmCommandKind.EditServer:
                    table.EditRealServer(command.Service, command.Server!);
                    break;
                case IpvsadmCommandKind.DeleteServer:
                    table.DeleteRealServer(command.Service, command.Server!.Endpoint);
                    break;
                case IpvsadmCommandKind.SetTimeouts:
                    timeouts!.SetIpvsadm(command.TcpTimeout, command.TcpFinTimeout, command.UdpTimeout);
                    break;
                default:
                    // Local addresses: see LocalAddresses().
                    break;
            }
        }
    }

    /// <summary>Replays the commands on a model of the table and returns what the kernel would refuse (ipvs_strerror's messages).</summary>
    private List<ConfigurationError> Check(ServiceTableSnapshot snapshot, ConnectionTimeouts? timeouts, SchedulerRegistry schedulers)
    {
        var errors = new List<ConfigurationError>();
        var services = new Dictionary<VirtualServiceKey, HashSet<InetEndpoint>>();
        foreach (var service in snapshot.Services)
        {
            services[service.Key] = [.. service.Configured.Select(server => server.Options.Endpoint)];
        }

        var known = new HashSet<string>(schedulers.Names, StringComparer.Ordinal);
        foreach (var command in Commands)
        {
            string? error = null;
            bool exists = services.TryGetValue(command.Service, out var servers);
            switch (command.Kind)
            {
                case IpvsadmCommandKind.AddService:
                    if (exists)
                    {
                        error = "Service already exists";
                    }
                    else if (!known.Contains(command.ServiceOptions!.Scheduler))
                    {
                        error = $"Scheduler not found: '{command.ServiceOptions.Scheduler}'";
                    }
                    else
                    {
                        services[command.Service] = [];
                    }

                    break;
                case IpvsadmCommandKind.EditService:
                    error = !exists ? "No such service"
                        : !known.Contains(command.ServiceOptions!.Scheduler) ? $"Scheduler not found: '{command.ServiceOptions.Scheduler}'"
                        : null;
                    break;
                case IpvsadmCommandKind.DeleteService:
                    error = exists && services.Remove(command.Service) ? null : "No such service";
                    break;
                case IpvsadmCommandKind.Clear:
                    services.Clear();
                    break;
                case IpvsadmCommandKind.AddServer:
                    error = !exists ? "Service not defined"
                        : !servers!.Add(command.Server!.Endpoint) ? "Destination already exists"
                        : null;
                    break;
                case IpvsadmCommandKind.EditServer:
                    error = !exists ? "Service not defined" : !servers!.Contains(command.Server!.Endpoint) ? "No such destination" : null;
                    break;
                case IpvsadmCommandKind.DeleteServer:
                    error = !exists ? "Service not defined" : !servers!.Remove(command.Server!.Endpoint) ? "No such destination" : null;
                    break;
                case IpvsadmCommandKind.SetTimeouts:
                    error = timeouts is null ? "--set needs the connection timeouts to change (pass the engine's Connections.Timeouts)" : null;
                    break;
                case IpvsadmCommandKind.AddLocalAddress:
                case IpvsadmCommandKind.DeleteLocalAddress:
                    error = exists ? null : "Service not defined";
                    break;
                default:
                    break;
            }

            if (error is not null)
            {
                errors.Add(new ConfigurationError(command.File, command.Line, error));
            }
        }

        return errors;
    }
}
