using System.Runtime.CompilerServices;

namespace Lvs.ConnectionTracking;

/// <summary>
/// Connection timeouts per protocol state, in whole seconds as ipvsadm shows and sets them. Defaults are the
/// kernel's (<c>tcp_timeouts[]</c> in ip_vs_proto_tcp.c, <c>udp_timeouts[]</c> in ip_vs_proto_udp.c,
/// <c>sctp_timeouts[]</c> in ip_vs_proto_sctp.c).
/// </summary>
/// <remarks>
/// A timeout applies from the last packet that moved or refreshed the connection. Values may be changed while the
/// table is in use (as <c>ipvsadm --set</c> does on a live kernel); a change applies from each connection's next packet.
/// Every change is also logged (<see cref="TimeoutChange"/>), so that flood defence, which tells how long an entry has
/// been idle from its expiry and its timeout, can allow for entries whose expiry an earlier value set.
/// </remarks>
public sealed class ConnectionTimeouts
{
    /// <summary>The largest timeout accepted, in seconds (the kernel's <c>INT_MAX / HZ</c> with HZ=1000, rounded down).</summary>
    public const int MaxSeconds = 2_147_483;

    /// <summary>
    /// How many timeouts there are: the TCP states, then UDP (<see cref="UdpIndex"/>), then ICMP (<see cref="IcmpIndex"/>),
    /// then the SCTP states (from <see cref="SctpIndex"/>).
    /// </summary>
    internal const int Count = TcpStateMachine.StateCount + 2 + SctpStateMachine.StateCount;
    internal const int UdpIndex = TcpStateMachine.StateCount;
    internal const int IcmpIndex = TcpStateMachine.StateCount + 1;
    internal const int SctpIndex = TcpStateMachine.StateCount + 2;

    private readonly int[] _tcp = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120];

    // NONE 2 s, INIT1 and REJECTED 4 s, ESTABLISHED 15 min, the others IP_VS_SCTP_MAX_RTO (60 + 1 s).
    private readonly int[] _sctp = [2, 4, 61, 61, 61, 61, 61, 61, 900, 61, 61, 61, 4, 61];
    private readonly Lock _changeLock = new();
    private int _udp = 300;
    private int _icmp = 60;
    private TimeoutChange _lastChange = new(-1, 0);

    /// <summary>The UDP timeout in seconds (300 by default; ipvsadm <c>--set ... udp</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1 or above <see cref="MaxSeconds"/>.</exception>
    public int Udp
    {
        get => Volatile.Read(ref _udp);
        set => Set(ref _udp, UdpIndex, Check(value));
    }

    /// <summary>
    /// The timeout of tracked ICMP echo flows in seconds (60 by default). IPVS itself only relates ICMP errors to
    /// existing connections; this is for a director that balances echo requests of firewall-mark services.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1 or above <see cref="MaxSeconds"/>.</exception>
    public int Icmp
    {
        get => Volatile.Read(ref _icmp);
        set => Set(ref _icmp, IcmpIndex, Check(value));
    }

    /// <summary>The timeout of a TCP state in seconds.</summary>
    /// <param name="state">The state.</param>
    /// <returns>The timeout.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The state is not defined.</exception>
    public int GetTcp(TcpConnectionState state)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)state, (uint)TcpStateMachine.StateCount, nameof(state));
        return Volatile.Read(ref _tcp[(int)state]);
    }

    /// <summary>Sets the timeout of a TCP state.</summary>
    /// <param name="state">The state.</param>
    /// <param name="seconds">The timeout in seconds, 1 to <see cref="MaxSeconds"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">The state is not defined or the value is out of range.</exception>
    public void SetTcp(TcpConnectionState state, int seconds)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)state, (uint)TcpStateMachine.StateCount, nameof(state));
        Set(ref _tcp[(int)state], (int)state, Check(seconds));
    }

    /// <summary>The timeout of an SCTP state in seconds.</summary>
    /// <param name="state">The state.</param>
    /// <returns>The timeout.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The state is not defined.</exception>
    public int GetSctp(SctpConnectionState state)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)state, (uint)SctpStateMachine.StateCount, nameof(state));
        return Volatile.Read(ref _sctp[(int)state]);
    }

    /// <summary>Sets the timeout of an SCTP state (the kernel's per-state <c>timeout_table</c>, which ipvsadm's <c>--set</c> does not reach).</summary>
    /// <param name="state">The state.</param>
    /// <param name="seconds">The timeout in seconds, 1 to <see cref="MaxSeconds"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">The state is not defined or the value is out of range.</exception>
    public void SetSctp(SctpConnectionState state, int seconds)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)state, (uint)SctpStateMachine.StateCount, nameof(state));
        Set(ref _sctp[(int)state], SctpIndex + (int)state, Check(seconds));
    }

    /// <summary>
    /// Applies <c>ipvsadm --set tcp tcpfin udp</c>: <paramref name="tcp"/> sets ESTABLISHED, <paramref name="tcpFin"/>
    /// sets FIN_WAIT, <paramref name="udp"/> sets UDP; 0 leaves a value unchanged (the kernel's <c>ip_vs_set_timeout</c>).
    /// </summary>
    /// <param name="tcp">Seconds for ESTABLISHED, or 0.</param>
    /// <param name="tcpFin">Seconds for FIN_WAIT, or 0.</param>
    /// <param name="udp">Seconds for UDP, or 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is negative or above <see cref="MaxSeconds"/>; nothing is changed then.</exception>
    public void SetIpvsadm(int tcp, int tcpFin, int udp)
    {
        foreach (int value in (ReadOnlySpan<int>)[tcp, tcpFin, udp])
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxSeconds);
        }

        if (tcp != 0)
        {
            SetTcp(TcpConnectionState.Established, tcp);
        }

        if (tcpFin != 0)
        {
            SetTcp(TcpConnectionState.FinWait, tcpFin);
        }

        if (udp != 0)
        {
            Udp = udp;
        }
    }

    /// <summary>The timeout for a connection of a protocol in a state, in seconds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int For(Lvs.Core.L4Protocol protocol, int state) => protocol switch
    {
        Lvs.Core.L4Protocol.Tcp => Volatile.Read(ref _tcp[state]),
        Lvs.Core.L4Protocol.Udp => Udp,
        Lvs.Core.L4Protocol.Sctp => Volatile.Read(ref _sctp[state]),
        _ => Icmp,
    };

    /// <summary>The newest entry of the change log (a placeholder before the first change); later entries follow through <see cref="TimeoutChange.Next"/>.</summary>
    internal TimeoutChange LastChange
    {
        get
        {
            lock (_changeLock)
            {
                return _lastChange;
            }
        }
    }

    /// <summary>The index of a protocol state's timeout (see <see cref="Count"/>).</summary>
    internal static int IndexOf(Lvs.Core.L4Protocol protocol, int state) => protocol switch
    {
        Lvs.Core.L4Protocol.Tcp => state,
        Lvs.Core.L4Protocol.Udp => UdpIndex,
        Lvs.Core.L4Protocol.Sctp => SctpIndex + state,
        _ => IcmpIndex,
    };

    // The change is logged before the value is written: a reader that sees the new value then finds the change in the log.
    private void Set(ref int field, int index, int seconds)
    {
        lock (_changeLock)
        {
            int old = field;
            if (old == seconds)
            {
                return;
            }

            var change = new TimeoutChange(index, old);
            Volatile.Write(ref _lastChange.Next, change);
            _lastChange = change;
            Volatile.Write(ref field, seconds);
        }
    }

    private static int Check(int seconds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seconds, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(seconds, MaxSeconds);
        return seconds;
    }
}
