using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <summary>A connection or template that has left a <see cref="ConnectionTable"/> (see <see cref="IConnectionEndObserver"/>).</summary>
/// <param name="Handle">The entry's handle, no longer valid (it can be matched against handles the director kept).</param>
/// <param name="Protocol">The protocol (<see cref="L4Protocol.None"/> for a firewall-mark template).</param>
/// <param name="Client">The client's address and port (a template: the client network and port 0).</param>
/// <param name="Virtual">The virtual address and port.</param>
/// <param name="Destination">The real server's address and port.</param>
/// <param name="Local">The director's local endpoint in full NAT; default otherwise.</param>
/// <param name="RealServer">The real server's registry index.</param>
/// <param name="Method">The forwarding method.</param>
/// <param name="IsTemplate">True for a persistence template.</param>
/// <param name="Template">The template that controlled the connection, or <see cref="ConnectionHandle.None"/>.</param>
/// <param name="State">The protocol state it ended in (for TCP a <see cref="TcpConnectionState"/> value).</param>
/// <param name="Reason">Why it ended.</param>
public readonly record struct ConnectionEnd(
    ConnectionHandle Handle,
    L4Protocol Protocol,
    InetEndpoint Client,
    InetEndpoint Virtual,
    InetEndpoint Destination,
    InetEndpoint Local,
    int RealServer,
    ForwardingMethod Method,
    bool IsTemplate,
    ConnectionHandle Template,
    byte State,
    ConnectionEndReason Reason)
{
    /// <summary>The TCP state it ended in, for a TCP connection.</summary>
    public TcpConnectionState TcpState => (TcpConnectionState)State;
}
