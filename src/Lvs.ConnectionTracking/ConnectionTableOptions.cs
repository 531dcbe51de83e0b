namespace Lvs.ConnectionTracking;

/// <summary>Settings of a <see cref="ConnectionTable"/>; the sysctl names are those of the kernel (Documentation/networking/ipvs-sysctl.rst).</summary>
public sealed record ConnectionTableOptions
{
    /// <summary>
    /// The most IPv4 connections and persistence templates held at once. The table never grows past it: memory for
    /// all of them is reserved when the table is created.
    /// </summary>
    public int Capacity { get; init; } = 1 << 20;

    /// <summary>
    /// The most IPv6 connections and templates held at once. When set, their memory is reserved with the table; when
    /// left unset, the capacity is one eighth of <see cref="Capacity"/> (at least 1024) and its memory is reserved by the
    /// first IPv6 entry added (once, on that thread), so an IPv4-only director pays nothing for IPv6.
    /// </summary>
    public int? IPv6Capacity { get; init; }

    /// <summary>The timeouts per protocol state (shared, and changeable while the table runs).</summary>
    public ConnectionTimeouts Timeouts { get; init; } = new();

    /// <summary>
    /// expire_nodest_conn: a connection whose real server is no longer available is dropped when its next packet is
    /// looked up, instead of being forwarded to a server that has gone.
    /// </summary>
    public bool ExpireNoDestinationConnections { get; init; }

    /// <summary>
    /// expire_quiescent_template: a persistence template whose real server has weight 0 is no longer honoured, so the
    /// client is scheduled afresh.
    /// </summary>
    public bool ExpireQuiescentTemplate { get; init; }

    /// <summary>
    /// conn_reuse_mode: 0 off; bit 1 (the default, 1) reschedules a SYN that reuses the ports of a TIME_WAIT or CLOSE
    /// connection; bit 2 also a FIN_WAIT one whose replies bypass the director (direct routing, tunnelling).
    /// </summary>
    public int ConnectionReuseMode { get; init; } = 1;

    /// <summary>
    /// secure_tcp: when the TCP state machine uses the kernel's <c>tcp_states_dos</c> tables, in which a client's
    /// ACK alone does not establish a connection its server has not answered. 0 (the kernel's default) never; 1
    /// while the table is under pressure, judged once a second by housekeeping (the kernel's <c>nomem</c>: here, an add
    /// found a family's slots all taken since the previous run); 2 the same, starting on; 3 always. The kernel's
    /// <c>update_defense_level</c> switches likewise between 1 and 2.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not 0 to 3 (at construction of the table).</exception>
    public int SecureTcp { get; init; }

    /// <summary>
    /// Flood defence beyond the kernel's: when the table is full, also shed TCP entries in NONE and SYN_SENT at once,
    /// and entries in any state (TIME_WAIT, FIN_WAIT, CLOSE...) once idle for 60 s. The kernel's
    /// <c>ip_vs_random_dropentry</c> (the default, false) drops only SYN_RECV and SYNACK at once and only ESTABLISHED
    /// and non-TCP entries when idle, which with a fixed capacity can leave the table full of closing connections for
    /// up to their timeout (TIME_WAIT: 120 s).
    /// </summary>
    public bool ExtendedFloodDefence { get; init; }

    /// <summary>
    /// The number of index partitions: 1 (the default) keeps one index, as the kernel's one connection hash table; a
    /// director with several packet threads sets its thread count, so that each thread adds, indexes and expires its
    /// connections in a partition of its own (<see cref="Lvs.Core.PacketThread.Current"/> picks it) and two threads'
    /// new connections do not write the same cache lines. Lookups look in every partition, the thread's first. Rounded
    /// down to a power of two, at most the writer shards (one per 16,384 slots of capacity, at most 16). See
    /// docs/connection-tracking.md.
    /// </summary>
    public int IndexPartitions { get; init; } = 1;

    /// <summary>
    /// With several <see cref="IndexPartitions"/>: the host steers every client packet of a flow to one packet thread
    /// (AF_PACKET fan-out by flow hash, a NIC's receive-side scaling), so the lookups of client packets
    /// (<see cref="ConnectionTable.TryGetInboundBatch"/>, <see cref="ConnectionTable.TryGetInboundSteered"/>) look in the
    /// calling thread's partition and, of the others, only in those holding connections added for any thread: those
    /// added without their first packet (a helper's expected connection, whose packets may reach any thread) and those
    /// a thread added into another partition than its own (its own was full). The others are not looked in, nor
    /// checked by an add with its first packet, since they hold only the flows of other threads: a new connection then
    /// reads no line another thread writes (measured: those reads cost two packet threads 90-190 ns of CPU a
    /// connection). Other lookups (one by one, replies, templates) still look in every partition. Off by default: a
    /// deviation from the kernel when the steering changes under a flow (a NIC's indirection table rewritten, the
    /// fan-out group's members changed): the flow's packets on its new thread do not find its connection, so they are
    /// treated as packets of no connection, or, a SYN, scheduled afresh. See docs/connection-tracking.md.
    /// </summary>
    public bool SteeredFlows { get; init; }

    /// <summary>
    /// For tests: how many of an inbound bucket's 15 cells are used (the rest of its connections go to its overflow
    /// chain), so that a small table exercises the chains as a full large one does.
    /// </summary>
    internal int InboundCellsPerBucket { get; init; } = InboundBucket.OverflowCell;

    /// <summary>
    /// For tests: the number of writer shards of each address family's store (see docs/connection-tracking.md); 0, the
    /// default, chooses one per 16,384 slots of capacity, at most 16.
    /// </summary>
    internal int WriterShards { get; init; }

    /// <summary>
    /// Told of every connection and template that leaves the table, once each (expiry, <see cref="ConnectionTable.Remove"/>,
    /// <see cref="ConnectionTable.RemoveAllOf"/>, expire_nodest_conn, flood defence); none when null. See
    /// <see cref="IConnectionEndObserver"/> for when and on which thread.
    /// </summary>
    public IConnectionEndObserver? EndObserver { get; init; }

    /// <summary>The seed of the random probes that pick entries to shed when the table is full; random when not set.</summary>
    public ulong? RandomSeed { get; init; }
}
