using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.ConnectionTracking;

/// <summary>What the director knows about a connection when it creates one (the kernel's <c>ip_vs_conn_new</c> arguments).</summary>
/// <param name="Inbound">The first packet's flow: client to virtual address and port.</param>
/// <param name="RealServer">The chosen server's index in the table's <see cref="RealServerRegistry"/>.</param>
/// <param name="Destination">Where packets go: the server's address, and its port (or the virtual port when the server's is 0).</param>
/// <param name="Method">The forwarding method, which decides the outbound key and the TCP table section.</param>
public readonly record struct NewConnection(FlowKey Inbound, int RealServer, InetEndpoint Destination, ForwardingMethod Method)
{
    /// <summary>The director's local address and port that replace the client's in full NAT; ignored otherwise.</summary>
    public InetEndpoint Local { get; init; }

    /// <summary>The persistence template that chose the server, if any: it lives at least as long as this connection.</summary>
    public ConnectionHandle Template { get; init; }

    /// <summary>
    /// A connection that controls this one, as the kernel's FTP helper ties a data connection to its control
    /// connection (<c>ip_vs_control_add</c>): the controlling connection is not removed while this one lives (at its
    /// expiry it is put off by 60 s at a time, the kernel's <c>expire_later</c>; removals of it fail). It must be live,
    /// in the same table and address family, and not a template; a connection has one controller, so this and
    /// <see cref="Template"/> are not both set (the add is then <see cref="AddConnectionResult.Invalid"/>).
    /// </summary>
    public ConnectionHandle Control { get; init; }

    /// <summary>
    /// The TCP flags of the first packet (for SCTP its <see cref="SctpChunkEvent"/> in the same byte, as
    /// <see cref="Lvs.Core.ParsedFrame.TcpFlags"/> holds it; any value, e.g. <see cref="TcpFlags.None"/>, for UDP and
    /// ICMP). When set, the add processes that packet as <see cref="ConnectionTable.Update"/> would, as the kernel does
    /// right after <c>ip_vs_conn_new</c>: a TCP connection starts in the state the packet leads to (SYN_RECV for a
    /// client SYN; an SCTP association in INIT1 for a client INIT),
    /// active or inactive on its server accordingly, with that state's timeout; UDP and ICMP start with their timeout.
    /// If the add finds the connection already there (<see cref="AddConnectionResult.Exists"/>), the packet is
    /// processed on that one instead, so each packet is processed once. When null, the connection starts in NONE
    /// (inactive, with the kernel's 3-second initial timeout) until <see cref="ConnectionTable.Update"/> processes its
    /// first packet.
    /// </summary>
    public TcpFlags? FirstPacket { get; init; }

    /// <summary>
    /// A TCP connection that is expected rather than seen (an application helper's, such as the FTP helper's data
    /// connection): it starts in LISTEN, inactive, with LISTEN's timeout (the kernel's <c>ip_vs_tcp_conn_listen</c>),
    /// and its first packet, either way, moves it on (a client SYN to SYN_RECV; a server's ACK after its SYN to
    /// ESTABLISHED). Ignored when <see cref="FirstPacket"/> is set or the protocol is not TCP.
    /// </summary>
    public bool Listening { get; init; }
}
