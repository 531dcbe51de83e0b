using Lvs.Core.Headers;

namespace Lvs.ConnectionTracking;

/// <summary>
/// The kernel's SCTP transition table and state properties (net/netfilter/ipvs/ip_vs_proto_sctp.c:
/// <c>sctp_states[direction][event][state]</c>, <c>sctp_state_name_table[]</c>, and <c>set_sctp_state</c>'s rule that
/// only ESTABLISHED counts active).
/// </summary>
/// <remarks>
/// The sections are the TCP table's (<see cref="TcpStateTable"/>, the kernel's <c>IP_VS_DIR_INPUT</c>,
/// <c>IP_VS_DIR_OUTPUT</c> and <c>IP_VS_DIR_INPUT_ONLY</c>), chosen by <see cref="TcpStateMachine.TableFor"/>; the
/// event is the packet's <see cref="SctpChunkEvent"/> as <see cref="Lvs.Core.FrameParser"/> records it.
/// </remarks>
public static class SctpStateMachine
{
    private const byte NO = (byte)SctpConnectionState.None;
    private const byte I1 = (byte)SctpConnectionState.Init1;
    private const byte IN = (byte)SctpConnectionState.Init;
    private const byte CS = (byte)SctpConnectionState.CookieSent;
    private const byte CR = (byte)SctpConnectionState.CookieReplied;
    private const byte CW = (byte)SctpConnectionState.CookieWait;
    private const byte CO = (byte)SctpConnectionState.Cookie;
    private const byte CE = (byte)SctpConnectionState.CookieEchoed;
    private const byte ES = (byte)SctpConnectionState.Established;
    private const byte SS = (byte)SctpConnectionState.ShutdownSent;
    private const byte SR = (byte)SctpConnectionState.ShutdownReceived;
    private const byte SA = (byte)SctpConnectionState.ShutdownAckSent;
    private const byte RJ = (byte)SctpConnectionState.Rejected;
    private const byte CL = (byte)SctpConnectionState.Closed;

    /// <summary>The number of SCTP states (the kernel's <c>IP_VS_SCTP_S_LAST</c>).</summary>
    public const int StateCount = 14;

    private const int EventCount = 10;

    // [section * 10 + event][current state]; events in the kernel's order: data, init, init_ack, cookie_echo,
    // cookie_ack, shutdown, shutdown_ack, shutdown_complete, error, abort.
    // Columns:        NO, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL
    private static ReadOnlySpan<byte> Transitions =>
    [
        // INPUT
        ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL, // d
        I1, IN, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, IN, IN, // i
        CW, CW, CW, CS, CR, CO, CO, CE, ES, SS, SR, SA, RJ, CL, // i_a
        CR, IN, IN, CR, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL, // c_e
        ES, I1, IN, CS, CR, CW, CO, ES, ES, SS, SR, SA, RJ, CL, // c_a
        SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL, // s
        CL, IN, IN, CS, CR, CW, CO, CE, ES, CL, SR, CL, RJ, CL, // s_a
        CL, CL, CL, CS, CR, CW, CO, CE, ES, SS, SR, CL, RJ, CL, // s_c
        CL, I1, IN, CS, CR, CW, CO, CL, ES, SS, SR, SA, RJ, CL, // err
        CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, // ab

        // OUTPUT
        ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL, // d
        CW, CW, CW, CW, CW, CW, CW, CW, ES, CW, CW, CW, CW, CW, // i
        CS, CS, CS, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL, // i_a
        CE, CE, CE, CE, CE, CE, CE, CE, ES, SS, SR, SA, RJ, CL, // c_e
        ES, ES, ES, ES, ES, ES, ES, ES, ES, SS, SR, SA, RJ, CL, // c_a
        SS, SS, SS, SS, SS, SS, SS, SS, SS, SS, SR, SA, RJ, CL, // s
        SA, SA, SA, SA, SA, CW, CO, CE, ES, SA, SA, SA, RJ, CL, // s_a
        CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL, // s_c
        CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, SR, SA, RJ, CL, // err
        CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, // ab

        // INPUT-ONLY
        ES, I1, IN, CS, CR, ES, CO, CE, ES, SS, SR, SA, RJ, CL, // d
        I1, IN, IN, IN, IN, IN, CO, CE, ES, SS, SR, SA, IN, IN, // i
        CE, CE, CE, CE, CE, CE, CO, CE, ES, SS, SR, SA, RJ, CL, // i_a
        ES, ES, ES, ES, ES, ES, CO, CE, ES, SS, SR, SA, RJ, CL, // c_e
        ES, I1, IN, ES, ES, CW, ES, ES, ES, SS, SR, SA, RJ, CL, // c_a
        SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL, // s
        CL, IN, IN, CS, CR, CW, CO, CE, CL, CL, SR, CL, RJ, CL, // s_a
        CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, CL, CL, RJ, CL, // s_c
        CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL, // err
        CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, // ab
    ];

    private static readonly string[] Names =
    [
        "NONE", "INIT1", "INIT", "C-SENT", "C-REPLIED", "C-WAIT", "COOKIE", "C-ECHOED", "ESTABLISHED", "S-SENT",
        "S-RECEIVED", "S-ACK-SENT", "REJECTED", "CLOSED",
    ];

    /// <summary>
    /// The state after a packet with <paramref name="event"/> in the given table section
    /// (<c>sctp_states[direction][event][state]</c>). A packet without a chunk (<see cref="SctpChunkEvent.None"/>)
    /// leaves the state as it is, as the kernel's <c>set_sctp_state</c> returns early then; an ABORT after a cookie
    /// chunk is an ABORT.
    /// </summary>
    /// <param name="state">The current state.</param>
    /// <param name="table">The table section (see <see cref="TcpStateMachine.TableFor"/>).</param>
    /// <param name="event">The packet's event.</param>
    /// <returns>The next state; CLOSED for a state or section out of range.</returns>
    public static SctpConnectionState Next(SctpConnectionState state, TcpStateTable table, SctpChunkEvent @event)
    {
        uint s = (uint)state;
        if (s >= StateCount || (uint)table > (uint)TcpStateTable.InputOnly)
        {
            return SctpConnectionState.Closed;
        }

        if (@event == SctpChunkEvent.None)
        {
            return state;
        }

        // Events are the kernel's plus one; AbortAfterCookie (and anything beyond) is the kernel's ABORT.
        int e = @event >= SctpChunkEvent.Abort ? EventCount - 1 : (int)@event - 1;
        return (SctpConnectionState)Transitions[((((int)table * EventCount) + e) * StateCount) + (int)s];
    }

    /// <summary>True when connections in this state count as active for the schedulers: ESTABLISHED only (the kernel's <c>set_sctp_state</c>).</summary>
    /// <param name="state">The state.</param>
    /// <returns>True when active.</returns>
    public static bool IsActive(SctpConnectionState state) => state == SctpConnectionState.Established;

    /// <summary>The state's name as ipvsadm prints it (<c>INIT1</c>, <c>C-ECHOED</c>, <c>ESTABLISHED</c>, ...).</summary>
    /// <param name="state">The state.</param>
    /// <returns>The name, or <c>ERR!</c> for a value out of range (as the kernel).</returns>
    public static string Name(SctpConnectionState state) => (uint)state < StateCount ? Names[(int)state] : "ERR!";
}
