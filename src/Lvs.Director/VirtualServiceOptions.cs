using Lvs.Core;
using Lvs.Scheduling;

namespace Lvs.Director;

/// <summary>
/// A virtual service as configured (ipvsadm <c>-A</c>/<c>-E</c>, keepalived <c>virtual_server</c>): the kernel's
/// <c>ip_vs_service_user</c>. Immutable; an edit replaces it.
/// </summary>
/// <param name="Key">Protocol, virtual address and port (<c>-t</c>/<c>-u</c>), or a firewall mark (<c>-f</c>).</param>
public sealed record VirtualServiceOptions(VirtualServiceKey Key)
{
    /// <summary>ipvsadm's default persistence timeout when <c>-p</c> is given without a value (300 s).</summary>
    public const int DefaultPersistenceTimeout = 300;

    /// <summary>The scheduler's ipvsadm name (<c>-s</c>); ipvsadm's default is <c>wlc</c>.</summary>
    public string Scheduler { get; init; } = SchedulerNames.WeightedLeastConnection;

    /// <summary>Scheduler flags (<c>-b</c>: sh-fallback, sh-port, mh-fallback, mh-port).</summary>
    public SchedulerFlags SchedulerFlags { get; init; }

    /// <summary>The persistence timeout in seconds (<c>-p</c>); 0: not persistent.</summary>
    public int PersistenceTimeout { get; init; }

    /// <summary>
    /// The persistence granularity as a prefix length (<c>-M</c>, keepalived <c>persistence_granularity</c>);
    /// null: a single client address (/32 or /128).
    /// </summary>
    public int? PersistencePrefixLength { get; init; }

    /// <summary>One-packet scheduling (<c>-o</c>, keepalived <c>ops</c>): each UDP datagram is scheduled alone and no connection is kept.</summary>
    public bool OnePacket { get; init; }

    /// <summary>Whether the service is persistent.</summary>
    public bool IsPersistent => PersistenceTimeout > 0;

    /// <summary>Throws when the options cannot make a service (what ipvsadm and the kernel refuse).</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Scheduler))
        {
            throw new ArgumentException("The scheduler name is empty.");
        }

        if (PersistenceTimeout < 0 || PersistenceTimeout > ConnectionTracking.ConnectionTimeouts.MaxSeconds)
        {
            throw new ArgumentException($"The persistence timeout {PersistenceTimeout} is outside 0-{ConnectionTracking.ConnectionTimeouts.MaxSeconds} seconds.");
        }

        int maxPrefix = Key.IsIPv6 ? 128 : 32;
        if (PersistencePrefixLength is { } prefix && (prefix < 0 || prefix > maxPrefix))
        {
            throw new ArgumentException($"The persistence prefix length {prefix} is outside 0-{maxPrefix}.");
        }

        if (OnePacket && Key.Protocol != L4Protocol.Udp && !Key.IsFirewallMark)
        {
            // The kernel: "one-packet scheduling is only for UDP" (ip_vs_ctl.c refuses IP_VS_SVC_F_ONEPACKET otherwise).
            throw new ArgumentException("One-packet scheduling (-o) is only for UDP services.");
        }

        if (!Key.IsFirewallMark && Key.Endpoint.Port == 0 && !IsPersistent)
        {
            // ipvsadm: "Zero port specified for non-persistent service".
            throw new ArgumentException("A service on port 0 (all ports) must be persistent (-p).");
        }
    }
}
