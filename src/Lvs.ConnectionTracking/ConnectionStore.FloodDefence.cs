using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <content>
/// The part of <see cref="ConnectionStore{TAddress}"/> for flood defence: the random drop of an entry when the table is full (the kernel's ip_vs_random_dropentry).
/// </content>
internal sealed partial class ConnectionStore<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    internal const int ShedProbes = 32;

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
        int idle = -1;
        uint idleWord = 0;
        ref var state = ref Shard(held);
        for (int probe = 0; probe < ShedProbes; probe++)
        {
            state.Random ^= state.Random << 13;
            state.Random ^= state.Random >> 7;
            state.Random ^= state.Random << 17;
            int i = (int)((state.Random >> 11) % (ulong)_entries.Length);
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
