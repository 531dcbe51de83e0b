namespace Lvs.Core.Headers;

/// <summary>
/// What an SCTP packet means to IPVS's SCTP state machine: the kernel's <c>ipvs_sctp_event_t</c>
/// (net/netfilter/ipvs/ip_vs_proto_sctp.c), chosen from the packet's first chunk as <c>set_sctp_state</c> does, plus
/// <see cref="None"/> for a packet without a chunk. <see cref="FrameParser"/> records it in
/// <see cref="ParsedFrame.SctpEvent"/>.
/// </summary>
/// <remarks>
/// The values are the kernel's event numbers plus one, so that 0 means "no chunk"; they are stored in the byte
/// <see cref="ParsedFrame.TcpFlags"/> holds for TCP (see <see cref="ParsedFrame.SctpEvent"/>).
/// </remarks>
public enum SctpChunkEvent : byte
{
    /// <summary>The packet carries no chunk header (the kernel leaves the state and timer as they are, and schedules nothing).</summary>
    None = 0,

    /// <summary>DATA, SACK, HEARTBEAT, HEARTBEAT ACK, ECNE, CWR, and any chunk type the kernel's table does not name (<c>IP_VS_SCTP_DATA</c>).</summary>
    Data = 1,

    /// <summary>INIT (<c>IP_VS_SCTP_INIT</c>): the only chunk that schedules a new association without sloppy_sctp.</summary>
    Init = 2,

    /// <summary>INIT ACK.</summary>
    InitAck = 3,

    /// <summary>COOKIE ECHO (not followed by an ABORT).</summary>
    CookieEcho = 4,

    /// <summary>COOKIE ACK (not followed by an ABORT).</summary>
    CookieAck = 5,

    /// <summary>SHUTDOWN.</summary>
    Shutdown = 6,

    /// <summary>SHUTDOWN ACK.</summary>
    ShutdownAck = 7,

    /// <summary>SHUTDOWN COMPLETE.</summary>
    ShutdownComplete = 8,

    /// <summary>ERROR (operation error).</summary>
    Error = 9,

    /// <summary>ABORT as the first chunk: it never schedules a connection, even with sloppy_sctp.</summary>
    Abort = 10,

    /// <summary>
    /// A COOKIE ECHO or COOKIE ACK followed by an ABORT chunk: the state machine takes it as an ABORT (the kernel's
    /// special case in <c>set_sctp_state</c>), while scheduling sees its first chunk, which is not an ABORT.
    /// </summary>
    AbortAfterCookie = 11,
}
