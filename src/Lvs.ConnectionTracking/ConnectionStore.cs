using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <summary>
/// The connections of one address family: a slab of slots, each a <see cref="ConnectionEntry{TAddress}"/> (what
/// lookups read, cache-line aligned) and a <see cref="ConnectionRoute{TAddress}"/> at the same index in a second
/// array, two hash indexes (inbound keys in <see cref="InboundBucket"/>s of tagged cells with overflow chains,
/// outbound keys in chains) and a timer wheel, all linked by int indexes. See docs/connection-tracking.md.
/// </summary>
/// <remarks>
/// <para>Concurrency model.</para>
/// <list type="bullet">
/// <item>Lookups never lock and never wait. A reader walks a chain with volatile reads; for each candidate it reads
/// the entry's <c>Word</c>, compares the key, issues a read barrier and reads <c>Word</c> again: a match counts only if
/// the slot was live with the same generation before and after, so a slot freed and refilled under the reader is
/// never mistaken for the connection. A miss counts only if the version of the chain's stripe did not change during
/// the walk: every unlink bumps it before the slot can be reused, so a reader that was led astray by a reused slot
/// (which could hide a live connection) walks again.</item>
/// <item>Structural changes (insert, unlink, the free list, the timer wheel) are made under short writer locks: the lock
/// of a writer shard (a range of slots with its free list and timer wheel), held for a single insert or removal, a
/// batch of inserts, or at most <see cref="HousekeepingBatch"/> expiries, and within it the stripe lock of each index
/// bucket written (ConnectionStore.Shards.cs). Readers never take any.</item>
/// <item>The per-packet update (state transition and timer refresh) takes no lock: the state, flags and generation are
/// one 32-bit word changed by compare-and-swap, and the real server's active/inactive counters follow the winner of
/// each swap, so they end exact whatever the interleaving. The expiry tick is a separate 32-bit field; a refresh only
/// writes it. The wheel is lazy: an entry stays filed at its old tick when its expiry moves later, and is re-filed when
/// that tick comes; a transition that shortens the timeout (to CLOSE, FIN_WAIT...) puts the entry in a lock-free
/// queue of the slot's shard that housekeeping drains, under the shard's lock, before it expires anything (the packet
/// thread takes the lock itself only if that queue is full).</item>
/// </list>
/// </remarks>
/// <typeparam name="TAddress">The stored address form.</typeparam>
internal sealed partial class ConnectionStore<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    /// <summary>The timeout of a connection before its first packet is processed (the kernel's <c>ip_vs_conn_new</c>: 3 s).</summary>
    internal const uint InitialTimeoutTicks = 3;

    /// <summary>
    /// What every timer adds to its timeout: the tick the hot path reads was cached by the last housekeeping run and is
    /// up to a second old, so an entry refreshed at cached tick n with timeout T expires at tick n + T + 1, never before
    /// T seconds have passed and at most one tick after.
    /// </summary>
    internal const uint ExpiryRounding = 1;
    internal const uint StateMask = 0xF;
    internal const uint InactiveBit = 0x10;
    internal const uint NoOutputBit = 0x20;
    internal const uint LiveBit = 0x40;
    internal const uint InvalidBit = 0x80;

    /// <summary>
    /// A template's state (bit 0 of its word; templates have no protocol state): ASSURED, the kernel's
    /// <c>IP_VS_CTPL_S_ASSURED</c>, set once a connection it controls reaches ESTABLISHED (for UDP: sees a reply).
    /// Flood defence drops templates that control nothing unless they are assured.
    /// </summary>
    internal const uint AssuredBit = 0x1;

    /// <summary>Bit 7 of a connection's word (a template's is <see cref="InvalidBit"/>): set by the first packet processed, after which the timeout is the state's.</summary>
    internal const uint SeenBit = 0x80;
    internal const int GenerationShift = 8;
    internal const uint GenerationMask = 0xFFFF_FF00;
    internal const uint MethodMask = 0x3;
    internal const uint TemplateMeta = 0x4;
    internal const uint OutboundMeta = 0x8;

    /// <summary>
    /// Bits 4-7 of a connection's <see cref="ConnectionEntry{TAddress}.Meta"/>: its incoming packet count (the kernel's
    /// <c>cp->in_pkts</c>), saturated at <see cref="InPacketsSaturated"/>, past which flood defence never looks.
    /// </summary>
    internal const uint InPacketsMask = 0xF0;
    internal const int InPacketsShift = 4;
    internal const uint InPacketsUnit = 1u << InPacketsShift;

    /// <summary>The saturated count: more than 8 incoming packets, which <c>todrop_entry</c> never drops.</summary>
    internal const uint InPacketsSaturated = 9;
    internal const int AuxShift = 8;
    internal const uint AuxUnit = 1u << AuxShift;

    /// <summary>The slot of the template or connection controlling the entry whose <see cref="ConnectionEntry{TAddress}.Meta"/> is <paramref name="meta"/>; -1 for none (and for a template, whose aux bits count what it controls).</summary>
    internal static int ControlOf(uint meta) => (meta & TemplateMeta) != 0 ? -1 : (int)(meta >> AuxShift) - 1;
    private const int MaxSteps = 1 << 16;

    // All the fields are declared here, in one place and in the order they had before the split into parts, so that
    // the object's layout (which the runtime derives from the declaration order) is what it was.
    private readonly CacheAlignedArray<ConnectionEntry<TAddress>> _entries;
    private readonly ConnectionRoute<TAddress>[] _routes;
    private readonly CacheAlignedArray<InboundBucket> _inLines;
    private readonly int[] _outHeads;
    private readonly int[] _inVersions;
    private readonly int[] _outVersions;
    private readonly uint _inLineCount;
    private readonly uint _cells;
    private readonly uint _outBuckets;
    private readonly FlowHashSecret _secret;
    private readonly bool _isIPv6;
    private readonly ConnectionTable _table;
    private readonly IConnectionEndObserver? _observer;
    private readonly ulong _handleOwner;
    private readonly ShardState[] _shards;
    private readonly ShardParts[] _shardParts;
    private readonly int _shardSize;
    private readonly int[] _inLocks;
    private readonly int[] _outLocks;
    private readonly bool _striped;
    private readonly int[] _dropCounters = new int[InPacketsSaturated];
    private readonly int[] _laneShards = [.. Enumerable.Repeat(-1, LaneSlots)];
    private readonly ulong _lineReciprocal;
    private readonly bool _steered;
    private readonly int _partitionMask;
    private readonly PartitionExpiry[] _partitionExpiry;
    private int _housekeepingRuns;

    public ConnectionStore(ConnectionTable table, int capacity, bool isIPv6, ulong randomSeed, int shards = 0, int partitions = 1)
    {
        if (capacity < 1 || capacity > (1 << 24) - 2)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "A capacity is between 1 and 16,777,214 per address family.");
        }

        _table = table;
        _isIPv6 = isIPv6;
        _observer = table.Options.EndObserver;
        _handleOwner = ConnectionHandle.OwnerBits(table.Tag, isIPv6);
        _secret = new FlowHashSecret(FlowHash.Seed);
        Capacity = capacity;

        // Writer shards (ConnectionStore.Shards.cs) and index partitions (ConnectionStore.Partitions.cs): contiguous
        // ranges of slots, each shard in partition shard & (partitions - 1), each partition with an index of its own.
        int shardCount = ShardCountFor(capacity, shards);
        _striped = shardCount > 1;
        _shardSize = capacity / shardCount;
        int partitionCount = PartitionCountFor(partitions, shardCount);
        _partitionMask = partitionCount - 1;
        _steered = partitionCount > 1 && table.Options.SteeredFlows;
        _partitionExpiry = new PartitionExpiry[partitionCount];
        int partitionSlots = MostSlotsOfAPartition(capacity, shardCount, partitionCount);

        // Inbound, where every packet looks: one 64-byte bucket of 15 cells per 13 connections (13 per bucket on
        // average at full load, 5 % of them in overflow chains; 4.9 bytes per connection). Outbound, where only NAT
        // replies look: chains of two entries per bucket on average (2 bytes per connection). With the 56-byte slot
        // that is within the budget of 64 bytes per IPv4 connection. Any count works: a bucket is picked by
        // multiplying the hash, not by masking it. The counts are per partition, each sized for its shards' slots.
        _inLineCount = (uint)Math.Max((partitionSlots + ConnectionsPerInboundBucket - 1) / ConnectionsPerInboundBucket, 2);
        _outBuckets = (uint)Math.Max(partitionSlots / 2, 16);
        _entries = new CacheAlignedArray<ConnectionEntry<TAddress>>(capacity);
        _routes = HugePages.AllocatePinned<ConnectionRoute<TAddress>>(capacity);
        _lineReciprocal = LineReciprocal(_inLineCount);
        _inLines = new CacheAlignedArray<InboundBucket>((int)_inLineCount * partitionCount);
        _cells = InboundBucket.ConnectionCells >> (InboundBucket.OverflowCell - Math.Clamp(table.Options.InboundCellsPerBucket, 1, InboundBucket.OverflowCell));
        for (int i = 0; i <= (int)_inLineCount * partitionCount; i++)
        {
            // Every bucket and the sentinel after them start empty.
            _inLines.AtOrSentinel(i) = default;
        }

        _outHeads = NewFilled((int)_outBuckets * partitionCount);
        _inVersions = new int[StripesPerPartition * partitionCount];
        _outVersions = new int[StripesPerPartition * partitionCount];
        _inLocks = new int[StripesPerPartition * partitionCount];
        _outLocks = new int[StripesPerPartition * partitionCount];
        _entries.Sentinel = default;
        _entries.Sentinel.NextIn = -1;
        for (int i = 0; i < capacity; i++)
        {
            ref var e = ref _entries[i];
            e = default;
            ref var r = ref _routes[i];
            r = default;
            r.NextOut = -1;
            r.WheelPrev = NotFiled;
        }

        // Each writer shard has its free list (in slot order), timer wheel, refile queue and flood-defence state. Room in
        // the refile queues for a second's worth of shortened timeouts at a high closing rate (1/64 of the capacity,
        // between 1 K and 16 K entries of 16 bytes in all, a quarter of a byte per connection); beyond it packet threads
        // re-file under the shard's lock themselves.
        // One spare block ahead of the shards (see Shard): the array's length, which every insert's bounds check reads,
        // must not share a cache line with the first shard's lock and free list, which its own thread writes.
        _shards = new ShardState[shardCount + 1];
        _shardParts = new ShardParts[shardCount];
        uint refiles = Math.Max(System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(capacity / 64, 1024, 16384) / (uint)shardCount), 64u);
        for (int k = 0; k < shardCount; k++)
        {
            ref var shard = ref Shard(k);
            shard.Start = k * _shardSize;
            shard.End = k == shardCount - 1 ? capacity : (k + 1) * _shardSize;
            for (int i = shard.Start; i < shard.End; i++)
            {
                _entries[i].NextIn = i + 1 < shard.End ? i + 1 : -1;
            }

            shard.FreeHead = shard.Start;

            // Each shard's flood defence draws from its own counter (the seed's, the shards' far apart; see ShedProbe).
            shard.Random = (randomSeed + ((ulong)k * 0x9E37_79B9_7F4A_7C15UL)) | 1;

            // A store created after the table (the IPv6 one, reserved on first use) starts its wheels at the present tick.
            shard.LastTick = table.CurrentTick;
            _shardParts[k] = new ShardParts(NewFilled(WheelSize), new RefileQueue((int)refiles), new IdleTimeoutFloor(table.Timeouts));
        }
    }

    public int Capacity { get; }

    public int Count => (int)SumOverShards(static (ref ShardState shard) => Volatile.Read(ref shard.Count));

    public long Expired => SumOverShards(static (ref ShardState shard) => Interlocked.Read(ref shard.Expired));

    /// <summary>
    /// Asks the CPU to start loading an entry (a batched lookup's later stages); ignores a link outside the slab, so a
    /// chain read racily can be followed blindly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchEntry(int index) => MemoryPrefetch.Line(ref _entries.AtOrSentinel(index));

    /// <summary>Asks the CPU to start loading an entry's route part; ignores a link outside the slab, as <see cref="PrefetchEntry"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchRoute(int index)
    {
        if ((uint)index < (uint)_routes.Length)
        {
            MemoryPrefetch.Line(ref _routes[index]);
        }
    }

    /// <summary>
    /// The second read of a candidate's word after its key matched: the match holds only if the slot is still live with
    /// the generation seen before the key was read (and has none of <paramref name="rejectBits"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsStillSame(ref ConnectionEntry<TAddress> e, uint seen, uint rejectBits, out uint word)
    {
        // Keeps the key reads before the second read of the word (a load-load barrier; free on x64).
        Volatile.ReadBarrier();
        word = Volatile.Read(ref e.Word);
        return ((word ^ seen) & GenerationMask) == 0 && (word & (LiveBit | rejectBits)) == LiveBit;
    }

    private static bool Missed(out int index, out uint word)
    {
        index = -1;
        word = 0;
        return false;
    }

    /// <summary>Reads the word of a slot if it still holds the handle's connection.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadWord(int index, uint generation, out uint word)
    {
        if ((uint)index >= (uint)_entries.Length)
        {
            word = 0;
            return false;
        }

        word = Volatile.Read(ref _entries[index].Word);
        return (word & LiveBit) != 0 && GenerationOf(ref _entries[index], word) == generation;
    }

    public ref ConnectionEntry<TAddress> EntryAt(int index) => ref _entries[index];

    public ref ConnectionRoute<TAddress> RouteAt(int index) => ref _routes[index];

    /// <summary>The handle of the entry at <paramref name="index"/> with <paramref name="generation"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ConnectionHandle HandleOf(int index, uint generation) => new(_handleOwner, index, generation);

    /// <summary>The handle of the entry at <paramref name="index"/> whose word a lookup read (the generation's high bits are in the same line).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ConnectionHandle HandleFrom(int index, uint word) => new(_handleOwner, index, GenerationOf(ref _entries[index], word));

    /// <summary>The 32-bit generation of an entry whose word is <paramref name="word"/>: the word's 24 bits and the era's 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint GenerationOf(ref ConnectionEntry<TAddress> e, uint word) => (word >> GenerationShift) | ((uint)e.Era << 24);

    /// <summary>Slots retired because their generations ran out (see <see cref="ConnectionHandle"/>).</summary>
    public int Retired => (int)SumOverShards(static (ref ShardState shard) => Volatile.Read(ref shard.Retired));

    /// <summary>For tests: sets a free slot's generation (as if it had had that many occupants).</summary>
    internal void SetFreeSlotGeneration(int index, uint generation)
    {
        int shard = ShardOf(index);
        EnterShard(shard);
        try
        {
            ref var e = ref _entries[index];
            if ((e.Word & LiveBit) != 0)
            {
                throw new InvalidOperationException("The slot is in use.");
            }

            e.Word = (e.Word & ~GenerationMask) | (generation << GenerationShift);
            e.Era = (byte)(generation >> 24);
        }
        finally
        {
            ExitShard(shard);
        }
    }

    /// <summary>Maps a hash to one of <paramref name="buckets"/> with a multiply (Lemire's fast range reduction) rather than a modulo, so a bucket count need not be a power of two.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BucketOf(ulong hash, uint buckets) => (int)(((hash >> 32) * buckets) >> 32);

    private static int[] NewFilled(int length)
    {
        var array = HugePages.AllocatePinned<int>(length);
        Array.Fill(array, -1);
        return array;
    }

    public bool IsIPv6 => _isIPv6;
}
