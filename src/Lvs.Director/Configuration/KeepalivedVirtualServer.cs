using Lvs.Core;
using Lvs.HealthChecks;

namespace Lvs.Director.Configuration;

/// <summary>
/// A keepalived <c>virtual_server</c> as keepalived resolves it: one table service per address (a
/// <c>virtual_server group</c> gives one per group entry), its real servers, quorum and sorry server.
/// </summary>
/// <param name="File">The file of its statement.</param>
/// <param name="Line">The line of its statement.</param>
/// <param name="Name">How the file names it: <c>10.0.0.1 80</c>, <c>fwmark 5</c>, <c>group NAME</c>.</param>
public sealed record KeepalivedVirtualServer(string File, int Line, string Name)
{
    /// <summary>The table's services, one per address or firewall mark, in file order.</summary>
    public IReadOnlyList<VirtualServiceOptions> Services { get; init; } = [];

    /// <summary>The real servers, in file order.</summary>
    public IReadOnlyList<KeepalivedRealServer> RealServers { get; init; } = [];

    /// <summary><c>quorum</c> (1 by default), reduced to the total weight as keepalived reduces it.</summary>
    public long Quorum { get; init; } = 1;

    /// <summary><c>hysteresis</c> (0 by default), below the quorum as keepalived keeps it.</summary>
    public long Hysteresis { get; init; }

    /// <summary><c>sorry_server</c> with its method; null: none.</summary>
    public KeepalivedRealServer? SorryServer { get; init; }

    /// <summary><c>quorum_up</c>: the script run when the quorum is gained; null: none.</summary>
    public string? QuorumUp { get; init; }

    /// <summary><c>quorum_down</c>: the script run when the quorum is lost; null: none.</summary>
    public string? QuorumDown { get; init; }

    /// <summary>The FULLNAT forks' local addresses (<c>laddr_group_name</c> and its <c>local_address_group</c>).</summary>
    public IReadOnlyList<InetAddress> LocalAddresses { get; init; } = [];

    /// <summary>The health options of one of its services: quorum, hysteresis and the sorry server's endpoint.</summary>
    /// <param name="service">The service.</param>
    /// <returns>The options.</returns>
    public VirtualServiceHealthOptions HealthOptions(VirtualServiceKey service) => new(service)
    {
        Quorum = Math.Max(1, Quorum),
        Hysteresis = Hysteresis,
        SorryServer = SorryServer?.OptionsFor(service).Endpoint,
    };
}
