namespace Lvs.ConnectionTracking;

/// <summary>
/// The SCTP states of an IPVS connection, in the kernel's order (<c>IP_VS_SCTP_S_*</c> in include/uapi/linux/ip_vs.h,
/// names and default timeouts from <c>sctp_state_name_table[]</c> and <c>sctp_timeouts[]</c> in
/// net/netfilter/ipvs/ip_vs_proto_sctp.c). They are the association as the real server sees it, driven by the chunks
/// the director forwards (see <see cref="SctpStateMachine"/>).
/// </summary>
public enum SctpConnectionState : byte
{
    /// <summary>NONE: created, no chunk processed yet (2 s).</summary>
    None = 0,

    /// <summary>INIT1: the client's first INIT, waiting for the server's INIT ACK (4 s, short for dropped INITs).</summary>
    Init1 = 1,

    /// <summary>INIT: a further client INIT, waiting for the server's INIT ACK (61 s).</summary>
    Init = 2,

    /// <summary>C-SENT (COOKIE_SENT): the server sent INIT ACK, waiting for the client's COOKIE ECHO (61 s).</summary>
    CookieSent = 3,

    /// <summary>C-REPLIED (COOKIE_REPLIED): the client sent COOKIE ECHO, waiting for the server's COOKIE ACK (61 s).</summary>
    CookieReplied = 4,

    /// <summary>C-WAIT (COOKIE_WAIT): the server sent INIT, waiting for the client's INIT ACK (61 s).</summary>
    CookieWait = 5,

    /// <summary>COOKIE: the client sent INIT ACK, waiting for the server's COOKIE ECHO (61 s).</summary>
    Cookie = 6,

    /// <summary>C-ECHOED (COOKIE_ECHOED): the server sent COOKIE ECHO, waiting for the client's COOKIE ACK (61 s).</summary>
    CookieEchoed = 7,

    /// <summary>ESTABLISHED (900 s); the only state counted active.</summary>
    Established = 8,

    /// <summary>S-SENT (SHUTDOWN_SENT): the server sent SHUTDOWN (61 s).</summary>
    ShutdownSent = 9,

    /// <summary>S-RECEIVED (SHUTDOWN_RECEIVED): the client sent SHUTDOWN (61 s).</summary>
    ShutdownReceived = 10,

    /// <summary>S-ACK-SENT (SHUTDOWN_ACK_SENT): the server sent SHUTDOWN ACK (61 s).</summary>
    ShutdownAckSent = 11,

    /// <summary>REJECTED: the INIT was answered with ABORT (4 s).</summary>
    Rejected = 12,

    /// <summary>CLOSED: shut down or aborted (61 s); a client INIT on it is scheduled afresh with conn_reuse_mode.</summary>
    Closed = 13,
}
