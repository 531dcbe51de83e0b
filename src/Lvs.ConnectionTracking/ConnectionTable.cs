using System.Runtime.CompilerServices;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.ConnectionTracking;

/// <summary>
/// The director's connection table (the kernel's <c>ip_vs_conn_tab</c> with ip_vs_conn.c, the TCP/UDP state machines
/// and the persistence templates of ip_vs_core.c): finds a connection from either direction in O(1), keeps the real
/// servers' active/inactive counters exact, expires connections on a timer wheel and defends a fixed capacity.
/// </summary>
/// <remarks>
/// <para>
/// Memory is reserved up front: a slab of compact slots per address family (56 bytes for IPv4, 112 for IPv6) and
/// two int-indexed hash indexes (the IPv6 ones, unless <see cref="ConnectionTableOptions.IPv6Capacity"/> is set, when
/// the first IPv6 entry is added); there is no heap object per connection and no operation allocates after that. Keys are hashed with secret words drawn from the process's random <see cref="FlowHash.Seed"/>.
/// </para>
/// <para>
/// Threads: any number of packet threads may look up, add, update and remove at once while one housekeeping thread
/// calls <see cref="RunHousekeeping"/>. Lookups and per-packet updates take no lock; adds and removals take short
/// writer locks, sharded so that packet threads adding connections do not share them. docs/connection-tracking.md
/// describes the model.
/// </para>
/// <para>
/// Time: the table counts whole-second ticks from its creation on the injected <see cref="TimeProvider"/>. The hot
/// path reads the tick cached by the last <see cref="RunHousekeeping"/> (as the kernel reads jiffies), so
/// housekeeping must run at least once per second (<see cref="StartHousekeeping"/> does). A connection whose timeout
/// is T seconds, last refreshed at cached tick n, expires when housekeeping runs at tick n + T + 1: never before T
/// seconds have passed (the cached tick may be up to a second old), at most one tick after.
/// </para>
/// </remarks>
public sealed partial class ConnectionTable : IDisposable
{
    private readonly ConnectionStore<Ipv4StoredAddress> _v4;
    private readonly Lock _ipv6Allocation = new();
    private readonly ulong _ipv6Seed;
    private ConnectionStore<Ipv6StoredAddress> _v6;
    private bool _ipv6Allocated;
    private readonly TimeProvider _time;
    private readonly long _start;
    private uint _now;
    private ITimer? _timer;
    private static int s_tables;
    private int _secureTcp;
    private long _pressureSeen;

    /// <summary>Creates a table and reserves its memory.</summary>
    /// <param name="options">Capacity, timeouts and the kernel sysctl equivalents.</param>
    /// <param name="registry">The registry whose indexes connections store.</param>
    /// <param name="timeProvider">The clock; <see cref="TimeProvider.System"/> when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A capacity is below 1 or above 16,777,214.</exception>
    public ConnectionTable(ConnectionTableOptions options, RealServerRegistry registry, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)options.SecureTcp, 3u, nameof(options));
        Options = options;
        _secureTcp = options.SecureTcp;
        SecureTcpActive = options.SecureTcp >= 2;
        Registry = registry;
        Timeouts = options.Timeouts;
        _time = timeProvider ?? TimeProvider.System;
        _start = _time.GetTimestamp();
        Tag = (uint)(((uint)Interlocked.Increment(ref s_tables) - 1) % 127) + 1;
        ulong seed = options.RandomSeed ?? FlowHash.RandomSeed();
        _v4 = new ConnectionStore<Ipv4StoredAddress>(this, options.Capacity, isIPv6: false, seed, options.WriterShards, options.IndexPartitions);
        // IPv6: with an explicit capacity reserved now; by default (one eighth of the IPv4 capacity) only when the first
        // IPv6 entry is added, so that an IPv4-only director pays nothing for it. Until then an empty store of one slot
        // answers lookups (all miss) and housekeeping.
        IPv6Capacity = options.IPv6Capacity ?? Math.Max(1024, options.Capacity / 8);
        _ipv6Seed = ~seed;
        _ipv6Allocated = options.IPv6Capacity is not null;
        _v6 = new ConnectionStore<Ipv6StoredAddress>(this, _ipv6Allocated ? IPv6Capacity : 1, isIPv6: true, _ipv6Seed, Options.WriterShards, Options.IndexPartitions);
    }

    /// <summary>The settings.</summary>
    public ConnectionTableOptions Options { get; }

    /// <summary>The tag this table's handles carry (1-127, in order of construction), so that another table's are refused.</summary>
    internal uint Tag { get; }

    /// <summary>The registry whose indexes the connections store.</summary>
    public RealServerRegistry Registry { get; }

    /// <summary>The timeouts (from the options; changeable while running).</summary>
    public ConnectionTimeouts Timeouts { get; }

    /// <summary>The number of live connections and templates of both families.</summary>
    public int Count => _v4.Count + _v6.Count;

    /// <summary>The most IPv4 connections and templates held at once.</summary>
    public int Capacity => _v4.Capacity;

    /// <summary>
    /// The most IPv6 connections and templates held at once. Reserved at construction when set in the options; by
    /// default reserved when the first IPv6 entry is added.
    /// </summary>
    public int IPv6Capacity { get; }

    /// <summary>True once the IPv6 connections' memory is reserved (see <see cref="IPv6Capacity"/>).</summary>
    internal bool IsIPv6Reserved => Volatile.Read(ref _ipv6Allocated);

    /// <summary>Adds refused because the table was full and nothing could be shed.</summary>
    public long Refused => _v4.Refused + _v6.Refused;

    /// <summary>Entries shed by flood defence to make room.</summary>
    public long Shed => _v4.Shed + _v6.Shed;

    /// <summary>Entries removed by expiry.</summary>
    public long Expired => _v4.Expired + _v6.Expired;

    /// <summary>Slots retired because their 32-bit generations ran out (see <see cref="ConnectionHandle"/>): one per 4.3 billion occupants of a slot.</summary>
    internal int RetiredSlots => _v4.Retired + _v6.Retired;

    /// <summary>For tests: sets a free IPv4 slot's generation, as if it had had that many occupants.</summary>
    internal void SetFreeSlotGeneration(int index, uint generation) => _v4.SetFreeSlotGeneration(index, generation);

    /// <summary>True while the secure_tcp defence is on (see <see cref="ConnectionTableOptions.SecureTcp"/>): TCP transitions follow the kernel's <c>tcp_states_dos</c>.</summary>
    public bool SecureTcpActive { get; private set; }

    /// <summary>The current tick (whole seconds since the table was created) as the hot path sees it.</summary>
    public uint CurrentTick => Volatile.Read(ref _now);

    /// <summary>Adds a connection, unless one with the same inbound key is live (then returns it).</summary>
    /// <param name="connection">The connection.</param>
    /// <param name="handle">The new (or existing) connection.</param>
    /// <returns>What happened; <see cref="AddConnectionResult.Full"/> is counted in <see cref="Refused"/>.</returns>
    public AddConnectionResult TryAdd(in NewConnection connection, out ConnectionHandle handle)
    {
        if (!IsValid(connection))
        {
            handle = default;
            return AddConnectionResult.Invalid;
        }

        return connection.Inbound.SourceAddress.IsIPv6
            ? AddTo(IPv6Store(), ToInsert<Ipv6StoredAddress>(connection, Timeouts, SecureTcpActive), out handle)
            : AddTo(_v4, ToInsert<Ipv4StoredAddress>(connection, Timeouts, SecureTcpActive), out handle);
    }

    /// <summary>
    /// Adds a batch of connections, as <see cref="TryAdd"/> does for each, with their memory reads overlapped and the
    /// lock of the thread's writer shard taken once per group of 32 instead of once per connection: the director adds the new connections
    /// of a receive batch together (docs/connection-tracking.md gives the figures).
    /// </summary>
    /// <param name="connections">The connections, in order (a later duplicate of an earlier one gets <see cref="AddConnectionResult.Exists"/>).</param>
    /// <param name="handles">Receives each connection's handle (the existing one for <see cref="AddConnectionResult.Exists"/>, <see cref="ConnectionHandle.None"/> when refused); at least as long as <paramref name="connections"/>.</param>
    /// <param name="results">Receives what happened to each; at least as long as <paramref name="connections"/>.</param>
    /// <returns>The number of connections added.</returns>
    /// <exception cref="ArgumentException"><paramref name="handles"/> or <paramref name="results"/> is shorter than <paramref name="connections"/>.</exception>
    public int TryAddBatch(ReadOnlySpan<NewConnection> connections, Span<ConnectionHandle> handles, Span<AddConnectionResult> results)
    {
        if (handles.Length < connections.Length || results.Length < connections.Length)
        {
            throw new ArgumentException("There must be a handle and a result for each connection.", nameof(handles));
        }

        int added = AddBatchOf(_v4, connections, handles, results, out int ipv6);
        return ipv6 == 0 ? added : added + AddBatchOf(IPv6Store(), connections, handles, results, out _);
    }

    /// <summary>
    /// The batched adds of one address family's connections (the others are left for the other family's run; their
    /// number comes back in <paramref name="others"/>): per group of 32, hash and prefetch both chain heads, then the
    /// first two entries of each inbound chain (the duplicate check reads them), then add the group under one
    /// acquisition of the thread's writer shard.
    /// </summary>
    private int AddBatchOf<T>(ConnectionStore<T> store, ReadOnlySpan<NewConnection> connections, Span<ConnectionHandle> handles, Span<AddConnectionResult> results, out int others)
        where T : unmanaged, IStoredAddress<T>
    {
        const int Group = 32;
        Span<ConnectionInsert<T>> inserts = stackalloc ConnectionInsert<T>[Group];
        Span<int> cursors = stackalloc int[Group];

        // With an observer, the entries a group drops to make room (one per add at most) are reported after its lock.
        Span<ConnectionEnd> ends = Options.EndObserver is null ? default : stackalloc ConnectionEnd[Group];
        int added = 0;
        others = 0;
        for (int start = 0; start < connections.Length; start += Group)
        {
            var group = connections.Slice(start, Math.Min(Group, connections.Length - start));
            var groupInserts = inserts[..group.Length];

            // Stage 1: validate, hash, start loading both chain heads.
            for (int i = 0; i < group.Length; i++)
            {
                ref readonly var c = ref group[i];
                ref var insert = ref groupInserts[i];
                insert.InProbe = -1;
                if (!T.Fits(c.Inbound.SourceAddress))
                {
                    others++;
                }
                else if (!IsValid(c))
                {
                    results[start + i] = AddConnectionResult.Invalid;
                    handles[start + i] = default;
                }
                else
                {
                    FillInsert(ref insert, c, Timeouts, SecureTcpActive);
                    store.Prepare(ref insert);
                }
            }

            // Stages 2 and 3: what the duplicate check reads (the first entry under the key's tag, or the first two of the
            // bucket's overflow chain).
            for (int i = 0; i < groupInserts.Length; i++)
            {
                cursors[i] = groupInserts[i].InProbe >= 0 ? store.PrefetchInboundChain(groupInserts[i], -2) : -1;
            }

            for (int i = 0; i < groupInserts.Length; i++)
            {
                if (cursors[i] >= 0)
                {
                    _ = store.PrefetchInboundChain(groupInserts[i], cursors[i]);
                }
            }

            // Stage 4: one acquisition of the thread's shard for the group.
            int endCount = 0;
            bool existed = false;
            int shard = store.EnterOwnShard();
            try
            {
                for (int i = 0; i < group.Length; i++)
                {
                    ref readonly var insert = ref groupInserts[i];
                    if (insert.InProbe < 0)
                    {
                        continue;
                    }

                    var result = store.AddLocked(shard, insert, out int index, out uint generation, ends, ref endCount);
                    results[start + i] = result;
                    handles[start + i] = result is AddConnectionResult.Added or AddConnectionResult.Exists ? store.HandleOf(index, generation) : default;
                    added += result == AddConnectionResult.Added ? 1 : 0;
                    existed |= result == AddConnectionResult.Exists;
                }
            }
            finally
            {
                store.ExitShard(shard);
            }

            if (endCount > 0)
            {
                ReportEnds(ends[..endCount]);
            }

            if (existed)
            {
                ProcessFirstPacketsOfExisting(store, groupInserts, handles.Slice(start, group.Length), results.Slice(start, group.Length));
            }
        }

        return added;
    }

    private void ReportEnds(ReadOnlySpan<ConnectionEnd> ends)
    {
        foreach (ref readonly var end in ends)
        {
            Options.EndObserver!.OnConnectionEnded(in end);
        }
    }

    /// <summary>The first packets of a group's adds that found their connection already there, processed on it (see <see cref="NewConnection.FirstPacket"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ProcessFirstPacketsOfExisting<T>(ConnectionStore<T> store, ReadOnlySpan<ConnectionInsert<T>> inserts, ReadOnlySpan<ConnectionHandle> handles, ReadOnlySpan<AddConnectionResult> results)
        where T : unmanaged, IStoredAddress<T>
    {
        for (int i = 0; i < inserts.Length; i++)
        {
            if (inserts[i].InProbe >= 0 && inserts[i].Seen && results[i] == AddConnectionResult.Exists)
            {
                _ = store.Update(handles[i].Index, handles[i].Generation, PacketDirection.Inbound, inserts[i].Flags, CurrentTick);
            }
        }
    }

    private bool IsValid(in NewConnection connection)
    {
        var key = connection.Inbound;
        bool v6 = key.SourceAddress.IsIPv6;
        return v6 == key.DestinationAddress.IsIPv6 && v6 == connection.Destination.Address.IsIPv6
            && (uint)connection.RealServer < (uint)Registry.Count
            && key.Protocol is L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.Sctp or L4Protocol.Icmp or L4Protocol.IcmpV6
            && (!connection.Template.IsSome || (connection.Template.IsIPv6 == v6 && connection.Template.Tag == Tag))
            && (!connection.Control.IsSome || (!connection.Template.IsSome && connection.Control.IsIPv6 == v6 && connection.Control.Tag == Tag))
            && (connection.Method != ForwardingMethod.FullNat || connection.Local.Address.IsIPv6 == v6);
    }

    /// <summary>Finds the connection of a client packet (client to virtual address and port).</summary>
    /// <param name="packet">The packet's flow.</param>
    /// <param name="handle">The connection when found.</param>
    /// <returns>True when found. With <see cref="ConnectionTableOptions.ExpireNoDestinationConnections"/>, a connection whose server is unavailable is removed and not found.</returns>
    public bool TryGetInbound(in FlowKey packet, out ConnectionHandle handle)
    {
        bool found = packet.SourceAddress.IsIPv6
            ? FindInbound(_v6, packet.Protocol, packet.Source, packet.Destination, template: false, out handle)
            : FindInbound(_v4, packet.Protocol, packet.Source, packet.Destination, template: false, out handle);
        return found && KeepIfServerAvailable(handle);
    }

    /// <summary>
    /// Finds the connection of a client packet, processed on the packet thread its flow reaches: as
    /// <see cref="TryGetInbound"/>, except that with <see cref="ConnectionTableOptions.SteeredFlows"/> it looks, as
    /// <see cref="TryGetInboundBatch"/> does, only in the calling thread's index partition and in those holding
    /// connections for any thread.
    /// </summary>
    /// <param name="packet">The client packet's flow.</param>
    /// <param name="handle">Receives the connection's handle, <see cref="ConnectionHandle.None"/> when none was found.</param>
    /// <returns>Whether a connection was found.</returns>
    public bool TryGetInboundSteered(in FlowKey packet, out ConnectionHandle handle)
    {
        bool found = packet.SourceAddress.IsIPv6
            ? FindInbound(_v6, packet.Protocol, packet.Source, packet.Destination, template: false, out handle, clientPacket: true)
            : FindInbound(_v4, packet.Protocol, packet.Source, packet.Destination, template: false, out handle, clientPacket: true);
        return found && KeepIfServerAvailable(handle);
    }

    /// <summary>
    /// Finds the connections of a batch of client packets, as <see cref="TryGetInboundSteered"/> does for each (that is,
    /// <see cref="TryGetInbound"/>, unless <see cref="ConnectionTableOptions.SteeredFlows"/> is on), with the memory
    /// reads of different packets overlapped: the receive path gets frames in batches, and on a table larger than the
    /// caches this costs a fraction of one-by-one lookups (docs/connection-tracking.md gives the figures).
    /// </summary>
    /// <remarks>
    /// The batch is taken in groups of 64 packets, and each group in stages: hash every key and prefetch its chain
    /// head; read every head and prefetch the first entry; twice, follow every chain whose entry is not the packet's
    /// and prefetch the next; then decide each packet with the same lock-free walk as <see cref="TryGetInbound"/>,
    /// which finds its lines in the cache. The reads of a stage overlap one another, so a group waits for DRAM about
    /// once per stage instead of every packet waiting once per dependent read (see <c>BatchedLookup</c>). A batch may
    /// mix IPv4 and IPv6 packets; each family's packets are staged over that family's connections.
    /// </remarks>
    /// <param name="packets">The packets' flows.</param>
    /// <param name="handles">Receives a handle per packet, <see cref="ConnectionHandle.None"/> where none was found; at least as long as <paramref name="packets"/>.</param>
    /// <returns>The number of packets whose connection was found.</returns>
    /// <exception cref="ArgumentException"><paramref name="handles"/> is shorter than <paramref name="packets"/>.</exception>
    public int TryGetInboundBatch(ReadOnlySpan<FlowKey> packets, Span<ConnectionHandle> handles) =>
        InboundBatch(packets, handles, prefetchForwarding: false);

    /// <summary>
    /// <see cref="TryGetInboundBatch"/>, which also starts loading, with each connection's lookup line, the part of its
    /// slot that <see cref="TryGetForwarding"/> reads beyond it (as <see cref="PrefetchForwarding"/> would after the
    /// lookup): for callers that will read it for most packets (FULLNAT's local endpoint).
    /// </summary>
    /// <param name="packets">The packets' flows.</param>
    /// <param name="handles">Receives a handle per packet, <see cref="ConnectionHandle.None"/> where none was found.</param>
    /// <returns>The number of packets whose connection was found.</returns>
    public int TryGetInboundBatchForForwarding(ReadOnlySpan<FlowKey> packets, Span<ConnectionHandle> handles) =>
        InboundBatch(packets, handles, prefetchForwarding: true);

    private int InboundBatch(ReadOnlySpan<FlowKey> packets, Span<ConnectionHandle> handles, bool prefetchForwarding)
    {
        CheckBatch(packets.Length, handles.Length);
        int found = BatchedLookup<InboundChain<Ipv4StoredAddress>, Ipv4StoredAddress>.Run(this, _v4, packets, handles, out int ipv6, prefetchForwarding);
        return ipv6 == 0 ? found : found + BatchedLookup<InboundChain<Ipv6StoredAddress>, Ipv6StoredAddress>.Run(this, _v6, packets, handles, out _, prefetchForwarding);
    }

    /// <summary>
    /// Finds the connection of a reply: real server to client (NAT) or real server to the director's local address
    /// (full NAT). Direct-routing and tunnelled connections are not found this way: their replies bypass the director.
    /// </summary>
    /// <param name="reply">The reply's flow.</param>
    /// <param name="handle">The connection when found.</param>
    /// <returns>True when found.</returns>
    public bool TryGetOutbound(in FlowKey reply, out ConnectionHandle handle)
    {
        bool found;
        if (reply.SourceAddress.IsIPv6)
        {
            found = _v6.TryFindOutbound((byte)reply.Protocol, Ipv6StoredAddress.From(reply.SourceAddress), reply.SourcePort, Ipv6StoredAddress.From(reply.DestinationAddress), reply.DestinationPort, out int index, out uint word);
            handle = found ? _v6.HandleFrom(index, word) : default;
        }
        else
        {
            found = _v4.TryFindOutbound((byte)reply.Protocol, Ipv4StoredAddress.From(reply.SourceAddress), reply.SourcePort, Ipv4StoredAddress.From(reply.DestinationAddress), reply.DestinationPort, out int index, out uint word);
            handle = found ? _v4.HandleFrom(index, word) : default;
        }

        return found && KeepIfServerAvailable(handle);
    }

    /// <summary>
    /// Finds the connections of a batch of replies, as <see cref="TryGetOutbound"/> does for each, with the memory
    /// reads of different replies overlapped in stages (as <see cref="TryGetInboundBatch"/> does).
    /// </summary>
    /// <param name="replies">The replies' flows.</param>
    /// <param name="handles">Receives a handle per reply, <see cref="ConnectionHandle.None"/> where none was found; at least as long as <paramref name="replies"/>.</param>
    /// <returns>The number of replies whose connection was found.</returns>
    /// <exception cref="ArgumentException"><paramref name="handles"/> is shorter than <paramref name="replies"/>.</exception>
    public int TryGetOutboundBatch(ReadOnlySpan<FlowKey> replies, Span<ConnectionHandle> handles)
    {
        CheckBatch(replies.Length, handles.Length);
        int found = BatchedLookup<OutboundChain<Ipv4StoredAddress>, Ipv4StoredAddress>.Run(this, _v4, replies, handles, out int ipv6);
        return ipv6 == 0 ? found : found + BatchedLookup<OutboundChain<Ipv6StoredAddress>, Ipv6StoredAddress>.Run(this, _v6, replies, handles, out _);
    }

    private static void CheckBatch(int packets, int handles)
    {
        if (handles < packets)
        {
            throw new ArgumentException("There must be a handle for each packet.", nameof(handles));
        }
    }

    /// <summary>
    /// Processes one packet of a connection: the TCP or SCTP transition (from <paramref name="flags"/>, in the table section
    /// for its direction and forwarding method), the real server's active/inactive counters, and the timer, which
    /// restarts with the timeout of the new state.
    /// </summary>
    /// <param name="handle">The connection.</param>
    /// <param name="direction">The packet's direction.</param>
    /// <param name="flags">
    /// The TCP flags; for SCTP the packet's <see cref="SctpChunkEvent"/> in the same byte, as <see cref="ParsedFrame.TcpFlags"/>
    /// holds it (the kernel's <c>set_sctp_state</c>); ignored for UDP and ICMP.
    /// </param>
    /// <returns>False when the connection has ended (or the handle is a template's).</returns>
    public bool Update(ConnectionHandle handle, PacketDirection direction, TcpFlags flags = TcpFlags.None) =>
        handle.Tag == Tag && (handle.IsIPv6
            ? _v6.Update(handle.Index, handle.Generation, direction, flags, CurrentTick)
            : _v4.Update(handle.Index, handle.Generation, direction, flags, CurrentTick));

    /// <summary>
    /// <see cref="Update(ConnectionHandle, PacketDirection, TcpFlags)"/>, giving also the connection's real server and
    /// forwarding method (as <see cref="TryGetServer"/> would, read with the word the update checked): for a packet
    /// path that needs the server after the update, one read of the slot instead of two.
    /// </summary>
    /// <param name="handle">The connection.</param>
    /// <param name="direction">The packet's direction.</param>
    /// <param name="flags">As for <see cref="Update(ConnectionHandle, PacketDirection, TcpFlags)"/>.</param>
    /// <param name="realServer">The real server's registry index; -1 when the connection has ended.</param>
    /// <param name="method">The forwarding method.</param>
    /// <returns>False when the connection has ended (or the handle is a template's).</returns>
    public bool UpdateAndGetServer(ConnectionHandle handle, PacketDirection direction, TcpFlags flags, out int realServer, out ForwardingMethod method)
    {
        uint bits = 0;
        realServer = -1;
        bool updated = handle.Tag == Tag && (handle.IsIPv6
            ? _v6.Update(handle.Index, handle.Generation, direction, flags, CurrentTick, out realServer, out bits)
            : _v4.Update(handle.Index, handle.Generation, direction, flags, CurrentTick, out realServer, out bits));
        method = (ForwardingMethod)bits;
        return updated;
    }

    /// <summary>
    /// conn_reuse_mode: true when a client SYN arrives on a connection that is closing (TIME_WAIT or CLOSE; also
    /// FIN_WAIT of direct routing and tunnelling with mode bit 2), or a client SCTP INIT on an association that is
    /// CLOSED, and the connection is not placed by a template, so the director should remove it and schedule the
    /// packet afresh (the kernel's <c>is_new_conn</c> and <c>is_new_conn_expected</c>).
    /// </summary>
    /// <param name="handle">The connection the packet matched.</param>
    /// <param name="flags">
    /// The packet's TCP flags; for SCTP its <see cref="SctpChunkEvent"/> in the same byte (<see cref="ParsedFrame.TcpFlags"/>),
    /// whose <see cref="SctpChunkEvent.Init"/> has the SYN bit, so a caller may test for SYN first whatever the protocol.
    /// </param>
    /// <returns>True when the connection should be rescheduled.</returns>
    public bool ShouldReschedule(ConnectionHandle handle, TcpFlags flags)
    {
        int mode = Options.ConnectionReuseMode;
        if (mode == 0 || (flags & TcpFlags.Syn) == 0 || handle.Tag != Tag)
        {
            return false;
        }

        return handle.IsIPv6 ? IsReusable(_v6, handle, mode, flags) : IsReusable(_v4, handle, mode, flags);
    }

    /// <summary>Ends a connection now (its counters are released). A template that still controls connections is kept.</summary>
    /// <param name="handle">The connection or template.</param>
    /// <returns>True when it was live and is now removed.</returns>
    public bool Remove(ConnectionHandle handle) =>
        handle.Tag == Tag && (handle.IsIPv6
            ? _v6.Remove(handle.Index, handle.Generation, ConnectionEndReason.Removed)
            : _v4.Remove(handle.Index, handle.Generation, ConnectionEndReason.Removed));

    /// <summary>
    /// Removes every connection and template of a real server at once, as the kernel's
    /// <c>ip_vs_expire_nodest_conn_flush</c> does when a server is deleted with expire_nodest_conn set. It walks the whole
    /// slab (O(capacity)): call it from the control plane, not per packet.
    /// </summary>
    /// <param name="realServer">The server's registry index.</param>
    /// <returns>The number of entries removed.</returns>
    public int RemoveAllOf(int realServer) => _v4.RemoveAllOf(realServer) + _v6.RemoveAllOf(realServer);

    /// <summary>Reads a consistent snapshot of a connection (no allocation).</summary>
    /// <param name="handle">The connection or template.</param>
    /// <param name="info">The snapshot when live.</param>
    /// <returns>False when the connection has ended.</returns>
    public bool TryGetInfo(ConnectionHandle handle, out ConnectionInfo info)
    {
        if (handle.Tag != Tag)
        {
            info = default;
            return false;
        }

        return handle.IsIPv6 ? ReadInfo(_v6, handle.Index, handle.Generation, out info) : ReadInfo(_v4, handle.Index, handle.Generation, out info);
    }

    /// <summary>
    /// The template or connection that controls a connection (its <see cref="NewConnection.Template"/> or
    /// <see cref="NewConnection.Control"/>), live as long as the connection is.
    /// </summary>
    /// <param name="handle">The connection.</param>
    /// <param name="control">Its controller, or <see cref="ConnectionHandle.None"/> when it has none.</param>
    /// <returns>False when the connection has ended.</returns>
    public bool TryGetControl(ConnectionHandle handle, out ConnectionHandle control)
    {
        control = default;
        return handle.Tag == Tag && (handle.IsIPv6 ? ReadControl(_v6, handle, out control) : ReadControl(_v4, handle, out control));
    }

    /// <summary>
    /// Finds the live template for a client of a persistent service and checks its server (the kernel's
    /// <c>ip_vs_ct_in_get</c> and <c>ip_vs_check_template</c>): a template whose server was removed, or is quiesced
    /// while <see cref="ConnectionTableOptions.ExpireQuiescentTemplate"/> is set, is invalidated and not returned.
    /// </summary>
    /// <param name="key">The template key (<see cref="PersistenceKey.Create(VirtualServiceKey, in FlowKey, int)"/>).</param>
    /// <param name="template">The template, to pass as <see cref="NewConnection.Template"/>.</param>
    /// <param name="realServer">The registry index of the server the client sticks to.</param>
    /// <returns>True when the client must go to <paramref name="realServer"/>.</returns>
    public bool TryGetTemplate(in PersistenceKey key, out ConnectionHandle template, out int realServer)
    {
        bool v6 = key.ClientNetwork.IsIPv6;
        bool found = v6
            ? FindInbound(_v6, key.Protocol, new InetEndpoint(key.ClientNetwork, 0), new InetEndpoint(key.Virtual, key.VirtualPort), template: true, out template)
            : FindInbound(_v4, key.Protocol, new InetEndpoint(key.ClientNetwork, 0), new InetEndpoint(key.Virtual, key.VirtualPort), template: true, out template);
        if (!found)
        {
            realServer = -1;
            return false;
        }

        realServer = v6 ? _v6.EntryAt(template.Index).RealServer : _v4.EntryAt(template.Index).RealServer;
        var server = Registry[realServer];
        if (!server.IsAvailable || (Options.ExpireQuiescentTemplate && server.Weight == 0))
        {
            if (v6)
            {
                _v6.Invalidate(template.Index, template.Generation);
            }
            else
            {
                _v4.Invalidate(template.Index, template.Generation);
            }

            template = default;
            realServer = -1;
            return false;
        }

        return true;
    }

    /// <summary>
    /// Re-arms a template's timer with its timeout, for a connection placed by it that is not added to the table
    /// (one-packet scheduling, ipvsadm <c>-o</c>): the kernel's <c>ip_vs_sched_persist</c> releases the template with
    /// <c>ip_vs_conn_put</c>, which re-arms it, for every connection it places. <see cref="TryAdd(in NewConnection, out ConnectionHandle)"/>
    /// with <see cref="NewConnection.Template"/> set does this itself.
    /// </summary>
    /// <param name="template">The template, from <see cref="TryGetTemplate"/> or <see cref="TryAddTemplate"/>.</param>
    /// <returns>False when the handle no longer names a live template.</returns>
    public bool RefreshTemplate(ConnectionHandle template) =>
        template.Tag == Tag && (template.IsIPv6
            ? _v6.RefreshTemplate(template.Index, template.Generation, CurrentTick)
            : _v4.RefreshTemplate(template.Index, template.Generation, CurrentTick));

    /// <summary>Creates a persistence template binding a client network to a real server (ipvsadm <c>-p</c>).</summary>
    /// <param name="key">The template key.</param>
    /// <param name="realServer">The chosen server's registry index.</param>
    /// <param name="destination">The server's endpoint as the template lists it (port 0 when the template covers all ports).</param>
    /// <param name="timeoutSeconds">The persistence timeout (ipvsadm <c>-p</c>, 300 by default there).</param>
    /// <param name="template">The template.</param>
    /// <returns>What happened.</returns>
    public AddConnectionResult TryAddTemplate(in PersistenceKey key, int realServer, InetEndpoint destination, int timeoutSeconds, out ConnectionHandle template)
    {
        bool v6 = key.ClientNetwork.IsIPv6;
        if (v6 != key.Virtual.IsIPv6 || v6 != destination.Address.IsIPv6 || (uint)realServer >= (uint)Registry.Count
            || timeoutSeconds < 1 || timeoutSeconds > ConnectionTimeouts.MaxSeconds)
        {
            template = default;
            return AddConnectionResult.Invalid;
        }

        var client = new InetEndpoint(key.ClientNetwork, 0);
        var @virtual = new InetEndpoint(key.Virtual, key.VirtualPort);
        return v6
            ? AddTo(IPv6Store(), ToInsert<Ipv6StoredAddress>(key.Protocol, client, @virtual, destination, default, realServer, ForwardingMethod.DirectRouting, true, -1, 0, (uint)timeoutSeconds), out template)
            : AddTo(_v4, ToInsert<Ipv4StoredAddress>(key.Protocol, client, @virtual, destination, default, realServer, ForwardingMethod.DirectRouting, true, -1, 0, (uint)timeoutSeconds), out template);
    }

    /// <summary>
    /// Advances the table's tick to the clock and expires every connection due up to it; run it at least once a
    /// second from one housekeeping thread (or use <see cref="StartHousekeeping"/>).
    /// </summary>
    /// <returns>The number of entries expired.</returns>
    public int RunHousekeeping()
    {
        uint now = ClockTick();
        if ((int)(now - Volatile.Read(ref _now)) > 0)
        {
            Volatile.Write(ref _now, now);
        }

        UpdateDefenceLevel();
        return _v4.ExpireUntil(now) + _v6.ExpireUntil(now);
    }

    /// <summary>
    /// Expires, on a packet thread, the connections of its index partition (<see cref="ConnectionTableOptions.IndexPartitions"/>,
    /// <see cref="Lvs.Core.PacketThread.Current"/>) up to <see cref="CurrentTick"/>, as the kernel's connection timers
    /// run on the CPU that armed them: a packet thread calls it whenever it sees the tick move, and from then on
    /// <see cref="RunHousekeeping"/> leaves that partition to it for as long as it keeps up (it expires the partition
    /// itself again once the thread has not called this since the run before the last). With one partition it does
    /// nothing: housekeeping expires everything.
    /// </summary>
    /// <returns>The number of entries expired.</returns>
    public int RunPacketThreadExpiry()
    {
        uint now = CurrentTick;
        return _v4.ExpirePartition(now) + (Volatile.Read(ref _ipv6Allocated) ? _v6.ExpirePartition(now) : 0);
    }

    /// <summary>The live IPv4 connections of index partition <paramref name="partition"/> that any packet thread may look for (see <see cref="ConnectionTableOptions.SteeredFlows"/>; for tests).</summary>
    internal int AnywhereConnections(int partition) => _v4.AnywhereConnections(partition);

    /// <summary>The number of index partitions (see <see cref="ConnectionTableOptions.IndexPartitions"/>) after rounding.</summary>
    public int IndexPartitions => _v4.PartitionCount;

    /// <summary>
    /// The secure_tcp part of the kernel's <c>update_defense_level</c>, once a second: in mode 1 or 2 the defence is on
    /// (mode 2) while the table is under pressure and off (mode 1) otherwise; mode 3 keeps it on, 0 off. Pressure here
    /// is an add that found a family full (it shed or was refused) since the previous run.
    /// </summary>
    private void UpdateDefenceLevel()
    {
        long pressure = Shed + Refused;
        bool nomem = pressure != _pressureSeen;
        _pressureSeen = pressure;
        if (_secureTcp is 1 or 2)
        {
            _secureTcp = nomem ? 2 : 1;
        }

        SecureTcpActive = _secureTcp >= 2;
    }

    /// <summary>Runs <see cref="RunHousekeeping"/> every second on a timer of the table's <see cref="TimeProvider"/>.</summary>
    /// <exception cref="InvalidOperationException">Housekeeping was already started.</exception>
    public void StartHousekeeping()
    {
        var timer = _time.CreateTimer(static state => ((ConnectionTable)state!).RunHousekeeping(), this, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        if (Interlocked.CompareExchange(ref _timer, timer, null) is not null)
        {
            timer.Dispose();
            throw new InvalidOperationException("Housekeeping is already running.");
        }
    }

    /// <summary>
    /// Every live connection and template, for <c>ipvsadm -L -n -c</c> (see <see cref="ConnectionListing"/>). The walk
    /// is not a snapshot of the whole table: entries added or removed meanwhile may or may not appear.
    /// </summary>
    /// <returns>The entries.</returns>
    public IEnumerable<ConnectionInfo> Enumerate()
    {
        for (int i = 0; i < _v4.Capacity; i++)
        {
            if (TryReadSlot(_v4, i, out var info))
            {
                yield return info;
            }
        }

        for (int i = 0; i < _v6.Capacity; i++)
        {
            if (TryReadSlot(_v6, i, out var info))
            {
                yield return info;
            }
        }
    }

    /// <summary>Stops the housekeeping timer, if started.</summary>
    public void Dispose() => Interlocked.Exchange(ref _timer, null)?.Dispose();

    /// <summary>The IPv6 store for an add: reserved now if it was left for the first IPv6 entry (once; a lock and an allocation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ConnectionStore<Ipv6StoredAddress> IPv6Store() => Volatile.Read(ref _ipv6Allocated) ? _v6 : ReserveIPv6();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ConnectionStore<Ipv6StoredAddress> ReserveIPv6()
    {
        lock (_ipv6Allocation)
        {
            if (!_ipv6Allocated)
            {
                // The empty store never held an entry, so no handle refers to it; a lookup that still reads it misses, as
                // it would have a moment earlier.
                Volatile.Write(ref _v6, new ConnectionStore<Ipv6StoredAddress>(this, IPv6Capacity, isIPv6: true, _ipv6Seed, Options.WriterShards, Options.IndexPartitions));
                Volatile.Write(ref _ipv6Allocated, true);
            }

            return _v6;
        }
    }

    internal uint ClockTick() => (uint)(_time.GetElapsedTime(_start).Ticks / TimeSpan.TicksPerSecond);

    private AddConnectionResult AddTo<T>(ConnectionStore<T> store, ConnectionInsert<T> insert, out ConnectionHandle handle)
        where T : unmanaged, IStoredAddress<T>
    {
        var result = store.Add(ref insert, out int index, out uint generation);
        handle = result is AddConnectionResult.Added or AddConnectionResult.Exists ? store.HandleOf(index, generation) : default;
        if (result == AddConnectionResult.Exists && insert.Seen)
        {
            // The first packet of a connection another thread added meanwhile: processed on that one.
            _ = store.Update(index, generation, PacketDirection.Inbound, insert.Flags, CurrentTick);
        }

        return result;
    }

    /// <summary>
    /// A new connection (not a template) as its store's insert: see <see cref="FillInsert"/>.
    /// </summary>
    private static ConnectionInsert<T> ToInsert<T>(in NewConnection connection, ConnectionTimeouts timeouts, bool secureTcp)
        where T : unmanaged, IStoredAddress<T>
    {
        ConnectionInsert<T> insert = default;
        FillInsert(ref insert, connection, timeouts, secureTcp);
        return insert;
    }

    /// <summary>
    /// Writes a new connection (not a template) into its store's insert, every field but those
    /// <see cref="ConnectionStore{TAddress}.Prepare"/> sets: with its first packet's transition applied when
    /// <see cref="NewConnection.FirstPacket"/> is set, in LISTEN when <see cref="NewConnection.Listening"/>, else in
    /// NONE with the kernel's 3-second initial timeout.
    /// </summary>
    /// <remarks>
    /// In place, field by field: the batched add fills its group's inserts where they lie. Returning the struct
    /// instead made the caller copy it with wide vector moves from the narrow stores just made, and then read
    /// fields back from those wide stores (to hash them), which stalled store-to-load forwarding twice per insert.
    /// </remarks>
    private static void FillInsert<T>(ref ConnectionInsert<T> insert, in NewConnection connection, ConnectionTimeouts timeouts, bool secureTcp)
        where T : unmanaged, IStoredAddress<T>
    {
        var key = connection.Inbound;
        var method = connection.Method;
        bool fullNat = method == ForwardingMethod.FullNat;
        insert.Protocol = (byte)key.Protocol;
        insert.Client = T.From(key.SourceAddress);
        insert.ClientPort = key.SourcePort;
        insert.Virtual = T.From(key.DestinationAddress);
        insert.VirtualPort = key.DestinationPort;
        insert.Destination = T.From(connection.Destination.Address);
        insert.DestinationPort = connection.Destination.Port;
        insert.Local = fullNat ? T.From(connection.Local.Address) : default;
        insert.LocalPort = fullNat ? connection.Local.Port : (ushort)0;
        insert.RealServer = connection.RealServer;
        insert.Method = method;
        insert.Template = false;
        var control = connection.Template.IsSome ? connection.Template : connection.Control;
        insert.Control = control.IsSome ? control.Index : -1;
        insert.ControlGeneration = control.Generation;
        insert.ControlIsTemplate = connection.Template.IsSome;
        if (connection.FirstPacket is TcpFlags flags)
        {
            // The kernel's set_tcp_state on the packet that created the connection (NONE, inbound; INPUT-ONLY for the
            // methods whose replies bypass the director); other protocols have one state.
            var table = TcpStateMachine.TableFor(PacketDirection.Inbound, method is ForwardingMethod.DirectRouting or ForwardingMethod.Tunnel);
            byte state = key.Protocol switch
            {
                L4Protocol.Tcp => (byte)TcpStateMachine.Next(TcpConnectionState.None, table, flags, secureTcp),
                L4Protocol.Sctp => (byte)SctpStateMachine.Next(SctpConnectionState.None, table, (SctpChunkEvent)flags),
                _ => 0,
            };
            insert.Seen = true;
            insert.State = state;
            insert.Flags = flags;
            insert.TimeoutTicks = (uint)timeouts.For(key.Protocol, state);
        }
        else if (connection.Listening && key.Protocol == L4Protocol.Tcp)
        {
            // ip_vs_tcp_conn_listen: no packet yet, so not seen (and no incoming packet counted).
            insert.Seen = false;
            insert.State = (byte)TcpConnectionState.Listen;
            insert.Flags = default;
            insert.TimeoutTicks = (uint)timeouts.For(L4Protocol.Tcp, (int)TcpConnectionState.Listen);
        }
        else
        {
            insert.Seen = false;
            insert.State = 0;
            insert.Flags = default;
            insert.TimeoutTicks = ConnectionStore<T>.InitialTimeoutTicks;
        }
    }

    private static ConnectionInsert<T> ToInsert<T>(
        L4Protocol protocol,
        InetEndpoint client,
        InetEndpoint @virtual,
        InetEndpoint destination,
        InetEndpoint local,
        int realServer,
        ForwardingMethod method,
        bool template,
        int control,
        uint controlGeneration,
        uint timeoutTicks)
        where T : unmanaged, IStoredAddress<T>
    {
        bool fullNat = method == ForwardingMethod.FullNat;
        return new ConnectionInsert<T>
        {
            Protocol = (byte)protocol,
            Client = T.From(client.Address),
            ClientPort = client.Port,
            Virtual = T.From(@virtual.Address),
            VirtualPort = @virtual.Port,
            Destination = T.From(destination.Address),
            DestinationPort = destination.Port,
            Local = fullNat ? T.From(local.Address) : default,
            LocalPort = fullNat ? local.Port : (ushort)0,
            RealServer = realServer,
            Method = method,
            Template = template,
            Control = control,
            ControlGeneration = controlGeneration,
            TimeoutTicks = timeoutTicks,
        };
    }

    private static bool FindInbound<T>(ConnectionStore<T> store, L4Protocol protocol, InetEndpoint client, InetEndpoint @virtual, bool template, out ConnectionHandle handle, bool clientPacket = false)
        where T : unmanaged, IStoredAddress<T>
    {
        if (store.TryFindInbound((byte)protocol, T.From(client.Address), client.Port, T.From(@virtual.Address), @virtual.Port, template, out int index, out uint word, clientPacket))
        {
            handle = store.HandleFrom(index, word);
            return true;
        }

        handle = default;
        return false;
    }

    /// <summary>True unless <see cref="ConnectionTableOptions.ExpireNoDestinationConnections"/> is on and the connection's server is gone (then the connection is removed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool KeepIfServerAvailable(ConnectionHandle handle) =>
        !Options.ExpireNoDestinationConnections || KeepIfServerStillAvailable(handle);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool KeepIfServerStillAvailable(ConnectionHandle handle)
    {
        int server = handle.IsIPv6 ? _v6.EntryAt(handle.Index).RealServer : _v4.EntryAt(handle.Index).RealServer;
        if (Registry[server].IsAvailable)
        {
            return true;
        }

        _ = handle.IsIPv6
            ? _v6.Remove(handle.Index, handle.Generation, ConnectionEndReason.ServerUnavailable)
            : _v4.Remove(handle.Index, handle.Generation, ConnectionEndReason.ServerUnavailable);
        return false;
    }

    private static bool ReadControl<T>(ConnectionStore<T> store, ConnectionHandle handle, out ConnectionHandle control)
        where T : unmanaged, IStoredAddress<T>
    {
        control = default;
        if (!store.TryReadWord(handle.Index, handle.Generation, out uint word))
        {
            return false;
        }

        ref var e = ref store.EntryAt(handle.Index);
        uint meta = Volatile.Read(ref e.Meta);
        int index = ConnectionStore<T>.ControlOf(meta);
        if (index >= 0)
        {
            // Live while the connection is: its generation is the one in its word now.
            control = store.HandleFrom(index, Volatile.Read(ref store.EntryAt(index).Word));
        }

        // Read while the slot was this connection's.
        return ConnectionStore<T>.IsStillSame(ref e, word, 0, out _);
    }

    private static bool IsReusable<T>(ConnectionStore<T> store, ConnectionHandle handle, int mode, TcpFlags flags)
        where T : unmanaged, IStoredAddress<T>
    {
        if (!store.TryReadWord(handle.Index, handle.Generation, out uint word))
        {
            return false;
        }

        ref var e = ref store.EntryAt(handle.Index);
        if ((e.Meta & ConnectionStore<T>.TemplateMeta) != 0 || (e.Meta >> ConnectionStore<T>.AuxShift) != 0)
        {
            return false;
        }

        if (e.Protocol == (byte)L4Protocol.Sctp)
        {
            // is_new_conn: the first chunk is an INIT; is_new_conn_expected: the association is CLOSED.
            return (SctpChunkEvent)flags == SctpChunkEvent.Init && (word & ConnectionStore<T>.StateMask) == (uint)SctpConnectionState.Closed;
        }

        if (e.Protocol != (byte)L4Protocol.Tcp)
        {
            return false;
        }

        var state = (TcpConnectionState)(word & ConnectionStore<T>.StateMask);
        return state is TcpConnectionState.TimeWait or TcpConnectionState.Close
            || ((mode & 2) != 0 && state == TcpConnectionState.FinWait && (word & ConnectionStore<T>.NoOutputBit) != 0);
    }

    private bool ReadInfo<T>(ConnectionStore<T> store, int index, uint generation, out ConnectionInfo info)
        where T : unmanaged, IStoredAddress<T>
    {
        if (!store.TryReadWord(index, generation, out _) || !TryReadSlot(store, index, out info))
        {
            info = default;
            return false;
        }

        return store.TryReadWord(index, generation, out _);
    }

    private bool TryReadSlot<T>(ConnectionStore<T> store, int index, out ConnectionInfo info)
        where T : unmanaged, IStoredAddress<T>
    {
        ref var e = ref store.EntryAt(index);
        ref var r = ref store.RouteAt(index);
        uint word = Volatile.Read(ref e.Word);
        if ((word & ConnectionStore<T>.LiveBit) == 0)
        {
            info = default;
            return false;
        }

        var protocol = (L4Protocol)e.Protocol;
        bool isTemplate = (e.Meta & ConnectionStore<T>.TemplateMeta) != 0;
        var method = (ForwardingMethod)(e.Meta & ConnectionStore<T>.MethodMask);
        byte state = (byte)(word & ConnectionStore<T>.StateMask);
        string stateName = isTemplate ? ((word & ConnectionStore<T>.AssuredBit) != 0 ? "ASSURED" : "NONE") : protocol switch
        {
            L4Protocol.Tcp => TcpStateMachine.Name((TcpConnectionState)state),
            L4Protocol.Udp => "UDP",
            L4Protocol.Sctp => SctpStateMachine.Name((SctpConnectionState)state),
            _ => "ICMP",
        };
        long remainingTicks = (TimeSpan.TicksPerSecond * ((long)Volatile.Read(ref e.Expiry) - ConnectionStore<T>.ExpiryRounding)) - _time.GetElapsedTime(_start).Ticks;
        var expires = TimeSpan.FromSeconds(Math.Max(0, remainingTicks / TimeSpan.TicksPerSecond));
        info = new ConnectionInfo(
            protocol,
            new InetEndpoint(T.ToIpAddress(e.Client), e.ClientPort),
            new InetEndpoint(T.ToIpAddress(e.Virtual), e.VirtualPort),
            new InetEndpoint(T.ToIpAddress(r.Destination), r.DestinationPort),
            method == ForwardingMethod.FullNat ? new InetEndpoint(T.ToIpAddress(r.Local), r.LocalPort) : default,
            e.RealServer,
            method,
            isTemplate,
            state,
            stateName,
            expires,
            !isTemplate && (word & ConnectionStore<T>.InactiveBit) == 0);
        return ConnectionStore<T>.IsStillSame(ref e, word, 0, out _);
    }
}
