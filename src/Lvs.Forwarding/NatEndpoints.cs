using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>The four endpoints of a NAT or FULLNAT connection, as <see cref="IcmpErrorTranslator"/> needs them (the kernel's ip_vs_conn caddr/vaddr/laddr/daddr).</summary>
/// <param name="Client">The client's address and port.</param>
/// <param name="VirtualService">The virtual service the client addressed.</param>
/// <param name="Local">The director's local address and port towards the real server (FULLNAT); equal to <paramref name="Client"/> for NAT.</param>
/// <param name="RealServer">The real server's address and port.</param>
public readonly record struct NatEndpoints(InetEndpoint Client, InetEndpoint VirtualService, InetEndpoint Local, InetEndpoint RealServer)
{
    /// <summary>The endpoints of a NAT connection: the real server sees the client itself.</summary>
    /// <param name="client">The client.</param>
    /// <param name="virtualService">The virtual service.</param>
    /// <param name="realServer">The real server.</param>
    /// <returns>The endpoints, with <see cref="Local"/> equal to <paramref name="client"/>.</returns>
    public static NatEndpoints ForNat(InetEndpoint client, InetEndpoint virtualService, InetEndpoint realServer) => new(client, virtualService, client, realServer);

    /// <summary>True for FULLNAT (the real server sees a local address instead of the client).</summary>
    public bool IsFullNat => Local != Client;
}
