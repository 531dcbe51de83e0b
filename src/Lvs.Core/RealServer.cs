using System.Runtime.CompilerServices;

namespace Lvs.Core;

/// <summary>
/// A real server (the kernel's <c>ip_vs_dest</c>) of one virtual service: where new connections may go, with
/// its weight, thresholds and the live connection counters that the schedulers read.
/// </summary>
/// <remarks>
/// <para>
/// Configuration (weight, thresholds, forwarding method) changes rarely and is published with volatile
/// writes; whoever changes the server set or a weight must also tell the service's scheduler, which
/// rebuilds its tables then (the kernel's <c>upd_dest</c>), not on a pick.
/// </para>
/// <para>
/// The counters are updated with interlocked operations from several packet threads at once. The overload
/// flag follows the kernel's <c>ip_vs_bind_dest</c>/<c>ip_vs_unbind_dest</c>: it is set when active plus
/// inactive connections reach the upper threshold (<c>ipvsadm -x</c>) and cleared when they fall below the
/// lower threshold (<c>-y</c>), or below three quarters of the upper one when no lower threshold is set.
/// Persistence templates count in <see cref="PersistentConnections"/>, not in the overload total.
/// </para>
/// <para>
/// The counters and a copy of the weight and flags live in a 16-byte slot: a private one until a scanning scheduler
/// attaches the server to its <see cref="RealServerLoadBlock"/>, whose contiguous slots it then scans. An update that
/// races with a move to another block forwards what it wrote, so the counts stay exact.
/// </para>
/// <para>
/// The counters are kept per packet thread, in <see cref="RealServerLoadBlock.Planes"/> planes of slots (each in cache
/// lines of its own): an update writes the plane of the calling thread's <see cref="PacketThread.Current"/>, and the
/// counts read here, the overhead and the overload check sum the planes. Two packet threads creating connections at
/// once otherwise bounced the counters' cache line between their cores; the kernel's atomics in <c>ip_vs_dest</c> are
/// shared the same way, so this deviates in layout only and the counts stay exact. A connection may be counted on one
/// plane and uncounted on another, so a sum read while updates run can be transiently negative: the counts here clamp
/// it at 0.
/// </para>
/// </remarks>
public sealed class RealServer
{
    private static long s_weightVersion;
    private int _weight;
    private int _upperThreshold;
    private int _lowerThreshold;
    private int _overloaded;
    private int _available = 1;
    private RealServerLoadLocation _location = new(null, RealServerLoadSlot.NewArray(1), RealServerLoadSlot.Padding);

    /// <summary>Creates a real server.</summary>
    /// <param name="endpoint">The server's address and port (port 0 keeps the client's destination port, as ipvsadm).</param>
    /// <param name="weight">The weight, 0 to <see cref="MaxWeight"/>; 0 means quiesced (no new connections).</param>
    /// <param name="method">The forwarding method.</param>
    /// <exception cref="ArgumentOutOfRangeException">The weight is negative or above <see cref="MaxWeight"/>.</exception>
    public RealServer(InetEndpoint endpoint, int weight = 1, ForwardingMethod method = ForwardingMethod.DirectRouting)
    {
        Endpoint = endpoint;
        Weight = weight;
        ForwardingMethod = method;
    }

    /// <summary>The largest weight ipvsadm accepts (65535).</summary>
    public const int MaxWeight = 65535;

    /// <summary>The server's address and port.</summary>
    public InetEndpoint Endpoint { get; }

    /// <summary>The server's address.</summary>
    public InetAddress Address => Endpoint.Address;

    /// <summary>The server's port.</summary>
    public ushort Port => Endpoint.Port;

    /// <summary>
    /// The weight (ipvsadm <c>-w</c>). 0 quiesces the server: it keeps its connections but gets no new ones.
    /// Setting it does not rebuild any scheduler table; tell the scheduler.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The weight is negative or above <see cref="MaxWeight"/>.</exception>
    public int Weight
    {
        get => Volatile.Read(ref _weight);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxWeight);
            int old = Interlocked.Exchange(ref _weight, value);
            PublishState();
            if (old != value)
            {
                // After the write: a reader that sees the old version and then reads this weight may see either value,
                // and one that sees the new version will read the new weight.
                _ = Interlocked.Increment(ref s_weightVersion);
            }
        }
    }

    /// <summary>
    /// A process-wide count of weight changes of all real servers, raised after each change. A scheduler that orders
    /// servers by the weights read at its last update (the weighted failover scheduler) reads it before those weights
    /// and compares it at each pick: while it is unchanged no weight has changed and the order still holds, so the
    /// pick can skip a scan of the live weights.
    /// </summary>
    public static long WeightVersion => Volatile.Read(ref s_weightVersion);

    /// <summary>The forwarding method (ipvsadm <c>-g</c>, <c>-m</c>, <c>-i</c>, or full NAT).</summary>
    public ForwardingMethod ForwardingMethod { get; set; }

    /// <summary>The encapsulation when <see cref="ForwardingMethod"/> is <see cref="ForwardingMethod.Tunnel"/> (ipvsadm <c>--tun-type</c>).</summary>
    public TunnelType TunnelType { get; set; }

    /// <summary>The destination UDP port of GUE encapsulation (ipvsadm <c>--tun-port</c>); 0 when not GUE.</summary>
    public ushort TunnelPort { get; set; }

    /// <summary>GUE/GRE checksum options (ipvsadm <c>--tun-nocsum</c>, <c>--tun-csum</c>, <c>--tun-remcsum</c>).</summary>
    public TunnelFlags TunnelFlags { get; set; }

    /// <summary>
    /// The upper connection threshold (ipvsadm <c>-x</c>): at this many active plus inactive connections the
    /// server is overloaded. 0 means no limit.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public int UpperThreshold
    {
        get => Volatile.Read(ref _upperThreshold);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Volatile.Write(ref _upperThreshold, value);
            UpdateOverload();
        }
    }

    /// <summary>
    /// The lower connection threshold (ipvsadm <c>-y</c>): an overloaded server is usable again below it.
    /// 0 means three quarters of <see cref="UpperThreshold"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public int LowerThreshold
    {
        get => Volatile.Read(ref _lowerThreshold);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Volatile.Write(ref _lowerThreshold, value);
            UpdateOverload();
        }
    }

    /// <summary>
    /// Connections in an active state (for TCP, ESTABLISHED; see the connection table's state machine), summed over the
    /// packet threads' planes and clamped at 0 (see the remarks).
    /// </summary>
    public int ActiveConnections => Count(LoadLocation, RealServerLoadBlock.ActiveOffset);

    /// <summary>
    /// Connections in any other state (all UDP connections, half-open and closing TCP ones), summed over the packet
    /// threads' planes and clamped at 0 (see the remarks).
    /// </summary>
    public int InactiveConnections => Count(LoadLocation, RealServerLoadBlock.InactiveOffset);

    /// <summary>
    /// Persistence templates bound to this server (not counted in the overload total), summed over the packet threads'
    /// planes and clamped at 0 (see the remarks).
    /// </summary>
    public int PersistentConnections => Count(LoadLocation, RealServerLoadBlock.PersistentOffset);

    /// <summary>
    /// The kernel's scheduling overhead for lc and wlc: active x 256 + inactive (<c>ip_vs_dest_conn_overhead</c>),
    /// which makes one active connection weigh as much as 256 idle ones (of the clamped sums, see the remarks).
    /// </summary>
    public long Overhead
    {
        get
        {
            var location = LoadLocation;
            return ((long)Count(location, RealServerLoadBlock.ActiveOffset) << 8) + Count(location, RealServerLoadBlock.InactiveOffset);
        }
    }

    /// <summary>True when the upper threshold was reached and the lower one not yet crossed back (the kernel's <c>IP_VS_DEST_F_OVERLOAD</c>).</summary>
    public bool IsOverloaded => Volatile.Read(ref _overloaded) != 0;

    /// <summary>True when the weight is 0: the server takes no new connections but keeps its existing ones.</summary>
    public bool IsQuiesced => Weight == 0;

    /// <summary>
    /// False once the server has been removed from its service (the kernel clears <c>IP_VS_DEST_F_AVAILABLE</c>);
    /// connections still bound to it may finish, persistence templates pointing to it are not honoured.
    /// </summary>
    public bool IsAvailable
    {
        get => Volatile.Read(ref _available) != 0;
        set
        {
            Volatile.Write(ref _available, value ? 1 : 0);
            PublishState();
        }
    }

    /// <summary>True when a scheduler may give this server a new connection: available, weight above 0 and not overloaded.</summary>
    public bool IsSchedulable => Weight > 0 && !IsOverloaded && IsAvailable;

    /// <summary>Counts a connection newly bound to this server (the kernel's <c>ip_vs_bind_dest</c>).</summary>
    /// <param name="active">True when the connection starts in an active state.</param>
    public void AddConnection(bool active)
    {
        var location = Volatile.Read(ref _location);
        ref var slot = ref location.Current;
        _ = Interlocked.Increment(ref active ? ref slot.Active : ref slot.Inactive);
        ForwardIfMoved(location);
        CheckOverload();
    }

    /// <summary>Counts a connection unbound from this server (the kernel's <c>ip_vs_unbind_dest</c>).</summary>
    /// <param name="active">True when the connection was active when it ended.</param>
    public void RemoveConnection(bool active)
    {
        var location = Volatile.Read(ref _location);
        ref var slot = ref location.Current;
        _ = Interlocked.Decrement(ref active ? ref slot.Active : ref slot.Inactive);
        ForwardIfMoved(location);
        CheckOverload();
    }

    /// <summary>Moves a connection between the active and inactive counts when its protocol state changes.</summary>
    /// <param name="nowActive">True when it became active, false when it became inactive.</param>
    public void ChangeConnectionActivity(bool nowActive)
    {
        var location = Volatile.Read(ref _location);
        ref var slot = ref location.Current;
        if (nowActive)
        {
            _ = Interlocked.Increment(ref slot.Active);
            _ = Interlocked.Decrement(ref slot.Inactive);
        }
        else
        {
            _ = Interlocked.Increment(ref slot.Inactive);
            _ = Interlocked.Decrement(ref slot.Active);
        }

        ForwardIfMoved(location);
    }

    /// <summary>Counts a persistence template bound to this server.</summary>
    public void AddPersistentConnection()
    {
        var location = Volatile.Read(ref _location);
        _ = Interlocked.Increment(ref location.Current.Persistent);
        ForwardIfMoved(location);
    }

    /// <summary>Counts a persistence template unbound from this server.</summary>
    public void RemovePersistentConnection()
    {
        var location = Volatile.Read(ref _location);
        _ = Interlocked.Decrement(ref location.Current.Persistent);
        ForwardIfMoved(location);
    }

    /// <summary>Formats as ipvsadm lists a destination: the endpoint and weight.</summary>
    /// <returns>The text form.</returns>
    public override string ToString() => $"{Endpoint} w={Weight} {ForwardingMethod}";

    /// <summary>Where the counters live now.</summary>
    internal RealServerLoadLocation LoadLocation => Volatile.Read(ref _location);

    /// <summary>
    /// Moves the counters to <paramref name="target"/> (called by <see cref="RealServerLoadBlock.Attach"/>) and marks
    /// the block they leave stale.
    /// </summary>
    /// <param name="target">The new slot.</param>
    internal void MoveLoad(RealServerLoadLocation target)
    {
        // The exchange is a full fence: an update that lands in the old slot after the drain below is followed by its
        // own check of _location (ForwardIfMoved), which then sees the target and forwards what it wrote.
        var old = Interlocked.Exchange(ref _location, target);
        old.Block?.Abandon();
        Forward(old);
        PublishState();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ForwardIfMoved(RealServerLoadLocation location)
    {
        if (Volatile.Read(ref _location) != location)
        {
            Forward(location);
        }
    }

    /// <summary>
    /// Drains a slot that the server has left into its current one, and on along any later move, plane by plane into
    /// the same plane. Each count is taken by an interlocked exchange, so racing drains (the mover's and an updater's)
    /// move every unit exactly once.
    /// </summary>
    /// <param name="from">A slot the server has left, or its current one (then nothing happens).</param>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Forward(RealServerLoadLocation from)
    {
        var to = Volatile.Read(ref _location);
        while (to != from)
        {
            for (int plane = 0; plane < RealServerLoadBlock.Planes; plane++)
            {
                ref var source = ref from.Plane(plane);
                int active = Interlocked.Exchange(ref source.Active, 0);
                int inactive = Interlocked.Exchange(ref source.Inactive, 0);
                int persistent = Interlocked.Exchange(ref source.Persistent, 0);
                ref var target = ref to.Plane(plane);
                if (active != 0)
                {
                    _ = Interlocked.Add(ref target.Active, active);
                }

                if (inactive != 0)
                {
                    _ = Interlocked.Add(ref target.Inactive, inactive);
                }

                if (persistent != 0)
                {
                    _ = Interlocked.Add(ref target.Persistent, persistent);
                }
            }

            from = to;
            to = Volatile.Read(ref _location);
        }
    }

    private int ComputeState() =>
        Volatile.Read(ref _weight)
        | (Volatile.Read(ref _overloaded) != 0 ? RealServerLoadBlock.OverloadedFlag : 0)
        | (Volatile.Read(ref _available) != 0 ? 0 : RealServerLoadBlock.UnavailableFlag);

    /// <summary>
    /// Copies the weight and flags into the slot's state word. Writers of different fields race, so each one writes,
    /// then checks that the fields and the location did not change meanwhile, and writes again if they did: whoever
    /// changes a field last leaves the word matching the fields.
    /// </summary>
    private void PublishState()
    {
        while (true)
        {
            var location = Volatile.Read(ref _location);
            int state = ComputeState();
            _ = Interlocked.Exchange(ref location.Slot.State, state);
            location.Block?.StateChanged();
            if (ComputeState() == state && Volatile.Read(ref _location) == location)
            {
                return;
            }
        }
    }

    /// <summary>One count (<see cref="RealServerLoadBlock.ActiveOffset"/> or a sibling) summed over the planes and clamped at 0 (see the remarks).</summary>
    private static int Count(RealServerLoadLocation location, int offset) => Math.Max(location.Sum(offset), 0);

    /// <summary>The common case inline: no threshold and not overloaded leaves nothing to do.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckOverload()
    {
        if ((Volatile.Read(ref _upperThreshold) | Volatile.Read(ref _overloaded)) != 0)
        {
            UpdateOverload();
        }
    }

    private void SetOverloaded(bool overloaded)
    {
        // Written (and published) only on a change: the common case, no threshold, costs one read.
        int value = overloaded ? 1 : 0;
        if (Volatile.Read(ref _overloaded) != value)
        {
            Volatile.Write(ref _overloaded, value);
            PublishState();
        }
    }

    private void UpdateOverload()
    {
        int upper = UpperThreshold;
        if (upper == 0)
        {
            SetOverloaded(false);
            return;
        }

        // The clamped sums over the planes. Each update checks after its interlocked operation (a full fence), so of
        // two updates racing on different planes at least the later one's check sees both.
        var location = LoadLocation;
        long total = (long)Count(location, RealServerLoadBlock.ActiveOffset) + Count(location, RealServerLoadBlock.InactiveOffset);
        if (total >= upper)
        {
            SetOverloaded(true);
            return;
        }

        int lower = LowerThreshold;
        bool below = lower != 0 ? total < lower : total * 4 < (long)upper * 3;
        if (below)
        {
            SetOverloaded(false);
        }
    }
}
