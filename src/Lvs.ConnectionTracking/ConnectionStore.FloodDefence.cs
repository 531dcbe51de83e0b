using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <content>
/// The part of <see cref="ConnectionStore{TAddress}"/> for flood defence: the random drop of an entry when the table is full (the kernel's ip_vs_random_dropentry).
/// </content>
internal sealed partial class ConnectionStore<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    internal const int ShedProbes = 32;

    /// <summary>How many probes ahead flood defence starts loading a probe's slot.</summary>
    private const int ShedLookahead = 4;

    /// <summary>How long an entry must have been idle before flood defence may shed it when no half-open entry is found (the kernel's <c>todrop_entry</c> rule).</summary>
    internal const uint IdleSheddingTicks = 60;

    public long Refused => SumOverShards(static (ref ShardState shard) => Interlocked.Read(ref shard.Refused));

    public long Shed => SumOverShards(static (ref ShardState shard) => Interlocked.Read(ref shard.Shed));

    /// <summary>
    /// Frees one slot when the table is full, like the kernel's <c>ip_vs_random_dropentry</c>: random probes look for
    /// a TCP entry in SYN_RECV or SYNACK, or a template that controls nothing and is not ASSURED, first, else an
    /// ESTABLISHED or non-TCP entry idle for at least 60 s (with <see cref="ConnectionTableOptions.ExtendedFloodDefence"/>
    /// also TCP entries in NONE and SYN_SENT at once, and entries in any state once idle), and of the idle ones one in
    /// i of those with i incoming packets, i from 1 to 8 (<see cref="TakeIdleTurn"/>). Connections in use are never
    /// shed.
    /// </summary>
    /// <remarks>
    /// Called with the lock of shard <paramref name="held"/> when every shard is full. The probes cover the whole table:
    /// a slot of another shard is probed with that shard's lock, taken without waiting (a busy shard's probe is
    /// skipped). Returns the shard that now has a free slot, its lock held (the caller's, or another's that the caller
    /// must release), or -1 when nothing was shed. The generator and the idle counters are the caller's shard's.
    /// </remarks>
    private int TryShedLocked(int held, uint now, Span<ConnectionEnd> ends, ref int endCount)
    {
        int shed = TryShedProbing(held, now, ends, ref endCount);

        // While the table is full every insert sheds, nearly always the slot of its first probe (a flood fills the table
        // with half-open connections). A shed of a random slot would wait for its entry line, then its route line, then
        // its inbound bucket, outbound chain head and timer neighbours, then the chain's next link, each a DRAM read
        // after the other; so the sheds are pipelined over the next three, whose probes are known (the generator is a
        // counter: each shed takes the next ShedProbes numbers). The first slot of the shed three ahead gets its entry
        // and route lines loaded; that of the shed two ahead, loaded by the last shed, its index and timer lines; that of
        // the next shed, its outbound chain's second link when the chain does not start with it (and the next shed's
        // further probes their entry lines).
        ulong next = Shard(held).Random;
        int third = ShedProbe(next + (2 * ShedProbes));
        PrefetchEntry(third);
        PrefetchRoute(third);
        PrefetchRemoval(ShedProbe(next + ShedProbes));
        PrefetchOutboundLink(ShedProbe(next));
        for (int probe = 1; probe < ShedLookahead; probe++)
        {
            PrefetchEntry(ShedProbe(next + (ulong)probe));
        }

        return shed;
    }

    /// <summary>
    /// The slot flood defence's <paramref name="n"/>th number probes: the number mixed (SplitMix64's finaliser, so a
    /// counter gives independent, uniform draws and any later draw is known in advance), its high half scaled to the
    /// table by a multiplication.
    /// </summary>
    private int ShedProbe(ulong n)
    {
        ulong z = n * 0x9E37_79B9_7F4A_7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        z ^= z >> 31;
        return (int)(((z >> 32) * (ulong)(uint)_entries.Length) >> 32);
    }

    /// <summary>
    /// Starts loading the lines a removal of the entry at <paramref name="index"/> writes besides its own (its inbound
    /// bucket, its outbound chain's head, its timer wheel neighbours), reading its entry and route lines racily: a
    /// stale read only wastes a load.
    /// </summary>
    private void PrefetchRemoval(int index)
    {
        ref var e = ref _entries[index];
        if ((Volatile.Read(ref e.Word) & LiveBit) == 0)
        {
            return;
        }

        PrefetchInboundHead(ProbeOf(InboundHash(ref e), PartitionOf(index)));
        PrefetchOutboundHeadAndTimer(index, (e.Meta & OutboundMeta) != 0 ? OutboundBucket(index) : -1);
    }

    /// <summary>
    /// Starts loading the route line of the second link of the outbound chain of the entry at <paramref name="index"/>
    /// when the chain does not start with it (the unlink walks from there), read racily.
    /// </summary>
    private void PrefetchOutboundLink(int index)
    {
        ref var e = ref _entries[index];
        if ((Volatile.Read(ref e.Word) & LiveBit) == 0 || (e.Meta & OutboundMeta) == 0)
        {
            return;
        }

        int head = Volatile.Read(ref OutboundHeadOf(OutboundBucket(index)));
        if (head != index)
        {
            PrefetchRoute(head);
        }
    }

    private int TryShedProbing(int held, uint now, Span<ConnectionEnd> ends, ref int endCount)
    {
        int idle = -1;
        uint idleWord = 0;
        ref var state = ref Shard(held);

        // Each probe's slot is loaded ShedLookahead probes ahead of its reading (the first ones were started by the
        // last shed): probed one after the other, each random line of the table would cost a full memory latency.
        ulong first = state.Random;
        state.Random = first + ShedProbes;
        for (int probe = 0; probe < ShedLookahead; probe++)
        {
            PrefetchEntry(ShedProbe(first + (ulong)probe));
        }

        for (int probe = 0; probe < ShedProbes; probe++)
        {
            if (probe + ShedLookahead < ShedProbes)
            {
                PrefetchEntry(ShedProbe(first + (ulong)(probe + ShedLookahead)));
            }

            int i = ShedProbe(first + (ulong)probe);
            ref var e = ref _entries[i];
            uint w = Volatile.Read(ref e.Word);
            if ((w & LiveBit) == 0)
            {
                continue;
            }

            if ((e.Meta & TemplateMeta) != 0)
            {
                // ip_vs_random_dropentry: a template that controls no connection and was never assured (a SYN flood on a
                // persistent service leaves one per spoofed source) goes at once; other templates stay.
                if ((w & AssuredBit) == 0 && (Volatile.Read(ref e.Meta) >> AuxShift) == 0
                    && TryShed(held, i, w, ends, ref endCount, out int freed))
                {
                    return freed;
                }

                continue;
            }

            // What the kernel drops at once: TCP in SYN_RECV or SYNACK (with ExtendedFloodDefence also NONE and
            // SYN_SENT), SCTP in INIT1 or INIT (with ExtendedFloodDefence also NONE); what it drops once idle
            // (todrop_entry): ESTABLISHED and other protocols (with ExtendedFloodDefence entries in any state). Other
            // TCP and SCTP states are never dropped by the kernel.
            uint entryState = w & StateMask;
            bool tcp = e.Protocol == (byte)L4Protocol.Tcp;
            bool sctp = e.Protocol == (byte)L4Protocol.Sctp;
            var tcpState = (TcpConnectionState)entryState;
            var sctpState = (SctpConnectionState)entryState;
            bool extended = _table.Options.ExtendedFloodDefence;
            if ((tcp && (extended ? TcpStateMachine.IsHalfOpen(tcpState) : tcpState is TcpConnectionState.SynRecv or TcpConnectionState.SynAck))
                || (sctp && (sctpState is SctpConnectionState.Init1 or SctpConnectionState.Init || (extended && sctpState == SctpConnectionState.None))))
            {
                if (TryShed(held, i, w, ends, ref endCount, out int freed))
                {
                    return freed;
                }

                continue;
            }

            // Idle means the last packet came at least 60 s ago: the entry's expiry minus the timeout that packet set
            // (or, after a timeout change, one no longer; see IdleTimeoutFloor). Before its first packet an entry runs
            // on the 3-second initial timeout and is never idle (the kernel's todrop_entry compares against
            // cp->timeout, which is that initial timeout until the first state change).
            if (idle < 0 && (w & SeenBit) != 0
                && (extended || (tcp ? tcpState == TcpConnectionState.Established : !sctp || sctpState == SctpConnectionState.Established)))
            {
                uint lastSeen = Volatile.Read(ref e.Expiry) - ExpiryRounding - (uint)_shardParts[held].IdleTimeouts.For((L4Protocol)e.Protocol, (int)entryState, now);
                if ((int)(now - lastSeen) >= (int)IdleSheddingTicks && TakeIdleTurn(Volatile.Read(ref e.Meta)))
                {
                    idle = i;
                    idleWord = w;
                }
            }
        }

        return idle >= 0 && TryShed(held, idle, idleWord, ends, ref endCount, out int shed) ? shed : -1;
    }

    /// <summary>
    /// Sheds the entry at <paramref name="index"/> if it is still the one whose word was <paramref name="word"/>, with
    /// its shard's lock (held, or taken without waiting); on success that shard, whose lock stays held, is in
    /// <paramref name="shard"/>.
    /// </summary>
    private bool TryShed(int held, int index, uint word, Span<ConnectionEnd> ends, ref int endCount, out int shard)
    {
        shard = ShardOf(index);
        if (shard != held && !TryEnterShard(shard))
        {
            return false;
        }

        if (RemoveLocked(index, GenerationOf(ref _entries[index], word)))
        {
            _ = Interlocked.Increment(ref Shard(held).Shed);
            if (endCount < ends.Length)
            {
                ends[endCount++] = DescribeEnd(index, ConnectionEndReason.Dropped);
            }

            return true;
        }

        if (shard != held)
        {
            ExitShard(shard);
        }

        return false;
    }

    /// <summary>
    /// The rest of the kernel's <c>todrop_entry</c> for an entry idle for 60 s, weighted by its incoming packet count
    /// i: none (i = 0) or more than 8 and it is never dropped; otherwise one in i of the idle entries with that count
    /// that flood defence meets is dropped (a counter per count, <c>todrop_counter[i]</c> against
    /// <c>todrop_rate[i] = i</c>), so a connection that saw few packets goes before one that saw more.
    /// </summary>
    /// <remarks>
    /// The counters are the store's, shared by the shards (as the kernel's are per network namespace), and changed by
    /// compare-and-swap, so the one-in-i rule holds exactly when the threads of several shards shed at once.
    /// </remarks>
    private bool TakeIdleTurn(uint meta)
    {
        uint packets = (meta & InPacketsMask) >> InPacketsShift;
        if (packets is 0 or >= InPacketsSaturated)
        {
            return false;
        }

        ref int counter = ref _dropCounters[packets];
        while (true)
        {
            int seen = Volatile.Read(ref counter);
            bool turn = seen <= 1;
            if (Interlocked.CompareExchange(ref counter, turn ? (int)packets : seen - 1, seen) == seen)
            {
                return turn;
            }
        }
    }
}
