namespace Lvs.ConnectionTracking;

/// <summary>
/// The three sections of the kernel's TCP transition table (<c>tcp_states[]</c> in ip_vs_proto_tcp.c): which one
/// applies depends on the packet's direction and on whether replies pass through the director.
/// </summary>
public enum TcpStateTable : byte
{
    /// <summary>INPUT: a client packet of a connection whose replies the director also sees (NAT, full NAT).</summary>
    Input = 0,

    /// <summary>OUTPUT: a reply from the real server.</summary>
    Output = 1,

    /// <summary>
    /// INPUT-ONLY: a client packet of a connection whose replies bypass the director (direct routing and tunnelling,
    /// the kernel's <c>IP_VS_CONN_F_NOOUTPUT</c>), so the director must guess the server's side from the client's.
    /// </summary>
    InputOnly = 2,
}
