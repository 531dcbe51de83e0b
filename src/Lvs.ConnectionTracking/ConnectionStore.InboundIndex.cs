using System.Numerics;
using System.Runtime.CompilerServices;

namespace Lvs.ConnectionTracking;

/// <content>
/// The part of <see cref="ConnectionStore{TAddress}"/> for the inbound index: buckets of tagged cells with overflow chains, where every client packet looks (lock-free lookups, and the unlink of a removal).
/// </content>
internal sealed partial class ConnectionStore<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    /// <summary>Connections per inbound bucket at full load (of its 15 cells; see the constructor).</summary>
    private const int ConnectionsPerInboundBucket = 13;
    private const int ProbeTagBits = 8;
    private const uint ProbeTagMask = 0xFF;

    // Walks stop at any link outside the slab, not only at -1: a reader standing on a slot that was freed and refilled
    // as a template reads that template's timeout where a link was (see Add), and must end the walk and retry rather
    // than index out of range.
    /// <summary>
    /// Finds a live entry with an inbound key, in the calling thread's partition, then in the others; for a
    /// <paramref name="clientPacket"/>'s lookup in a steered store, only in those holding connections for any thread.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryFindInbound(byte protocol, TAddress client, ushort clientPort, TAddress @virtual, ushort virtualPort, bool template, out int index, out uint word, bool clientPacket = false)
    {
        int caller = CallerPartition;
        int probe = InboundProbe(protocol, client, clientPort, @virtual, virtualPort, template, caller);
        return TryFindInbound(probe, protocol, client, clientPort, @virtual, virtualPort, template, out index, out word)
            || (_partitionMask != 0 && TryFindInboundElsewhere(probe, caller, caller, protocol, client, clientPort, @virtual, virtualPort, template, out index, out word, anywhereOnly: clientPacket));
    }

    /// <summary>
    /// Where an inbound key is looked for in the calling thread's partition: its bucket's line (bits 8 and up) and its
    /// tag (bits 0-7), packed in one int.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int InboundProbe(byte protocol, TAddress client, ushort clientPort, TAddress @virtual, ushort virtualPort, bool template) =>
        InboundProbe(protocol, client, clientPort, @virtual, virtualPort, template, CallerPartition);

    /// <summary>Where an inbound key is looked for in index partition <paramref name="partition"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int InboundProbe(byte protocol, TAddress client, ushort clientPort, TAddress @virtual, ushort virtualPort, bool template, int partition)
    {
        byte kind = template ? FlowHashKey<TAddress>.TemplateKind : FlowHashKey<TAddress>.InboundKind;
        return ProbeOf(FlowHashKey<TAddress>.Hash(kind, protocol, client, clientPort, @virtual, virtualPort, _secret), partition);
    }

    /// <summary>
    /// The first candidate of a probe (for batched lookups, which load the buckets of many keys before reading any
    /// entry): the first cell with the key's tag, else the overflow chain's head; -1 for none.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int InboundHead(int probe)
    {
        ref var line = ref _inLines[probe >> ProbeTagBits];
        uint matches = line.TagMatches((uint)probe & ProbeTagMask, _cells);
        uint others = matches & (matches - 1);
        if (others != 0)
        {
            // A second entry under the key's tag (about one bucket in twenty): the first may be the wrong one, and
            // the decision would then read this one; start loading it too.
            PrefetchEntry(InboundBucket.IndexOf(line[BitOperations.TrailingZeroCount(others)]));
        }

        return InboundBucket.IndexOf(Volatile.Read(ref line[InboundBucket.FirstOrOverflow(matches)]));
    }

    /// <summary>Asks the CPU to start loading a probe's bucket (a batched lookup's first stage).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchInboundHead(int probe) => MemoryPrefetch.Line(ref _inLines[probe >> ProbeTagBits]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryFindInbound(int probe, byte protocol, TAddress client, ushort clientPort, TAddress @virtual, ushort virtualPort, bool template, out int index, out uint word)
    {
        int bucket = probe >> ProbeTagBits;
        uint tag = (uint)probe & ProbeTagMask;
        ref var line = ref _inLines[bucket];
        uint templateMeta = template ? TemplateMeta : 0;
        while (true)
        {
            // The cells with the key's tag, then the overflow chain. Cells are never moved, so a live connection is in
            // one of them or in the chain; a cell that changed under the reader no longer holds a live connection with
            // the key (the slot's word says so).
            for (uint matches = line.TagMatches(tag, _cells); matches != 0; matches &= matches - 1)
            {
                uint cell = Volatile.Read(ref line[BitOperations.TrailingZeroCount(matches)]);
                int candidate = InboundBucket.IndexOf(cell);
                if ((cell >> InboundBucket.TagShift) == tag && (uint)candidate < (uint)_entries.Length
                    && InboundMatches(ref _entries[candidate], protocol, client, clientPort, @virtual, virtualPort, templateMeta, template ? InvalidBit : 0, out word))
                {
                    index = candidate;
                    return true;
                }
            }

            // No chain (nearly every bucket): a key goes into the chain only when it is added, and stays there while
            // live, so a connection live since before the cells were read was in a cell, and the miss needs no
            // version. That spares the stripe's version line, which its partition's writer bumps on every removal: a
            // packet thread looking in another partition would otherwise fetch it from that writer's core.
            if ((uint)InboundBucket.IndexOf(Volatile.Read(ref line[InboundBucket.OverflowCell])) >= (uint)_entries.Length)
            {
                return Missed(out index, out word);
            }

            // The chain's links change when an entry is unlinked, which bumps the version: a walk that saw no bump
            // followed links that were the chain's.
            ref int version = ref _inVersions[InboundStripe(bucket)];
            int before = Volatile.Read(ref version);
            int i = InboundBucket.IndexOf(Volatile.Read(ref line[InboundBucket.OverflowCell]));
            int steps = 0;
            while ((uint)i < (uint)_entries.Length && ++steps < MaxSteps)
            {
                ref var e = ref _entries[i];
                if (InboundMatches(ref e, protocol, client, clientPort, @virtual, virtualPort, templateMeta, template ? InvalidBit : 0, out word))
                {
                    index = i;
                    return true;
                }

                i = Volatile.Read(ref e.NextIn);
            }

            if ((uint)i >= (uint)_entries.Length && Volatile.Read(ref version) == before)
            {
                return Missed(out index, out word);
            }
        }
    }

    /// <summary>
    /// A batched inbound lookup's last stage: whether the slot at <paramref name="index"/> (the candidate the chain
    /// stages found, in the cache by now) is the live connection with the packet's key. Keys are unique in the table,
    /// so a live slot with the key is the answer whichever chain the candidate was reached by; when it is not, the
    /// caller walks the chain as <see cref="TryFindInbound(int, byte, TAddress, ushort, TAddress, ushort, bool, out int, out uint)"/> does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryMatchInbound(int index, byte protocol, TAddress client, ushort clientPort, TAddress @virtual, ushort virtualPort, out uint word)
    {
        if ((uint)index >= (uint)_entries.Length)
        {
            word = 0;
            return false;
        }

        return InboundMatches(ref _entries[index], protocol, client, clientPort, @virtual, virtualPort, 0, 0, out word);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool InboundMatches(ref ConnectionEntry<TAddress> e, byte protocol, TAddress client, ushort clientPort, TAddress @virtual, ushort virtualPort, uint templateMeta, uint rejectBits, out uint word)
    {
        uint w = Volatile.Read(ref e.Word);
        if ((w & LiveBit) != 0
            && e.ClientPort == clientPort
            && e.VirtualPort == virtualPort
            && e.Protocol == protocol
            && (e.Meta & TemplateMeta) == templateMeta
            && TAddress.AreEqual(e.Client, client)
            && TAddress.AreEqual(e.Virtual, @virtual))
        {
            return IsStillSame(ref e, w, rejectBits, out word);
        }

        word = 0;
        return false;
    }

    /// <summary>
    /// A prepared insert's later stages, for batches: starts loading what the duplicate check will read and returns it.
    /// With -2: the first entry under the key's tag in its bucket, else the head of the bucket's overflow chain (see
    /// <see cref="InboundHead"/>); then, with that as <paramref name="cursor"/>, the entry after it in an overflow chain
    /// (-1 after an entry in a cell). Read racily: a stale link only wastes a prefetch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int PrefetchInboundChain(in ConnectionInsert<TAddress> insert, int cursor)
    {
        int next = cursor == -2 ? InboundHead(insert.InProbe) : Volatile.Read(ref _entries.AtOrSentinel(cursor).NextIn);
        PrefetchEntry(next);
        return next;
    }

    private void UnlinkInbound(int probe, int index)
    {
        int bucket = probe >> ProbeTagBits;
        ref var line = ref _inLines[bucket];
        ref int version = ref _inVersions[InboundStripe(bucket)];
        uint at = line.CellsEqual(InboundBucket.Cell((uint)probe & ProbeTagMask, index), _cells);
        if (at != 0)
        {
            Volatile.Write(ref line[BitOperations.TrailingZeroCount(at)], 0);

            // Bump before the slot can be reused, so a reader that passed through it looks again (see remarks). The
            // stripe's writers are serialized by its lock (or the one shard's), so a release store suffices: the bump
            // happens before the slot's reuse (through the locks' release and acquire), whose word a reader acquires.
            Volatile.Write(ref version, version + 1);
            return;
        }

        ref uint head = ref line[InboundBucket.OverflowCell];
        int first = InboundBucket.IndexOf(head);
        if (first == index)
        {
            Volatile.Write(ref head, InboundBucket.Cell(0, _entries[index].NextIn));
            Volatile.Write(ref version, version + 1);
            return;
        }

        if ((uint)first < (uint)_entries.Length)
        {
            Unlink(ref _entries[first].NextIn, ref version, index, outbound: false);
        }
    }

    /// <summary>
    /// The stripe of the inbound bucket of the entry at <paramref name="index"/>, read without a lock: the right one
    /// whenever the entry is live with the generation the caller then checks under that stripe's lock.
    /// </summary>
    private int InboundStripeOf(int index) =>
        (uint)index < (uint)_entries.Length ? InboundStripe(ProbeOf(InboundHash(ref _entries[index]), PartitionOf(index)) >> ProbeTagBits) : 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong InboundHash(ref ConnectionEntry<TAddress> e) =>
        FlowHashKey<TAddress>.Hash(
            (e.Meta & TemplateMeta) != 0 ? FlowHashKey<TAddress>.TemplateKind : FlowHashKey<TAddress>.InboundKind,
            e.Protocol,
            e.Client,
            e.ClientPort,
            e.Virtual,
            e.VirtualPort,
            _secret);

    /// <summary>
    /// An inbound probe in <paramref name="partition"/>: the partition's bucket from the hash's high half (see
    /// <see cref="BucketOf"/>; its line is partition x buckets per partition + bucket), the tag from bits 24-31 of its
    /// low half, never 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int ProbeOf(ulong hash, int partition)
    {
        uint tag = (uint)(hash >> 24) & ProbeTagMask;
        tag += (tag - 1) >> 31;
        return (((partition * (int)_inLineCount) + BucketOf(hash, _inLineCount)) << ProbeTagBits) | (int)tag;
    }
}
