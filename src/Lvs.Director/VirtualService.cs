using Lvs.Core;
using Lvs.Scheduling;

namespace Lvs.Director;

/// <summary>
/// A virtual service as the packet path sees it in one <see cref="ServiceTableSnapshot"/> (the kernel's
/// <c>ip_vs_service</c>): its options, its scheduler, and its real servers in the kernel's list order. Immutable: a
/// change to the table publishes a new one; the scheduler and the <see cref="RealServer"/> objects (with their
/// connection counters) carry over from one snapshot to the next.
/// </summary>
public sealed class VirtualService
{
    internal VirtualService(VirtualServiceOptions options, IScheduler scheduler, int index, RealServer[] pool, ConfiguredRealServer[] configured)
    {
        Options = options;
        Scheduler = scheduler;
        Index = index;
        RealServers = pool;
        Configured = configured;
    }

    /// <summary>The service's key (protocol, address and port, or firewall mark).</summary>
    public VirtualServiceKey Key => Options.Key;

    /// <summary>The service's options.</summary>
    public VirtualServiceOptions Options { get; }

    /// <summary>The scheduler that picks a real server for a new connection.</summary>
    public IScheduler Scheduler { get; }

    /// <summary>
    /// The real servers in the pool (what the kernel's table holds), in the kernel's list order: a server added (or put
    /// back by a health check) goes to the head (<c>list_add_rcu</c>). This is the list the scheduler was given.
    /// </summary>
    public IReadOnlyList<RealServer> RealServers { get; }

    /// <summary>Every configured real server with its options, in the order configured, in the pool or not (a server a health check took out stays here).</summary>
    public IReadOnlyList<ConfiguredRealServer> Configured { get; }

    /// <summary>A stable number for the service's lifetime in the table (its statistics slot).</summary>
    internal int Index { get; }

    /// <summary>Finds a configured real server by endpoint.</summary>
    /// <param name="endpoint">The server's endpoint.</param>
    /// <returns>The server, or null.</returns>
    public ConfiguredRealServer? FindRealServer(InetEndpoint endpoint)
    {
        foreach (var server in Configured)
        {
            if (server.Options.Endpoint == endpoint)
            {
                return server;
            }
        }

        return null;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Key} {Options.Scheduler} ({RealServers.Count} real servers)";
}

/// <summary>A configured real server of a service: its options (with the configured weight) and its live state.</summary>
/// <param name="Options">The configured options.</param>
/// <param name="Server">The live server: weight, thresholds, counters (the kernel's <c>ip_vs_dest</c>).</param>
/// <param name="InPool">Whether the server is in the pool (false while a health check holds it out).</param>
public sealed record ConfiguredRealServer(RealServerOptions Options, RealServer Server, bool InPool)
{
    /// <summary>Whether it is a sorry server the health checks put in (<see cref="ServiceTable.SetSorryServer"/>), not a configured real server.</summary>
    public bool IsSorryServer { get; init; }
}
