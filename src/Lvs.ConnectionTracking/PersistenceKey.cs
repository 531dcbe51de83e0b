using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <summary>
/// The key of a persistence template (the kernel's template <c>ip_vs_conn_param</c> built by <c>ip_vs_sched_persist</c>
/// in ip_vs_core.c): the client's network, and the virtual address and port the persistence covers.
/// </summary>
/// <param name="Protocol">The packet's protocol, or <see cref="L4Protocol.None"/> for a firewall-mark template that covers every protocol.</param>
/// <param name="ClientNetwork">The client address masked by the service's persistence netmask (ipvsadm <c>-M</c>).</param>
/// <param name="Virtual">The VIP, or for a firewall-mark template the mark written as an address.</param>
/// <param name="VirtualPort">The service port; 0 when the template covers every port (port-0 and firewall-mark services).</param>
public readonly record struct PersistenceKey(L4Protocol Protocol, InetAddress ClientNetwork, InetAddress Virtual, ushort VirtualPort)
{
    /// <summary>The FTP control port: a persistent service on it gets templates for every port (the kernel's <c>FTPPORT</c>).</summary>
    private const ushort FtpPort = 21;

    /// <summary>
    /// The template key for a new connection's first packet, by the kernel's rules (<c>ip_vs_sched_persist</c>): a
    /// packet to the service's own port is covered per port, except on port 21 (FTP), whose templates have port 0 so
    /// that they also cover the data connections; a firewall-mark service's template covers all protocols and ports of the mark
    /// (protocol IP, port 0); a port-0 service's template covers every port of the VIP.
    /// </summary>
    /// <param name="service">The persistent virtual service.</param>
    /// <param name="packet">The first packet's flow (client to VIP).</param>
    /// <param name="prefixLength">The persistence granularity as a prefix length (32 or 128 for per-client persistence).</param>
    /// <returns>The template key.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The prefix length does not fit the address family.</exception>
    public static PersistenceKey Create(VirtualServiceKey service, in FlowKey packet, int prefixLength)
    {
        InetAddress network = packet.SourceAddress.Mask(prefixLength);
        ushort servicePort = service.IsFirewallMark ? (ushort)0 : service.Endpoint.Port;
        if (packet.DestinationPort == servicePort)
        {
            // An FTP service's templates cover every port (the data connections' too): <caddr, 0, vaddr, 0>.
            return new PersistenceKey(packet.Protocol, network, packet.DestinationAddress, servicePort == FtpPort ? (ushort)0 : packet.DestinationPort);
        }

        if (service.IsFirewallMark)
        {
            // The kernel's union nf_inet_addr fwmark = { .ip = htonl(mark) }: the mark in the first four bytes, so an
            // IPv6 template lists as [0:7::] for mark 7 (IPv4: 0.0.0.7).
            InetAddress mark = packet.IsIPv4 ? InetAddress.FromIPv4(service.FirewallMark) : new InetAddress((ulong)service.FirewallMark << 32, 0);
            return new PersistenceKey(L4Protocol.None, network, mark, 0);
        }

        return new PersistenceKey(packet.Protocol, network, packet.DestinationAddress, 0);
    }

    /// <summary>The template key with an ipvsadm-style netmask (<c>-M 255.255.255.0</c>).</summary>
    /// <param name="service">The persistent virtual service.</param>
    /// <param name="packet">The first packet's flow (client to VIP).</param>
    /// <param name="netmask">The persistence netmask, of the packet's address family.</param>
    /// <returns>The template key.</returns>
    public static PersistenceKey Create(VirtualServiceKey service, in FlowKey packet, InetAddress netmask)
    {
        var key = Create(service, packet, packet.IsIPv4 ? 32 : 128);
        return key with { ClientNetwork = packet.SourceAddress.Mask(netmask) };
    }
}
