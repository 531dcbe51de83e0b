using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <summary>
/// The staged lookup behind <see cref="ConnectionTable.TryGetInboundBatch"/> and
/// <see cref="ConnectionTable.TryGetOutboundBatch"/>, written once for both indexes (the stages differ only in which
/// index they read, given by <typeparamref name="TChain"/>).
/// </summary>
/// <remarks>
/// Group prefetching: the batch is taken in groups of 64 packets, and each group goes through the stages together,
/// every stage starting the reads the next one needs: hash every key and prefetch its bucket (inbound) or chain head
/// (outbound); read every bucket or head and prefetch the first candidate (inbound, the first cell with the key's tag);
/// outbound only, twice, for chains whose slot so far is not the packet's, prefetch the next (the second time only for
/// the packets the first left without a candidate); then decide each packet from its candidate, or with the ordinary
/// lock-free lookup, which finds its lines in the cache. Prefetches retire at once, so a group keeps dozens of reads
/// in flight (about 170 ns each from DRAM on the reference VM) and waits about once per stage instead of once per
/// dependent read per packet. The stages read racily and branch-free; a stale cell or link only wastes a prefetch,
/// since a candidate is checked in full. A run covers one address family's store and leaves the other family's
/// packets untouched, for the run over the other store (see <see cref="ConnectionTable.TryGetInboundBatch"/>).
/// </remarks>
/// <typeparam name="TChain">Which chain: <see cref="InboundChain{TAddress}"/> or <see cref="OutboundChain{TAddress}"/>.</typeparam>
/// <typeparam name="TAddress">The address family of the store a run covers.</typeparam>
internal static class BatchedLookup<TChain, TAddress>
    where TChain : struct, BatchedLookup<TChain, TAddress>.IChain
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    private const int Group = 64;

    /// <summary>The stages of one chain over one family's store.</summary>
    public interface IChain
    {
        /// <summary>The packet's bucket in index partition <paramref name="partition"/>, or -1 for a packet of the other address family.</summary>
        static abstract int Bucket(ConnectionStore<TAddress> store, in FlowKey packet, int partition);

        static abstract void PrefetchHead(ConnectionStore<TAddress> store, int bucket);

        static abstract int Head(ConnectionStore<TAddress> store, int bucket);

        static abstract void PrefetchSlot(ConnectionStore<TAddress> store, int index);

        static abstract int Next(ConnectionStore<TAddress> store, int index, in FlowKey packet, ref int candidate);

        static abstract bool Match(ConnectionStore<TAddress> store, in FlowKey packet, int index, out uint word);

        static abstract bool Find(ConnectionStore<TAddress> store, in FlowKey packet, int bucket, out int index, out uint word);

        /// <summary>True when the head is already the candidate (the inbound buckets' first tag match), so no chain stage runs.</summary>
        static abstract bool HeadIsCandidate { get; }

        /// <summary>
        /// Whether the chain is looked up by client packets, which a steered store (see
        /// <see cref="ConnectionTableOptions.SteeredFlows"/>) looks for in another partition only where connections for
        /// any thread are.
        /// </summary>
        static abstract bool ClientPackets { get; }

        /// <summary>A bucket of <see cref="Bucket"/> in partition <paramref name="from"/> (the calling thread's) moved to partition <paramref name="to"/>.</summary>
        static abstract int InPartition(ConnectionStore<TAddress> store, int bucket, int from, int to);
    }

    /// <summary>Looks up the packets of this run's family; returns how many were found, and in <paramref name="others"/> how many packets are of the other family (their handles are not written).</summary>
    public static int Run(ConnectionTable table, ConnectionStore<TAddress> store, ReadOnlySpan<FlowKey> packets, Span<ConnectionHandle> handles, out int others, bool prefetchRoutes = false)
    {
        Span<int> buckets = stackalloc int[Group];
        Span<int> cursors = stackalloc int[Group];
        Span<int> candidates = stackalloc int[Group];
        Span<int> pending = stackalloc int[Group];
        Span<int> missed = stackalloc int[Group];
        bool checkServers = table.Options.ExpireNoDestinationConnections;
        bool partitioned = store.PartitionCount > 1;
        int own = store.CallerPartition;
        int found = 0;
        others = 0;
        for (int start = 0; start < packets.Length; start += Group)
        {
            var group = packets.Slice(start, Math.Min(Group, packets.Length - start));
            var groupBuckets = buckets[..group.Length];
            var groupCursors = cursors[..group.Length];
            var groupCandidates = candidates[..group.Length];
            // Every key's bucket first, then every prefetch: with each prefetch right after its hash, a prefetch
            // waiting for a free miss buffer held up the hashes behind it, and the loads went out spaced by a hash's
            // latency (5-6 ns a packet more in the lookup, measured).
            for (int i = 0; i < group.Length; i++)
            {
                groupBuckets[i] = TChain.Bucket(store, group[i], own);
            }

            foreach (int bucket in groupBuckets)
            {
                if (bucket >= 0)
                {
                    TChain.PrefetchHead(store, bucket);
                }
            }

            for (int i = 0; i < groupBuckets.Length; i++)
            {
                groupCursors[i] = groupBuckets[i] >= 0 ? TChain.Head(store, groupBuckets[i]) : -1;
                groupCandidates[i] = -1;
            }

            // The same order as above: every head read, then every prefetch.
            foreach (int first in groupCursors)
            {
                TChain.PrefetchSlot(store, first);
                if (prefetchRoutes)
                {
                    // The caller will read the candidate's route line too (FULLNAT's local endpoint): load it
                    // alongside the entry rather than after the lookup.
                    store.PrefetchRoute(first);
                }
            }

            // The first entry of every chain; the packets whose chain goes on without a candidate so far (about a
            // third at full load) are listed, without a branch, for the second stage, which visits only them.
            if (!TChain.HeadIsCandidate)
            {
                int pendingCount = 0;
                for (int i = 0; i < groupCursors.Length; i++)
                {
                    pending[pendingCount] = i;
                    pendingCount += (int)(~(uint)Advance(store, group[i], ref groupCursors[i], ref groupCandidates[i]) >> 31);
                }

                foreach (int i in pending[..pendingCount])
                {
                    _ = Advance(store, group[i], ref groupCursors[i], ref groupCandidates[i]);
                }
            }

            var groupHandles = handles.Slice(start, group.Length);
            int missedCount = 0;
            for (int i = 0; i < group.Length; i++)
            {
                // The candidate the stages found is nearly always the connection; checking it alone (a live slot with
                // the packet's key, generation stable) is a complete answer, since keys are unique. A chain with no
                // match in its first entries ends its stages on a prefetched entry not yet compared. Anything else
                // (no candidate, a packet of the other family, a server to check) is decided out of line.
                int candidate = groupCandidates[i] >= 0 ? groupCandidates[i] : groupCursors[i];
                if (!checkServers && TChain.Match(store, group[i], candidate, out uint word))
                {
                    groupHandles[i] = store.HandleFrom(candidate, word);
                    found++;
                }
                else if (groupBuckets[i] >= 0)
                {
                    bool hit = Decide(table, store, group[i], groupBuckets[i], candidate, ref groupHandles[i]);
                    found += hit ? 1 : 0;
                    missed[missedCount] = i;
                    missedCount += hit ? 0 : 1;
                }
                else
                {
                    others++;
                }
            }

            if (partitioned && missedCount > 0)
            {
                found += OtherPartitions(table, store, own, group, groupBuckets, missed[..missedCount], groupHandles);
            }
        }

        return found;
    }

    /// <summary>
    /// The packets a group did not find in the calling thread's partition, looked for in the other partitions (see
    /// ConnectionStore.Partitions.cs), a partition at a time and again in stages: every bucket or head loaded, then
    /// every first candidate, then each packet decided by the lock-free walk. Returns how many were found.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int OtherPartitions(ConnectionTable table, ConnectionStore<TAddress> store, int own, ReadOnlySpan<FlowKey> group, ReadOnlySpan<int> buckets, Span<int> missed, Span<ConnectionHandle> handles)
    {
        int found = 0;
        for (int k = 1; k < store.PartitionCount && missed.Length > 0; k++)
        {
            int partition = (own + k) & (store.PartitionCount - 1);
            if (TChain.ClientPackets && !store.HoldsAnywhereConnections(partition))
            {
                // Steered: that partition holds only other threads' flows.
                continue;
            }

            foreach (int i in missed)
            {
                TChain.PrefetchHead(store, TChain.InPartition(store, buckets[i], own, partition));
            }

            foreach (int i in missed)
            {
                TChain.PrefetchSlot(store, TChain.Head(store, TChain.InPartition(store, buckets[i], own, partition)));
            }

            int left = 0;
            foreach (int i in missed)
            {
                int bucket = TChain.InPartition(store, buckets[i], own, partition);
                bool hit = TChain.Find(store, group[i], bucket, out int index, out uint word);
                handles[i] = hit ? store.HandleFrom(index, word) : default;
                if (hit && !table.KeepIfServerAvailable(handles[i]))
                {
                    // Gone with its server (expire_nodest_conn): found, and keys are unique, so not looked for further.
                    handles[i] = default;
                    continue;
                }

                found += hit ? 1 : 0;
                missed[left] = i;
                left += hit ? 0 : 1;
            }

            missed = missed[..left];
        }

        return found;
    }

    /// <summary>A chain stage for one packet: compares the entry at the cursor, moves the cursor to the next link (-1 once a candidate is found or the chain ends) and starts loading it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Advance(ConnectionStore<TAddress> store, in FlowKey packet, ref int cursor, ref int candidate)
    {
        int next = TChain.Next(store, cursor, packet, ref candidate);
        cursor = next;
        TChain.PrefetchSlot(store, next);
        return next;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool Decide(ConnectionTable table, ConnectionStore<TAddress> store, in FlowKey packet, int bucket, int candidate, ref ConnectionHandle handle)
    {
        // Only the walk, with its stripe-version check, can say there is no connection.
        int index = candidate;
        bool hit = TChain.Match(store, packet, candidate, out uint word) || TChain.Find(store, packet, bucket, out index, out word);
        handle = hit ? store.HandleFrom(index, word) : default;
        if (hit && !table.KeepIfServerAvailable(handle))
        {
            handle = default;
            hit = false;
        }

        return hit;
    }
}

/// <summary>The inbound chain's stages (client packets: client and virtual endpoints).</summary>
internal readonly struct InboundChain<TAddress> : BatchedLookup<InboundChain<TAddress>, TAddress>.IChain
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Bucket(ConnectionStore<TAddress> store, in FlowKey packet, int partition) =>
        TAddress.Fits(packet.SourceAddress)
            ? store.InboundProbe((byte)packet.Protocol, TAddress.From(packet.SourceAddress), packet.SourcePort, TAddress.From(packet.DestinationAddress), packet.DestinationPort, template: false, partition)
            : -1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PrefetchHead(ConnectionStore<TAddress> store, int bucket) => store.PrefetchInboundHead(bucket);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Head(ConnectionStore<TAddress> store, int bucket) => store.InboundHead(bucket);

    public static bool HeadIsCandidate => true;

    public static bool ClientPackets => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int InPartition(ConnectionStore<TAddress> store, int bucket, int from, int to) => store.InboundProbeIn(bucket, from, to);

    // An inbound walk reads only the lookup part of a slot.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PrefetchSlot(ConnectionStore<TAddress> store, int index) => store.PrefetchEntry(index);

    // Never called: the head is the candidate (HeadIsCandidate), so no chain stage runs for inbound packets.
    public static int Next(ConnectionStore<TAddress> store, int index, in FlowKey packet, ref int candidate) => -1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Match(ConnectionStore<TAddress> store, in FlowKey packet, int index, out uint word) =>
        store.TryMatchInbound(index, (byte)packet.Protocol, TAddress.From(packet.SourceAddress), packet.SourcePort, TAddress.From(packet.DestinationAddress), packet.DestinationPort, out word);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Find(ConnectionStore<TAddress> store, in FlowKey packet, int bucket, out int index, out uint word) =>
        store.TryFindInbound(bucket, (byte)packet.Protocol, TAddress.From(packet.SourceAddress), packet.SourcePort, TAddress.From(packet.DestinationAddress), packet.DestinationPort, template: false, out index, out word);
}

/// <summary>The outbound chain's stages (replies: real server endpoint and the client's or the director's local endpoint).</summary>
internal readonly struct OutboundChain<TAddress> : BatchedLookup<OutboundChain<TAddress>, TAddress>.IChain
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Bucket(ConnectionStore<TAddress> store, in FlowKey packet, int partition) =>
        TAddress.Fits(packet.SourceAddress)
            ? store.OutboundBucket((byte)packet.Protocol, TAddress.From(packet.SourceAddress), packet.SourcePort, TAddress.From(packet.DestinationAddress), packet.DestinationPort, partition)
            : -1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PrefetchHead(ConnectionStore<TAddress> store, int bucket) => store.PrefetchOutboundHead(bucket);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Head(ConnectionStore<TAddress> store, int bucket) => store.OutboundHead(bucket);

    public static bool HeadIsCandidate => false;

    public static bool ClientPackets => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int InPartition(ConnectionStore<TAddress> store, int bucket, int from, int to) => ConnectionStore<TAddress>.OutboundBucketIn(bucket, to);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PrefetchSlot(ConnectionStore<TAddress> store, int index) => store.PrefetchSlot(index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Next(ConnectionStore<TAddress> store, int index, in FlowKey packet, ref int candidate) =>
        store.NextOutboundCandidate(index, TAddress.From(packet.DestinationAddress), packet.DestinationPort, ref candidate);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Match(ConnectionStore<TAddress> store, in FlowKey packet, int index, out uint word) =>
        store.TryMatchOutbound(index, (byte)packet.Protocol, TAddress.From(packet.SourceAddress), packet.SourcePort, TAddress.From(packet.DestinationAddress), packet.DestinationPort, out word);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Find(ConnectionStore<TAddress> store, in FlowKey packet, int bucket, out int index, out uint word) =>
        store.TryFindOutbound(bucket, (byte)packet.Protocol, TAddress.From(packet.SourceAddress), packet.SourcePort, TAddress.From(packet.DestinationAddress), packet.DestinationPort, out index, out word);
}
