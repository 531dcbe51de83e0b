using System.Numerics;
using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <content>
/// The part of <see cref="ConnectionStore{TAddress}"/> for inserts: prepared outside the writer locks, added under them, one by one or in batches.
/// </content>
internal sealed partial class ConnectionStore<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    /// <summary>
    /// Computes an insert's buckets and starts loading its chain heads and the next free slot, without the lock: an
    /// insert's reads then overlap each other (and, in a batch, other inserts') instead of each waiting for DRAM in
    /// turn under the lock, whose interlocked instructions would also drain them one by one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prepare(ref ConnectionInsert<TAddress> insert)
    {
        byte kind = insert.Template ? FlowHashKey<TAddress>.TemplateKind : FlowHashKey<TAddress>.InboundKind;
        insert.InProbe = ProbeOf(FlowHashKey<TAddress>.Hash(kind, insert.Protocol, insert.Client, insert.ClientPort, insert.Virtual, insert.VirtualPort, _secret), CallerPartition);
        PrefetchInboundHead(insert.InProbe);
        insert.OutBucket = -1;
        if (insert.HasOutboundKey)
        {
            bool fullNat = insert.Method == ForwardingMethod.FullNat;
            insert.OutBucket = OutboundBucket(
                insert.Protocol,
                insert.Destination,
                insert.DestinationPort,
                fullNat ? insert.Local : insert.Client,
                fullNat ? insert.LocalPort : insert.ClientPort);
            PrefetchOutboundHead(insert.OutBucket);
        }
    }

    /// <summary>Adds one connection (see <see cref="AddLocked"/>) into the calling thread's shard.</summary>
    public AddConnectionResult Add(ref ConnectionInsert<TAddress> insert, out int index, out uint generation)
    {
        Prepare(ref insert);
        if (_observer is null)
        {
            int none = 0;
            int shard = EnterOwnShard();
            try
            {
                return AddLocked(shard, in insert, out index, out generation, default, ref none);
            }
            finally
            {
                ExitShard(shard);
            }
        }

        return AddAndReport(in insert, out index, out generation);
    }

    /// <summary><see cref="Add"/> with an observer: an entry dropped to make room is reported once the lock is released.</summary>
    private AddConnectionResult AddAndReport(in ConnectionInsert<TAddress> insert, out int index, out uint generation)
    {
        Span<ConnectionEnd> ends = stackalloc ConnectionEnd[1];
        int count = 0;
        AddConnectionResult result;
        int shard = EnterOwnShard();
        try
        {
            result = AddLocked(shard, in insert, out index, out generation, ends, ref count);
        }
        finally
        {
            ExitShard(shard);
        }

        Report(ends[..count]);
        return result;
    }

    /// <summary>
    /// Adds a prepared connection or template, with the lock of <paramref name="shard"/> held (see
    /// <see cref="EnterOwnShard"/>), unless one with the same inbound key is live (then returns it). The slot comes
    /// from that shard, else from any shard with a free one; when every shard is full an entry is shed (see
    /// <see cref="TryShedLocked"/>). With an observer, the shed entry is described in <paramref name="ends"/> at
    /// <paramref name="endCount"/> (which it advances), for the caller to report after releasing the lock;
    /// <paramref name="ends"/> is empty without one.
    /// </summary>
    public AddConnectionResult AddLocked(int shard, in ConnectionInsert<TAddress> insert, out int index, out uint generation, Span<ConnectionEnd> ends, ref int endCount)
    {
        int from = shard;

        // The insert's probe is in the calling thread's partition (Prepare, on this thread).
        int caller = CallerPartition;

        // With several partitions the key may be live in another one than the insert's: looked for there first,
        // without a lock (see ConnectionStore.Partitions.cs). With one, the check under the stripe lock is the only one.
        // Steered (ConnectionTableOptions.SteeredFlows), an add with its first packet, by the thread its flow is steered
        // to, looks only where connections for any thread are: the other partitions hold other threads' flows.
        if (_partitionMask != 0
            && TryFindInboundElsewhere(insert.InProbe, caller, shard & _partitionMask, insert.Protocol, insert.Client, insert.ClientPort, insert.Virtual, insert.VirtualPort, insert.Template, out index, out uint elsewhere, anywhereOnly: insert.Seen && !insert.Template))
        {
            generation = GenerationOf(ref _entries[index], elsewhere);
            return AddConnectionResult.Exists;
        }

        if (Shard(shard).FreeHead < 0)
        {
            // No free slot here. What the insert would answer without one comes first, as before shedding (the answers
            // are checked again under the stripe locks below): a live connection with the key, an invalid template.
            if (TryFindInbound(InboundProbeIn(insert.InProbe, caller, shard & _partitionMask), insert.Protocol, insert.Client, insert.ClientPort, insert.Virtual, insert.VirtualPort, insert.Template, out index, out uint existing))
            {
                generation = GenerationOf(ref _entries[index], existing);
                return AddConnectionResult.Exists;
            }

            int control = insert.Control;
            if (control >= 0 && !IsController(control, insert.ControlGeneration, insert.ControlIsTemplate))
            {
                generation = 0;
                return AddConnectionResult.Invalid;
            }

            from = ShardCount == 1 ? -1 : TakeDonorShard(shard);
            if (from < 0)
            {
                from = TryShedLocked(shard, _table.CurrentTick, ends, ref endCount);
                if (from < 0)
                {
                    _ = Interlocked.Increment(ref Shard(shard).Refused);
                    index = -1;
                    generation = 0;
                    return AddConnectionResult.Full;
                }
            }
        }

        try
        {
            // The connection goes into the index partition of its slot's shard.
            int partition = from & _partitionMask;
            int outBucket = insert.OutBucket >= 0 ? OutboundBucketIn(insert.OutBucket, partition) : -1;
            return AddInto(from, in insert, InboundProbeIn(insert.InProbe, caller, partition), caller, outBucket, out index, out generation);
        }
        finally
        {
            if (from != shard)
            {
                ExitShard(from);
            }
        }
    }

    /// <summary>
    /// The insert itself, into a free slot of <paramref name="shard"/> (whose lock is held and which has one): under
    /// the stripe lock of the key's inbound bucket (and of the controlling template's, in stripe order), the
    /// authoritative duplicate check, the template's reference and the publication in the inbound index; then, under
    /// the outbound bucket's stripe lock too, the outbound link; then the timer. <paramref name="callerPartition"/> is the
    /// calling thread's partition (a steered connection put elsewhere is marked for any thread).
    /// </summary>
    /// <remarks>
    /// Every stripe lock is taken before the first write to an index line, and released with plain stores: an
    /// interlocked instruction waits until every earlier store has reached the cache, so a lock taken after the
    /// inbound bucket's write would wait for that line to come from whichever core last read it (with index
    /// partitions, another packet thread looking for its misses), where taken first it lets the line come while the
    /// thread goes on.
    /// </remarks>
    private AddConnectionResult AddInto(int shard, in ConnectionInsert<TAddress> insert, int probe, int callerPartition, int outBucket, out int index, out uint generation)
    {
        uint now = _table.CurrentTick;
        bool template = insert.Template;
        int control = insert.Control;
        int inStripe = InboundStripe(probe >> ProbeTagBits);
        int controlStripe = control >= 0 && _striped ? InboundStripeOf(control) : inStripe;
        if (_striped)
        {
            EnterGate(ref _inLocks[Math.Min(inStripe, controlStripe)]);
            if (controlStripe != inStripe)
            {
                EnterGate(ref _inLocks[Math.Max(inStripe, controlStripe)]);
            }

            if (outBucket >= 0)
            {
                EnterGate(ref _outLocks[OutboundStripe(outBucket)]);
            }
        }

        int i;
        try
        {
            if (TryFindInbound(probe, insert.Protocol, insert.Client, insert.ClientPort, insert.Virtual, insert.VirtualPort, template, out index, out uint existing))
            {
                generation = GenerationOf(ref _entries[index], existing);
                return AddConnectionResult.Exists;
            }

            // The controller (a template, or a connection such as an FTP control connection) must be live with the
            // handle's generation; it cannot end while its stripe lock is held (a removal checks under that lock that
            // it controls nothing), so the reference taken here is exact.
            if (control >= 0 && !IsController(control, insert.ControlGeneration, insert.ControlIsTemplate))
            {
                generation = 0;
                return AddConnectionResult.Invalid;
            }

            ref var state = ref Shard(shard);
            i = state.FreeHead;
            ref var e = ref _entries[i];
            ref var r = ref _routes[i];
            state.FreeHead = e.NextIn;

            // The next insert's slot: free slots are scattered once connections have come and gone.
            PrefetchEntry(state.FreeHead);
            if ((uint)state.FreeHead < (uint)_routes.Length)
            {
                MemoryPrefetch.Line(ref _routes[state.FreeHead]);
            }

            // The slot's next generation: never 0, never a repeat (a slot is retired at the last one, see RemoveLocked).
            generation = GenerationOf(ref e, e.Word) + 1;
            e.Era = (byte)(generation >> 24);

            e.Client = insert.Client;
            e.ClientPort = insert.ClientPort;
            e.Virtual = insert.Virtual;
            e.VirtualPort = insert.VirtualPort;
            r.Destination = insert.Destination;
            r.DestinationPort = insert.DestinationPort;
            r.Local = insert.Local;
            r.LocalPort = insert.LocalPort;
            // Steered, a connection added without its first packet (a helper's expected connection) or into another
            // partition than its thread's is marked for lookups from any thread, and counted in its partition before it
            // is published (a lookup that read the count as 0 was before the add).
            bool anywhere = _steered && !template && (!insert.Seen || (shard & _partitionMask) != callerPartition);
            r.Controlled = anywhere ? AnywhereBit : 0;
            if (anywhere)
            {
                _ = Interlocked.Increment(ref _partitionExpiry[shard & _partitionMask].Anywhere);
            }

            e.Protocol = insert.Protocol;
            e.RealServer = (ushort)insert.RealServer;
            bool outbound = outBucket >= 0;
            e.Meta = (uint)insert.Method | (template ? TemplateMeta : 0) | (outbound ? OutboundMeta : 0)
                | (control >= 0 ? (uint)(control + 1) << AuxShift : 0)
                | (insert.Seen && !template ? InPacketsUnit : 0); // the first packet, applied by the insert, came in
            e.Expiry = now + ExpiryRounding + insert.TimeoutTicks;
            // A template has no outbound link: the field holds its timeout (readers tolerate it, see TryFindInbound).
            r.NextOut = template ? (int)insert.TimeoutTicks : -1;

            // Connections start inactive (the kernel's ip_vs_bind_dest with IP_VS_CONN_F_INACTIVE from the dest's
            // conn_flags); direct routing and tunnelling see no replies (IP_VS_CONN_F_NOOUTPUT).
            bool noOutput = insert.Method is ForwardingMethod.DirectRouting or ForwardingMethod.Tunnel;
            uint word = (generation << GenerationShift) | LiveBit | (noOutput && !template ? NoOutputBit : 0);

            // With the first packet processed (NewConnection.FirstPacket), the connection starts in the state it led to,
            // counted active or inactive accordingly (the kernel's set_tcp_state right after ip_vs_bind_dest).
            bool active = insert.Seen && (insert.Protocol == (byte)L4Protocol.Tcp
                ? TcpStateMachine.IsActive((TcpConnectionState)insert.State)
                : insert.Protocol == (byte)L4Protocol.Sctp && SctpStateMachine.IsActive((SctpConnectionState)insert.State));
            // An unseen connection is in NONE, or in LISTEN when expected (NewConnection.Listening).
            word |= (insert.Seen ? SeenBit : 0) | insert.State | (active ? 0 : InactiveBit);

            var server = _table.Registry[insert.RealServer];
            if (template)
            {
                server.AddPersistentConnection();
            }
            else
            {
                server.AddConnection(active);
            }

            if (control >= 0 && !insert.ControlIsTemplate)
            {
                // A connection controlling another (ip_vs_control_add: an FTP data connection's control connection).
                _ = Interlocked.Increment(ref _routes[control].Controlled);
            }
            else if (control >= 0)
            {
                ref var t = ref _entries[control];
                _ = Interlocked.Add(ref t.Meta, AuxUnit);
                if (insert.Seen && (insert.Protocol == (byte)L4Protocol.Tcp
                    ? insert.State == (byte)TcpConnectionState.Established
                    : insert.Protocol == (byte)L4Protocol.Sctp && insert.State == (byte)SctpConnectionState.Established))
                {
                    Assure(control);
                }

                // A template is refreshed by every connection it places (the kernel's ct->timeout = svc->timeout).
                Rearm(control, now);
            }

            // Publish: key fields before the word (release), the word before the links: an empty cell of the bucket if
            // there is one, else the head of its overflow chain.
            Volatile.Write(ref e.Word, word);
            ref var line = ref _inLines[probe >> ProbeTagBits];
            uint empty = line.CellsEqual(0, _cells);
            if (empty != 0)
            {
                e.NextIn = -1;
                Volatile.Write(ref line[BitOperations.TrailingZeroCount(empty)], InboundBucket.Cell((uint)probe & ProbeTagMask, i));
            }
            else
            {
                e.NextIn = InboundBucket.IndexOf(line[InboundBucket.OverflowCell]);
                Volatile.Write(ref line[InboundBucket.OverflowCell], InboundBucket.Cell(0, i));
            }

            if (outBucket >= 0)
            {
                // The outbound chain holds slots of every shard of its partition: its links change under the bucket's
                // stripe lock.
                ref int head = ref OutboundHeadOf(outBucket);
                _routes[i].NextOut = head;
                Volatile.Write(ref head, i);
            }
        }
        finally
        {
            if (_striped)
            {
                if (outBucket >= 0)
                {
                    ExitGate(ref _outLocks[OutboundStripe(outBucket)]);
                }

                if (controlStripe != inStripe)
                {
                    ExitGate(ref _inLocks[Math.Max(inStripe, controlStripe)]);
                }

                ExitGate(ref _inLocks[Math.Min(inStripe, controlStripe)]);
            }
        }

        FileLocked(shard, i, _entries[i].Expiry);
        Shard(shard).Count++;
        index = i;
        return AddConnectionResult.Added;
    }

    /// <summary>Whether the entry at <paramref name="index"/> is live with <paramref name="generation"/> and is a template (or, when not <paramref name="template"/>, a connection).</summary>
    private bool IsController(int index, uint generation, bool template) =>
        TryReadWord(index, generation, out _) && ((_entries[index].Meta & TemplateMeta) != 0) == template;
}
