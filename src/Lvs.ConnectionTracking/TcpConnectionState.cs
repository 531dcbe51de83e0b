namespace Lvs.ConnectionTracking;

/// <summary>
/// The TCP states of an IPVS connection, in the kernel's order (<c>IP_VS_TCP_S_*</c> in
/// include/uapi/linux/ip_vs.h, names from net/netfilter/ipvs/ip_vs_proto_tcp.c). These are the director's view of
/// the connection, driven by the flags of the segments it sees, not a full TCP state machine.
/// </summary>
public enum TcpConnectionState : byte
{
    /// <summary>NONE: created, no segment processed yet (2 s).</summary>
    None = 0,

    /// <summary>ESTABLISHED (900 s, ipvsadm <c>--set tcp</c>).</summary>
    Established = 1,

    /// <summary>SYN_SENT: the real server sent a SYN (120 s).</summary>
    SynSent = 2,

    /// <summary>SYN_RECV: the client sent a SYN (60 s).</summary>
    SynRecv = 3,

    /// <summary>FIN_WAIT (120 s, ipvsadm <c>--set tcpfin</c>).</summary>
    FinWait = 4,

    /// <summary>TIME_WAIT (120 s).</summary>
    TimeWait = 5,

    /// <summary>CLOSE: reset or closed (10 s).</summary>
    Close = 6,

    /// <summary>CLOSE_WAIT (60 s).</summary>
    CloseWait = 7,

    /// <summary>LAST_ACK (30 s).</summary>
    LastAck = 8,

    /// <summary>LISTEN (120 s).</summary>
    Listen = 9,

    /// <summary>SYNACK (120 s).</summary>
    SynAck = 10,
}
