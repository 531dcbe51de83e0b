using Lvs.Core;

namespace Lvs.Director.Simulation;

/// <summary>A new flow to put through the director: a client's first packet (a TCP SYN, a UDP datagram or an SCTP INIT) to a service.</summary>
/// <param name="Protocol">TCP, UDP or SCTP.</param>
/// <param name="Client">The client's address and port.</param>
/// <param name="Destination">The virtual address and port it is sent to.</param>
public sealed record SimulatedFlow(L4Protocol Protocol, InetEndpoint Client, InetEndpoint Destination)
{
    /// <summary>The flow as a flows file line: <c>tcp|udp|sctp CLIENT_IP:PORT VIP:PORT</c> (IPv6 in brackets).</summary>
    /// <returns>The line.</returns>
    public override string ToString() => $"{Protocol switch { L4Protocol.Udp => "udp", L4Protocol.Sctp => "sctp", _ => "tcp" }} {Client} {Destination}";
}
