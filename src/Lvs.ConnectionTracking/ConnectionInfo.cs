using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <summary>A snapshot of one connection or template, as <c>ipvsadm -L -n -c</c> lists it.</summary>
/// <param name="Protocol">The protocol (<see cref="L4Protocol.None"/> for a firewall-mark template).</param>
/// <param name="Client">The client's address and port (a template: the client network and port 0).</param>
/// <param name="Virtual">The virtual address and port (a firewall-mark template: the mark as an address, port 0).</param>
/// <param name="Destination">The real server's address and port.</param>
/// <param name="Local">The director's local endpoint in full NAT; default otherwise.</param>
/// <param name="RealServer">The real server's registry index.</param>
/// <param name="Method">The forwarding method.</param>
/// <param name="IsTemplate">True for a persistence template.</param>
/// <param name="State">The protocol state (for TCP a <see cref="TcpConnectionState"/> value, for SCTP a <see cref="SctpConnectionState"/> value; for a template 1 when ASSURED; 0 otherwise).</param>
/// <param name="StateName">The state as ipvsadm prints it: a TCP or SCTP state name, <c>UDP</c>, <c>ICMP</c>, or for templates <c>NONE</c> or <c>ASSURED</c>.</param>
/// <param name="Expires">The time left before the connection expires, in whole seconds.</param>
/// <param name="IsActive">True when the connection counts as active on its real server.</param>
public readonly record struct ConnectionInfo(
    L4Protocol Protocol,
    InetEndpoint Client,
    InetEndpoint Virtual,
    InetEndpoint Destination,
    InetEndpoint Local,
    int RealServer,
    ForwardingMethod Method,
    bool IsTemplate,
    byte State,
    string StateName,
    TimeSpan Expires,
    bool IsActive)
{
    /// <summary>The TCP state, for a TCP connection.</summary>
    public TcpConnectionState TcpState => (TcpConnectionState)State;

    /// <summary>The SCTP state, for an SCTP connection.</summary>
    public SctpConnectionState SctpState => (SctpConnectionState)State;

    /// <summary>The protocol as ipvsadm prints it: TCP, UDP, SCTP, ICMP, or IP for a firewall-mark template.</summary>
    public string ProtocolName => Protocol switch
    {
        L4Protocol.Tcp => "TCP",
        L4Protocol.Udp => "UDP",
        L4Protocol.Icmp => "ICMP",
        L4Protocol.IcmpV6 => "ICMPv6",
        L4Protocol.Sctp => "SCTP",
        _ => "IP",
    };
}
