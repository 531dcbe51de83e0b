using Lvs.Core;

namespace Lvs.Director;

/// <summary>
/// A real server as configured in a virtual service (ipvsadm <c>-a</c>/<c>-e</c>, keepalived <c>real_server</c>):
/// the kernel's <c>ip_vs_dest_user</c>. Its <see cref="Weight"/> is the configured weight, the one a health check
/// puts back; the live weight is the table's <see cref="RealServer.Weight"/>.
/// </summary>
/// <param name="Endpoint">The server's address and port (port 0: the packet's destination port, for port-0 and firewall-mark services).</param>
public sealed record RealServerOptions(InetEndpoint Endpoint)
{
    /// <summary>The configured weight (<c>-w</c>, 0-65535; ipvsadm's default is 1). 0 takes no new connections.</summary>
    public int Weight { get; init; } = 1;

    /// <summary>The forwarding method (<c>-g</c> direct routing, ipvsadm's default; <c>-m</c> NAT; <c>-i</c> tunnel; FULLNAT).</summary>
    public ForwardingMethod Method { get; init; } = ForwardingMethod.DirectRouting;

    /// <summary>The tunnel encapsulation (<c>--tun-type</c>) when <see cref="Method"/> is the tunnel.</summary>
    public TunnelType TunnelType { get; init; } = TunnelType.IpIp;

    /// <summary>The destination UDP port of GUE (<c>--tun-port</c>).</summary>
    public ushort TunnelPort { get; init; }

    /// <summary>Tunnel checksum options (<c>--tun-nocsum</c>, <c>--tun-csum</c>, <c>--tun-remcsum</c>).</summary>
    public TunnelFlags TunnelFlags { get; init; }

    /// <summary>The upper connection threshold (<c>-x</c>); 0: none.</summary>
    public int UpperThreshold { get; init; }

    /// <summary>The lower connection threshold (<c>-y</c>); 0: none.</summary>
    public int LowerThreshold { get; init; }

    /// <summary>Throws when the options cannot make a real server.</summary>
    /// <param name="service">The service the server belongs to.</param>
    /// <exception cref="ArgumentException">A value is out of range or does not fit the service.</exception>
    public void Validate(VirtualServiceKey service)
    {
        if (Weight < 0 || Weight > RealServer.MaxWeight)
        {
            throw new ArgumentException($"The weight {Weight} is outside 0-{RealServer.MaxWeight}.");
        }

        if (UpperThreshold < 0 || LowerThreshold < 0)
        {
            throw new ArgumentException("Connection thresholds cannot be negative.");
        }

        if (UpperThreshold > 0 && LowerThreshold > UpperThreshold)
        {
            // ipvsadm: "lower threshold is higher than upper threshold".
            throw new ArgumentException($"The lower threshold {LowerThreshold} is above the upper threshold {UpperThreshold}.");
        }

        if (!service.IsFirewallMark && Endpoint.Address.IsIPv6 != service.IsIPv6)
        {
            // Mixed families need the tunnel (the kernel allows an IPv6 real server behind an IPv4 service only with -i).
            if (Method != ForwardingMethod.Tunnel)
            {
                throw new ArgumentException($"The real server {Endpoint} is not in the service's address family (only tunnelling can cross families).");
            }
        }

        if (Method == ForwardingMethod.Tunnel && TunnelType == TunnelType.Gue && TunnelPort == 0)
        {
            throw new ArgumentException("A GUE tunnel needs a port (--tun-port).");
        }

        if ((Method is ForwardingMethod.DirectRouting or ForwardingMethod.Tunnel) && Endpoint.Port != 0
            && !service.IsFirewallMark && Endpoint.Port != service.Endpoint.Port)
        {
            // ipvsadm -g/-i cannot change the port: the packet is not rewritten (the kernel sets rport = vport).
            throw new ArgumentException($"Direct routing and tunnelling cannot change the port ({Endpoint.Port} is not the service's {service.Endpoint.Port}).");
        }
    }
}
