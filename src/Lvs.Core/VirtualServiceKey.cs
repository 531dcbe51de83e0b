namespace Lvs.Core;

/// <summary>
/// The identity of a virtual service: protocol + VIP + port (ipvsadm <c>-t</c>/<c>-u</c>), or a firewall mark
/// (ipvsadm <c>-f</c>) with its address family.
/// </summary>
public readonly record struct VirtualServiceKey
{
    private VirtualServiceKey(L4Protocol protocol, InetEndpoint endpoint, uint firewallMark, bool isIPv6)
    {
        Protocol = protocol;
        Endpoint = endpoint;
        FirewallMark = firewallMark;
        IsIPv6 = isIPv6;
    }

    /// <summary>The protocol of an address service; <see cref="L4Protocol.None"/> for a firewall-mark service.</summary>
    public L4Protocol Protocol { get; }

    /// <summary>The VIP and port of an address service (port 0 accepts every port, as ipvsadm's port-0 services).</summary>
    public InetEndpoint Endpoint { get; }

    /// <summary>The firewall mark of a mark service; 0 for an address service.</summary>
    public uint FirewallMark { get; }

    /// <summary>True for an IPv6 service (ipvsadm <c>-6</c> for firewall-mark services).</summary>
    public bool IsIPv6 { get; }

    /// <summary>True when the service is identified by a firewall mark.</summary>
    public bool IsFirewallMark => FirewallMark != 0;

    /// <summary>An address service: <c>-t VIP:PORT</c> or <c>-u VIP:PORT</c>.</summary>
    /// <param name="protocol">TCP, UDP or SCTP.</param>
    /// <param name="endpoint">The virtual address and port.</param>
    /// <returns>The service key.</returns>
    /// <exception cref="ArgumentException">The protocol is not TCP, UDP or SCTP.</exception>
    public static VirtualServiceKey ForAddress(L4Protocol protocol, InetEndpoint endpoint)
    {
        if (protocol is not (L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.Sctp))
        {
            throw new ArgumentException($"A virtual service is TCP, UDP or SCTP, not {protocol}.", nameof(protocol));
        }

        return new VirtualServiceKey(protocol, endpoint, 0, endpoint.Address.IsIPv6);
    }

    /// <summary>A firewall-mark service: <c>-f MARK</c> (with <c>-6</c> for IPv6).</summary>
    /// <param name="mark">The mark, not 0.</param>
    /// <param name="isIPv6">True for IPv6.</param>
    /// <returns>The service key.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The mark is 0.</exception>
    public static VirtualServiceKey ForFirewallMark(uint mark, bool isIPv6 = false)
    {
        ArgumentOutOfRangeException.ThrowIfZero(mark);
        return new VirtualServiceKey(L4Protocol.None, default, mark, isIPv6);
    }

    /// <summary>Formats as ipvsadm lists the service: <c>TCP 10.0.0.1:80</c> or <c>FWM 1</c>.</summary>
    /// <returns>The text form.</returns>
    public override string ToString() =>
        IsFirewallMark ? $"FWM {FirewallMark}{(IsIPv6 ? " IPv6" : string.Empty)}" : $"{Protocol.ToString().ToUpperInvariant()} {Endpoint}";
}
