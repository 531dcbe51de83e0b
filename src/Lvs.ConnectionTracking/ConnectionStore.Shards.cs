using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lvs.ConnectionTracking;

/// <content>
/// The part of <see cref="ConnectionStore{TAddress}"/> for its writer shards and the stripe locks of its two indexes:
/// which shard a thread inserts into, which shard owns a slot, and the small spin locks that order the writers.
/// </content>
/// <remarks>
/// <para>
/// A shard owns a contiguous range of slots with their free list, its own timer wheel, refile queue, flood-defence
/// state and counters, under its own lock. A thread inserts into a shard its lane (each thread that inserts gets the
/// next lane on its first insert) has claimed, moving to another when it is full, so two packet threads write
/// disjoint shard state and disjoint slots and never bounce those cache lines between them; removals, expiry and
/// re-filing take the lock of the slot's shard.
/// </para>
/// <para>
/// The indexes are shared by all shards: a key's inbound bucket and a reply key's outbound chain hold slots of any
/// shard. Their writes (cells, overflow and outbound chain links) are made under a stripe lock of the bucket
/// (<c>bucket &amp; 4095</c>, the stripes of the versions), which also makes an insert's duplicate check atomic: two
/// inserts of one key take the same stripe lock. Lock order: a shard lock, then stripe locks, inbound ones in
/// increasing stripe order (an insert with a controlling template holds its key's and the template's), never an
/// outbound one with an inbound one. A shard lock is only ever waited for while holding no lock; a holder of one may
/// try another without waiting (donor shards and flood defence, below), so no cycle can form.
/// </para>
/// <para>
/// Capacity keeps its meaning: when the inserting thread's shard has no free slot, the insert takes one from any shard
/// that has (trying their locks without waiting); only when every shard is full does flood defence shed, probing
/// random slots of the whole table as before.
/// </para>
/// </remarks>
internal sealed partial class ConnectionStore<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    /// <summary>Slots per writer shard at least, when the shard count is chosen from the capacity.</summary>
    internal const int MinSlotsPerShard = 16384;

    /// <summary>The most writer shards of a store.</summary>
    internal const int MaxShards = 16;

    /// <summary>1 + the calling thread's lane (0 until its first insert); the lane picks the shard it inserts into.</summary>
    [ThreadStatic]
    private static int t_lane;

    private static int s_lanes;

    /// <summary>The lanes whose current shard a store remembers (lanes further apart share an entry, which is still correct).</summary>
    private const int LaneSlots = 64;

    /// <summary>The number of writer shards for a capacity: one per <see cref="MinSlotsPerShard"/> slots, at most <see cref="MaxShards"/>.</summary>
    internal static int ShardCountFor(int capacity, int requested) =>
        requested > 0 ? Math.Clamp(requested, 1, Math.Max(1, Math.Min(MaxShards, capacity))) : Math.Clamp(capacity / MinSlotsPerShard, 1, MaxShards);

    /// <summary>The number of writer shards.</summary>
    public int ShardCount => _shards.Length - 1;

    /// <summary>
    /// Writer shard <paramref name="k"/>'s state: block k + 1 of the array, whose block 0 only keeps the array's header
    /// (read by every insert from every thread) off the first shard's lines.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref ShardState Shard(int k) => ref _shards[k + 1];

    /// <summary>The shard that owns slot <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int ShardOf(int index) => ShardCount == 1 ? 0 : Math.Min(index / _shardSize, ShardCount - 1);

    /// <summary>The calling thread's lane: a number taken on its first insert into any store (1, 2, 3...).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Lane()
    {
        int lane = t_lane;
        return lane != 0 ? lane : NewLane();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int NewLane() => t_lane = Interlocked.Increment(ref s_lanes);

    /// <summary>
    /// Takes the lock of the shard the calling thread inserts into, for one insert or a batch of <see cref="AddLocked"/>
    /// calls, and returns it: the shard its lane last claimed while that has a free slot, else a newly claimed one.
    /// </summary>
    public int EnterOwnShard()
    {
        if (ShardCount == 1)
        {
            EnterShard(0);
            return 0;
        }

        int lane = Lane();
        ref int current = ref _laneShards[lane & (LaneSlots - 1)];
        int shard = Volatile.Read(ref current);
        if (shard < 0 || Volatile.Read(ref Shard(shard).FreeHead) < 0 || ((shard ^ CallerPartition) & _partitionMask) != 0)
        {
            shard = ClaimShard(lane, shard);
            Volatile.Write(ref current, shard);
        }

        EnterShard(shard);
        return shard;
    }

    /// <summary>
    /// A shard for a lane whose shard (<paramref name="previous"/>, -1 for none yet) is full or of another partition
    /// than the calling packet thread's: the first from the lane's own place, in the thread's partition, that has a
    /// free slot and no other lane, claimed for this one; else the first such with a free slot, shared; else the same
    /// in any partition (the slot is then indexed in its own shard's partition); else the previous one (its add then
    /// sheds; see <see cref="AddLocked"/>). Claims keep packet threads on different shards while there are enough; a
    /// claim given up is released.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int ClaimShard(int lane, int previous)
    {
        if (previous >= 0)
        {
            _ = Interlocked.CompareExchange(ref Shard(previous).Owner, 0, lane);
        }

        int start = previous >= 0 ? previous + 1 : (lane - 1) % ShardCount;
        int partition = CallerPartition;
        int shared = -1;
        int elsewhere = -1;
        for (int k = 0; k < ShardCount; k++)
        {
            int j = (start + k) % ShardCount;
            ref var state = ref Shard(j);
            if (Volatile.Read(ref state.FreeHead) < 0)
            {
                continue;
            }

            if ((j & _partitionMask) != partition)
            {
                elsewhere = elsewhere < 0 ? j : elsewhere;
                continue;
            }

            int owner = Volatile.Read(ref state.Owner);
            if (owner == lane || (owner == 0 && Interlocked.CompareExchange(ref state.Owner, lane, 0) == 0))
            {
                return j;
            }

            shared = shared < 0 ? j : shared;
        }

        return shared >= 0 ? shared : elsewhere >= 0 ? elsewhere : Math.Max(previous, 0);
    }

    /// <summary>Takes a shard's lock, waiting for it (never while holding another lock).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void EnterShard(int shard) => EnterGate(ref Shard(shard).Gate);

    /// <summary>Releases a shard's lock.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ExitShard(int shard) => ExitGate(ref Shard(shard).Gate);

    private bool TryEnterShard(int shard) => Interlocked.CompareExchange(ref Shard(shard).Gate, 1, 0) == 0;

    /// <summary>Takes a spin lock (a shard's or a stripe's: all are held briefly).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EnterGate(ref int gate)
    {
        if (Interlocked.CompareExchange(ref gate, 1, 0) != 0)
        {
            EnterGateContended(ref gate);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void EnterGateContended(ref int gate)
    {
        var spin = default(SpinWait);
        do
        {
            spin.SpinOnce();
        }
        while (Volatile.Read(ref gate) != 0 || Interlocked.CompareExchange(ref gate, 1, 0) != 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ExitGate(ref int gate) => Volatile.Write(ref gate, 0);

    /// <summary>
    /// Takes a stripe lock when the store has more than one shard; with one, every writer holds the shard's lock, which
    /// covers the indexes too, and the stripe locks (an interlocked instruction each) are left out.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void EnterStripe(ref int gate)
    {
        if (_striped)
        {
            EnterGate(ref gate);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ExitStripe(ref int gate)
    {
        if (_striped)
        {
            ExitGate(ref gate);
        }
    }

    /// <summary>
    /// A shard other than <paramref name="held"/> (whose lock the caller holds) with a free slot, its lock taken without
    /// waiting for it; -1 when every shard is full. A shard whose lock is busy is tried again while it has free slots.
    /// </summary>
    private int TakeDonorShard(int held)
    {
        var spin = default(SpinWait);
        for (int round = 0; round < 1000; round++)
        {
            bool busy = false;
            for (int k = 1; k < ShardCount; k++)
            {
                int j = (held + k) % ShardCount;
                if (Volatile.Read(ref Shard(j).FreeHead) < 0)
                {
                    continue;
                }

                if (!TryEnterShard(j))
                {
                    busy = true;
                    continue;
                }

                if (Shard(j).FreeHead >= 0)
                {
                    return j;
                }

                ExitShard(j);
            }

            if (!busy)
            {
                return -1;
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }

        return -1;
    }

    /// <summary>Reads one counter of a shard (for <see cref="SumOverShards"/>).</summary>
    private delegate long ShardCounter(ref ShardState shard);

    /// <summary>A counter summed over the shards: the table-wide figure (<c>Count</c>, <c>Expired</c>, <c>Refused</c>...), read while writers run.</summary>
    private long SumOverShards(ShardCounter counter)
    {
        long sum = 0;
        for (int k = 0; k < ShardCount; k++)
        {
            sum += counter(ref Shard(k));
        }

        return sum;
    }

    /// <summary>
    /// A writer shard's state, written under its lock (the counters read without it), 128 bytes apart from the next
    /// shard's so that threads inserting into different shards share no cache line.
    /// </summary>
    [StructLayout(LayoutKind.Sequential, Size = 128)]
    private struct ShardState
    {
        /// <summary>The shard's lock: 1 while held.</summary>
        public int Gate;

        /// <summary>The lane that claimed the shard for its inserts (0: none; see <see cref="ClaimShard"/>).</summary>
        public int Owner;
        public int FreeHead;
        public int Count;
        public uint LastTick;
        public int Retired;
        public int Start;
        public int End;
        public ulong Random;
        public long Refused;
        public long Shed;
        public long Expired;
    }

    /// <summary>A writer shard's parts that are objects (read-only references; what they hold is written under the shard's lock).</summary>
    private sealed class ShardParts(int[] wheel, RefileQueue refiles, IdleTimeoutFloor idleTimeouts)
    {
        public readonly int[] Wheel = wheel;
        public readonly RefileQueue Refiles = refiles;
        public readonly IdleTimeoutFloor IdleTimeouts = idleTimeouts;
    }
}
