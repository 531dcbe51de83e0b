using Lvs.Core;

namespace Lvs.Director.Configuration;

/// <summary>
/// A keepalived <c>real_server</c> (or <c>sorry_server</c>) as keepalived resolves it: the virtual server's
/// <c>lvs_method</c> and <c>weight</c> when it gives none, its checkers with their inherited timing.
/// </summary>
/// <param name="File">The file of its statement.</param>
/// <param name="Line">The line of its statement.</param>
/// <param name="Endpoint">The address and port as written (port 0: none given).</param>
public sealed record KeepalivedRealServer(string File, int Line, InetEndpoint Endpoint)
{
    /// <summary><c>weight</c> (0-65535); the virtual server's <c>weight</c> (1 by default) when not given.</summary>
    public int Weight { get; init; } = 1;

    /// <summary><c>lvs_method</c>: NAT (keepalived's default), DR, TUN, or FNAT (FULLNAT forks).</summary>
    public ForwardingMethod Method { get; init; } = ForwardingMethod.Nat;

    /// <summary>The tunnel type of <c>lvs_method TUN type ...</c>.</summary>
    public TunnelType TunnelType { get; init; }

    /// <summary>The GUE port of <c>lvs_method TUN type gue port N</c>.</summary>
    public ushort TunnelPort { get; init; }

    /// <summary>The tunnel checksum option (<c>nocsum</c>, <c>csum</c>, <c>remcsum</c>).</summary>
    public TunnelFlags TunnelFlags { get; init; }

    /// <summary><c>uthreshold</c>; 0: none.</summary>
    public int UpperThreshold { get; init; }

    /// <summary><c>lthreshold</c>; 0: none.</summary>
    public int LowerThreshold { get; init; }

    /// <summary><c>inhibit_on_failure</c> (for a sorry server, <c>sorry_server_inhibit</c>).</summary>
    public bool InhibitOnFailure { get; init; }

    /// <summary><c>notify_up</c>: the script run when the server comes up; null: none.</summary>
    public string? NotifyUp { get; init; }

    /// <summary><c>notify_down</c>: the script run when the server goes down; null: none.</summary>
    public string? NotifyDown { get; init; }

    /// <summary>The checkers, in file order (none: the server is always up).</summary>
    public IReadOnlyList<KeepalivedCheck> Checks { get; init; } = [];

    /// <summary>
    /// The table's options of the server in one service of the virtual server: the port as keepalived sets it (NAT: the
    /// service's port when none is given; DR and TUN: the service's port; firewall marks: 0 unless NAT).
    /// </summary>
    /// <param name="service">The service.</param>
    /// <returns>The options.</returns>
    public RealServerOptions OptionsFor(VirtualServiceKey service)
    {
        ushort port = Endpoint.Port;
        if (!service.IsFirewallMark)
        {
            if (port == 0 || Method is ForwardingMethod.DirectRouting or ForwardingMethod.Tunnel)
            {
                port = service.Endpoint.Port;
            }
        }
        else if (Method is ForwardingMethod.DirectRouting or ForwardingMethod.Tunnel)
        {
            port = 0;
        }

        return new RealServerOptions(Endpoint with { Port = port })
        {
            Weight = Weight,
            Method = Method,
            TunnelType = TunnelType,
            TunnelPort = TunnelPort,
            TunnelFlags = TunnelFlags,
            UpperThreshold = UpperThreshold,
            LowerThreshold = LowerThreshold,
        };
    }
}
