using System.Runtime.CompilerServices;
using Lvs.Core.Headers;
namespace Lvs.ConnectionTracking;

/// <summary>
/// The kernel's TCP transition tables and state properties (net/netfilter/ipvs/ip_vs_proto_tcp.c:
/// <c>tcp_states[]</c>, <c>tcp_state_active_table[]</c>, <c>tcp_state_name_table[]</c>, <c>tcp_state_idx()</c>).
/// </summary>
/// <remarks>
/// The facts (table contents, flag precedence, the fallback to CLOSE for a segment with none of SYN, FIN, ACK, RST)
/// follow the kernel, including its <c>tcp_states_dos</c> variant, used while the secure_tcp defence is on
/// (<see cref="ConnectionTableOptions.SecureTcp"/>).
/// </remarks>
public static class TcpStateMachine
{
    private const byte NO = (byte)TcpConnectionState.None;
    private const byte ES = (byte)TcpConnectionState.Established;
    private const byte SS = (byte)TcpConnectionState.SynSent;
    private const byte SR = (byte)TcpConnectionState.SynRecv;
    private const byte FW = (byte)TcpConnectionState.FinWait;
    private const byte TW = (byte)TcpConnectionState.TimeWait;
    private const byte CL = (byte)TcpConnectionState.Close;
    private const byte CW = (byte)TcpConnectionState.CloseWait;
    private const byte LA = (byte)TcpConnectionState.LastAck;
    private const byte LI = (byte)TcpConnectionState.Listen;
    private const byte SA = (byte)TcpConnectionState.SynAck;

    /// <summary>The number of TCP states (the kernel's <c>IP_VS_TCP_S_LAST</c>).</summary>
    public const int StateCount = 11;

    // [section * 4 + event][current state]; events in the kernel's order: syn, fin, ack, rst.
    // Columns:        NO, ES, SS, SR, FW, TW, CL, CW, LA, LI, SA
    private static ReadOnlySpan<byte> Transitions =>
    [
        // INPUT
        SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR, // syn
        CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW, // fin
        ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES, // ack
        CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR, // rst

        // OUTPUT
        SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR, // syn
        TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW, // fin
        ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES, // ack
        CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL, // rst

        // INPUT-ONLY
        SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR, // syn
        CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW, // fin
        ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES, // ack
        CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL, // rst
    ];

    // The kernel's tcp_states_dos (secure_tcp): a client's ACK alone no longer establishes a connection that the
    // server has not answered, so a flood of SYNs and ACKs holds entries in the short SYN states.
    // Columns:           NO, ES, SS, SR, FW, TW, CL, CW, LA, LI, SA
    private static ReadOnlySpan<byte> SecureTransitions =>
    [
        // INPUT
        SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA, // syn
        CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA, // fin
        ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA, // ack
        CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL, // rst

        // OUTPUT
        SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA, // syn
        TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW, // fin
        ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES, // ack
        CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL, // rst

        // INPUT-ONLY
        SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA, // syn
        CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW, // fin
        ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES, // ack
        CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL, // rst
    ];

    private static readonly string[] Names =
    [
        "NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK",
    ];

    /// <summary>
    /// The state after a segment with <paramref name="flags"/> in the given table section. RST takes precedence over
    /// SYN, SYN over FIN, FIN over ACK; a segment with none of them moves the connection to CLOSE, as in the kernel.
    /// </summary>
    /// <param name="state">The current state.</param>
    /// <param name="table">The table section (see <see cref="TableFor"/>).</param>
    /// <param name="flags">The segment's flags.</param>
    /// <returns>The next state.</returns>
    public static TcpConnectionState Next(TcpConnectionState state, TcpStateTable table, TcpFlags flags) => Next(state, table, flags, secureTcp: false);

    /// <summary>
    /// The state after a segment, in the kernel's normal tables or, with <paramref name="secureTcp"/>, in its
    /// <c>tcp_states_dos</c> tables (the secure_tcp defence); otherwise as <see cref="Next(TcpConnectionState, TcpStateTable, TcpFlags)"/>.
    /// </summary>
    /// <param name="state">The current state.</param>
    /// <param name="table">The table section (see <see cref="TableFor"/>).</param>
    /// <param name="flags">The segment's flags.</param>
    /// <param name="secureTcp">True while the secure_tcp defence is on.</param>
    /// <returns>The next state.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TcpConnectionState Next(TcpConnectionState state, TcpStateTable table, TcpFlags flags, bool secureTcp)
    {
        int @event;
        if ((flags & TcpFlags.Rst) != 0)
        {
            @event = 3;
        }
        else if ((flags & TcpFlags.Syn) != 0)
        {
            @event = 0;
        }
        else if ((flags & TcpFlags.Fin) != 0)
        {
            @event = 1;
        }
        else if ((flags & TcpFlags.Ack) != 0)
        {
            @event = 2;
        }
        else
        {
            return TcpConnectionState.Close;
        }

        uint s = (uint)state;
        if (s >= StateCount || (uint)table > (uint)TcpStateTable.InputOnly)
        {
            return TcpConnectionState.Close;
        }

        int at = ((((int)table * 4) + @event) * StateCount) + (int)s;
        return (TcpConnectionState)(secureTcp ? SecureTransitions[at] : Transitions[at]);
    }

    /// <summary>
    /// The table section for a packet: OUTPUT for replies; INPUT-ONLY for client packets while no reply has been seen
    /// on a connection whose replies bypass the director; INPUT otherwise (the kernel's <c>set_tcp_state</c>).
    /// </summary>
    /// <param name="direction">The packet's direction.</param>
    /// <param name="noOutput">True while the connection has seen no reply and its method is direct routing or tunnelling.</param>
    /// <returns>The section.</returns>
    public static TcpStateTable TableFor(PacketDirection direction, bool noOutput) =>
        direction == PacketDirection.Outbound ? TcpStateTable.Output : noOutput ? TcpStateTable.InputOnly : TcpStateTable.Input;

    /// <summary>
    /// True when connections in this state count as active for the schedulers (ESTABLISHED, SYN_SENT, SYN_RECV and
    /// SYNACK, the kernel's <c>tcp_state_active_table</c> since Linux 4.8); all others count as inactive.
    /// </summary>
    /// <param name="state">The state.</param>
    /// <returns>True when active.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsActive(TcpConnectionState state) =>
        state is TcpConnectionState.Established or TcpConnectionState.SynSent or TcpConnectionState.SynRecv or TcpConnectionState.SynAck;

    /// <summary>True for the half-open states that flood defence sheds first (SYN_RECV, SYNACK, SYN_SENT and NONE).</summary>
    /// <param name="state">The state.</param>
    /// <returns>True when half-open.</returns>
    public static bool IsHalfOpen(TcpConnectionState state) =>
        state is TcpConnectionState.SynRecv or TcpConnectionState.SynAck or TcpConnectionState.SynSent or TcpConnectionState.None;

    /// <summary>The state's name as ipvsadm prints it (<c>ESTABLISHED</c>, <c>SYN_RECV</c>, ...).</summary>
    /// <param name="state">The state.</param>
    /// <returns>The name, or <c>ERR!</c> for a value out of range (as the kernel).</returns>
    public static string Name(TcpConnectionState state) => (uint)state < StateCount ? Names[(int)state] : "ERR!";
}
