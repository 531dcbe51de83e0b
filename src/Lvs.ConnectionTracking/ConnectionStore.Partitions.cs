using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <content>
/// The part of <see cref="ConnectionStore{TAddress}"/> for its index partitions: the inbound and outbound indexes
/// split by packet thread, so that two threads adding and expiring connections at once write apart.
/// </content>
/// <remarks>
/// <para>
/// With one partition (the default) the store is one index, as the kernel's one connection hash table. With more
/// (<see cref="ConnectionTableOptions.IndexPartitions"/>, a power of two, at most the writer shards), writer shard
/// <c>k</c> belongs to partition <c>k &amp; (partitions - 1)</c>, and a slot's connection is indexed in the partition
/// of the slot's shard: in its inbound buckets, its outbound chains, under its stripe locks and versions, which no
/// other partition's writers touch. A packet thread (<see cref="PacketThread.Current"/>) inserts into shards of
/// partition <c>thread &amp; (partitions - 1)</c> while they have free slots, and expires them
/// (<see cref="ConnectionTable.RunPacketThreadExpiry"/>), so its writes (new connections, expiries) stay in lines it
/// last wrote itself; measured, two packet threads that shared one index spent half their time waiting for the lines
/// the other had just written.
/// </para>
/// <para>
/// A key's partition is not a function of the key: lookups look in the calling thread's partition first (where a flow
/// steered to one thread always is) and then in the others. A key is unique within a partition, atomically (the
/// insert's duplicate check under the stripe lock); across partitions an insert first looks in the others without a
/// lock, so only two threads adding the same new key at the same moment can both add it. The kernel's
/// <c>ip_vs_conn_new</c> checks nothing at all, and its lookups then find one of the two, as here. The price: a packet
/// of a connection another thread added misses in its own thread's partition first (measured with 1 M connections, a
/// NAT reply 55-70 ns more, a client's packet about 30 ns), so one partition stays the default.
/// </para>
/// <para>
/// Layout: every index has one block per partition, so that no cache line, nor its neighbour that the CPU's adjacent-line
/// prefetcher loads with it, holds two partitions' buckets: inbound bucket <c>b</c> of partition <c>p</c> is line
/// <c>p * buckets + b</c> (every bucket a cache line of its own); an outbound bucket number carries its partition in bits
/// 24 and up. Stripe locks and versions are in one block of <see cref="StripesPerPartition"/> per partition. Measured
/// with two packet threads adding connections (2026-12-06), lines interleaved by partition cost the threads 40 % more
/// time per connection than these blocks.
/// </para>
/// </remarks>
internal sealed partial class ConnectionStore<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    /// <summary>Stripe locks and versions per partition, for each index.</summary>
    internal const int StripesPerPartition = 4096;

    private const int StripeBits = 12;

    private const int StripeMask = StripesPerPartition - 1;

    /// <summary>Where an outbound bucket number keeps its partition.</summary>
    private const int OutboundPartitionShift = 24;

    private const int OutboundBucketMask = (1 << OutboundPartitionShift) - 1;

    /// <summary>The most index partitions of a store.</summary>
    internal const int MaxPartitions = 16;

    /// <summary>
    /// With <see cref="ConnectionTableOptions.SteeredFlows"/>: the bit of a connection's
    /// <see cref="ConnectionRoute{TAddress}.Controlled"/> (whose count stays below it) that marks it as one any packet
    /// thread may look for (added without its first packet, or into another partition than its thread's).
    /// </summary>
    private const int AnywhereBit = 1 << 30;

    /// <summary>
    /// Whether partition <paramref name="partition"/> holds connections that any packet thread may look for (always,
    /// unless the store is steered): those a steered lookup of a client packet looks in besides its thread's own.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool HoldsAnywhereConnections(int partition) => !_steered || Volatile.Read(ref _partitionExpiry[partition].Anywhere) != 0;

    /// <summary>The live connections of partition <paramref name="partition"/> marked for any thread (for tests).</summary>
    internal int AnywhereConnections(int partition) => Volatile.Read(ref _partitionExpiry[partition].Anywhere);

    /// <summary>The number of index partitions.</summary>
    public int PartitionCount => _partitionMask + 1;

    /// <summary>The partition the calling packet thread inserts into and looks in first.</summary>
    public int CallerPartition
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _partitionMask == 0 ? 0 : PacketThread.Current & _partitionMask;
    }

    /// <summary>
    /// The number of partitions for a request: the largest power of two not above it, nor above the writer shards
    /// (a partition is a set of shards) or <see cref="MaxPartitions"/>; at least 1.
    /// </summary>
    internal static int PartitionCountFor(int requested, int shards) =>
        (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(Math.Min(Math.Min(requested, shards), MaxPartitions), 1, MaxPartitions) + 1) >> 1;

    /// <summary>The most slots any one partition's shards hold (what its indexes are sized for).</summary>
    private static int MostSlotsOfAPartition(int capacity, int shards, int partitions)
    {
        int size = capacity / shards;
        var slots = new int[partitions];
        for (int k = 0; k < shards; k++)
        {
            slots[k & (partitions - 1)] += k == shards - 1 ? capacity - (k * size) : size;
        }

        return slots.Max();
    }

    /// <summary>The partition of the slot at <paramref name="index"/>: its shard's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int PartitionOf(int index) => ShardOf(index) & _partitionMask;

    /// <summary>The stripe (lock and version) of inbound line <paramref name="line"/>: by its bucket, in its partition's block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int InboundStripe(int line)
    {
        if (_partitionMask == 0)
        {
            return line & StripeMask;
        }

        int partition = PartitionOfLine(line);
        return ((line - (partition * (int)_inLineCount)) & StripeMask) | (partition << StripeBits);
    }

    /// <summary>The partition of inbound line <paramref name="line"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int PartitionOfLine(int line) => PartitionOfLine(line, _lineReciprocal);

    /// <summary>The inbound buckets (lines) of each partition.</summary>
    internal int InboundLinesPerPartition => (int)_inLineCount;

    /// <summary>
    /// Line / buckets per partition, by a multiplication with the rounded-up reciprocal (<see cref="LineReciprocal"/>):
    /// with r x buckets = 2^64 + d (0 &lt;= d &lt; buckets), line x r / 2^64 = line / buckets + line x d / (buckets x
    /// 2^64), whose second term stays below 1 / buckets (line &lt; 2^31), so the floor is exact.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int PartitionOfLine(int line, ulong reciprocal) => (int)Math.BigMul((ulong)(uint)line, reciprocal, out _);

    /// <summary>The rounded-up reciprocal 2^64 / <paramref name="lines"/> (at least 2 lines) that <see cref="PartitionOfLine(int, ulong)"/> multiplies by.</summary>
    internal static ulong LineReciprocal(uint lines) => (ulong.MaxValue / lines) + 1;

    /// <summary>The stripe (lock and version) of outbound bucket <paramref name="bucket"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int OutboundStripe(int bucket) => (bucket & StripeMask) | ((bucket >> OutboundPartitionShift) << StripeBits);

    /// <summary>The chain head of outbound bucket <paramref name="bucket"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref int OutboundHeadOf(int bucket) =>
        ref _outHeads[((bucket >> OutboundPartitionShift) * (int)_outBuckets) + (bucket & OutboundBucketMask)];

    /// <summary>An inbound probe of partition <paramref name="from"/> moved to partition <paramref name="to"/> (same bucket number and tag there).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int InboundProbeIn(int probe, int from, int to) => probe + ((to - from) * (int)_inLineCount << ProbeTagBits);

    /// <summary>An outbound bucket moved to partition <paramref name="partition"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int OutboundBucketIn(int bucket, int partition) => (bucket & OutboundBucketMask) | (partition << OutboundPartitionShift);

    /// <summary>
    /// Looks for a live entry with an inbound key in every partition but <paramref name="skip"/>, starting with
    /// <paramref name="caller"/> (the calling thread's partition), in which <paramref name="probe"/> is the key's probe.
    /// With <paramref name="anywhereOnly"/>, a steered store looks only in the partitions holding connections for any
    /// thread.
    /// </summary>
    private bool TryFindInboundElsewhere(int probe, int caller, int skip, byte protocol, TAddress client, ushort clientPort, TAddress @virtual, ushort virtualPort, bool template, out int index, out uint word, bool anywhereOnly = false)
    {
        int first = caller;
        for (int k = 0; k <= _partitionMask; k++)
        {
            int partition = (first + k) & _partitionMask;
            if (partition != skip
                && (!anywhereOnly || HoldsAnywhereConnections(partition))
                && TryFindInbound(InboundProbeIn(probe, first, partition), protocol, client, clientPort, @virtual, virtualPort, template, out index, out word))
            {
                return true;
            }
        }

        return Missed(out index, out word);
    }

    /// <summary>
    /// Expires the shards of the calling packet thread's partition up to <paramref name="now"/> and records that the
    /// partition's thread keeps up, so that <see cref="ExpireUntil(uint)"/> leaves them to it; nothing with one
    /// partition, whose shards housekeeping expires.
    /// </summary>
    public int ExpirePartition(uint now)
    {
        if (_partitionMask == 0)
        {
            // One index: housekeeping expires it all, as without packet threads.
            return 0;
        }

        int partition = CallerPartition;
        ref var expiry = ref _partitionExpiry[partition];
        if (Volatile.Read(ref expiry.Tick) == now && Volatile.Read(ref expiry.Active) != 0)
        {
            return 0;
        }

        Volatile.Write(ref expiry.Active, 1);
        Volatile.Write(ref expiry.Run, Volatile.Read(ref _housekeepingRuns));
        int expired = 0;
        for (int k = partition; k < ShardCount; k += _partitionMask + 1)
        {
            expired += ExpireUntil(k, now);
        }

        Volatile.Write(ref expiry.Tick, now);
        return expired;
    }

    /// <summary>
    /// Whether housekeeping run <paramref name="run"/> leaves shard <paramref name="shard"/> to its partition's
    /// packet threads: one of them has expired it since the run before (so it keeps up, and reaches this run's tick
    /// on its next batch). A partition whose threads have gone quiet for a whole run is expired by housekeeping.
    /// </summary>
    private bool LeftToPacketThreads(int shard, int run)
    {
        ref var expiry = ref _partitionExpiry[shard & _partitionMask];
        return Volatile.Read(ref expiry.Active) != 0 && run - Volatile.Read(ref expiry.Run) <= 1;
    }

    /// <summary>
    /// Whether a packet thread of a partition expires its shards, up to which tick it last did, and in which
    /// housekeeping run; and how many of its connections any thread may look for (a cache line per partition, written
    /// once a tick and when such a connection comes or goes, so other threads' steered lookups read it from their
    /// caches).
    /// </summary>
    [StructLayout(LayoutKind.Sequential, Size = 64)]
    private struct PartitionExpiry
    {
        public uint Tick;
        public int Active;
        public int Run;

        /// <summary>With <see cref="ConnectionTableOptions.SteeredFlows"/>: the partition's live connections marked <see cref="AnywhereBit"/>.</summary>
        public int Anywhere;
    }
}
