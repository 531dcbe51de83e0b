using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <content>
/// The part of <see cref="ConnectionStore{TAddress}"/> for removals: unlinking from both indexes and the wheel, releasing the counters, freeing (or retiring) the slot, and describing the entry for the end observer.
/// </content>
internal sealed partial class ConnectionStore<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    public bool Remove(int index, uint generation, ConnectionEndReason reason)
    {
        if ((uint)index >= (uint)_entries.Length)
        {
            return false;
        }

        if (_observer is null)
        {
            int shard = ShardOf(index);
            EnterShard(shard);
            try
            {
                return RemoveLocked(index, generation);
            }
            finally
            {
                ExitShard(shard);
            }
        }

        return RemoveAndReport(index, generation, reason);
    }

    /// <summary><see cref="Remove"/> with an observer: the entry is described under the lock and reported after it.</summary>
    private bool RemoveAndReport(int index, uint generation, ConnectionEndReason reason)
    {
        ConnectionEnd end = default;
        bool removed;
        int shard = ShardOf(index);
        EnterShard(shard);
        try
        {
            removed = RemoveLocked(index, generation);
            if (removed)
            {
                end = DescribeEnd(index, reason);
            }
        }
        finally
        {
            ExitShard(shard);
        }

        if (removed)
        {
            _observer!.OnConnectionEnded(in end);
        }

        return removed;
    }

    /// <summary>
    /// What a just-removed entry was, for the observer; called under the shard's lock right after the removal, while the
    /// slot (now free) still holds the entry and its controlling template is still live.
    /// </summary>
    private ConnectionEnd DescribeEnd(int index, ConnectionEndReason reason)
    {
        ref var e = ref _entries[index];
        ref var r = ref _routes[index];
        uint w = Volatile.Read(ref e.Word);
        bool isTemplate = (e.Meta & TemplateMeta) != 0;
        var method = (ForwardingMethod)(e.Meta & MethodMask);
        var template = ConnectionHandle.None;
        int control = ControlOf(e.Meta);
        if (control >= 0 && (_entries[control].Meta & TemplateMeta) != 0)
        {
            template = HandleOf(control, GenerationOf(ref _entries[control], Volatile.Read(ref _entries[control].Word)));
        }

        return new ConnectionEnd(
            HandleOf(index, GenerationOf(ref e, w)),
            (L4Protocol)e.Protocol,
            new InetEndpoint(TAddress.ToIpAddress(e.Client), e.ClientPort),
            new InetEndpoint(TAddress.ToIpAddress(e.Virtual), e.VirtualPort),
            new InetEndpoint(TAddress.ToIpAddress(r.Destination), r.DestinationPort),
            method == ForwardingMethod.FullNat ? new InetEndpoint(TAddress.ToIpAddress(r.Local), r.LocalPort) : default,
            e.RealServer,
            method,
            isTemplate,
            template,
            (byte)(w & StateMask),
            reason);
    }

    /// <summary>Reports ends collected under a shard's lock, after its release.</summary>
    private void Report(ReadOnlySpan<ConnectionEnd> ends)
    {
        foreach (ref readonly var end in ends)
        {
            _observer!.OnConnectionEnded(in end);
        }
    }

    /// <summary>
    /// Removes every connection of a real server, then, if some were kept for controlling others removed meanwhile
    /// (an FTP control connection and its data connections), those once more, then its templates that no longer
    /// control any (two or three passes over the slab).
    /// </summary>
    public int RemoveAllOf(int realServer)
    {
        int removed = RemoveAllOf(realServer, templates: false, out int kept);
        if (kept > 0)
        {
            removed += RemoveAllOf(realServer, templates: false, out _);
        }

        return removed + RemoveAllOf(realServer, templates: true, out _);
    }

    /// <summary>One pass of <see cref="RemoveAllOf(int)"/> over the connections or the templates; <paramref name="kept"/> counts those that stayed because they still control others.</summary>
    private int RemoveAllOf(int realServer, bool templates, out int kept)
    {
        int removed = 0;
        kept = 0;
        for (int i = 0; i < _entries.Length; i++)
        {
            ref var e = ref _entries[i];
            uint w = Volatile.Read(ref e.Word);
            if ((w & LiveBit) == 0 || e.RealServer != realServer || ((e.Meta & TemplateMeta) != 0) != templates)
            {
                continue;
            }

            if (Remove(i, GenerationOf(ref e, w), ConnectionEndReason.ServerRemoved))
            {
                removed++;
            }
            else if (TryReadWord(i, GenerationOf(ref e, w), out _))
            {
                kept++;
            }
        }

        return removed;
    }

    /// <summary>Marks a template invalid (the kernel's <c>ip_vs_check_template</c> rehash to port 0xffff): it is no longer found, and expires normally.</summary>
    public void Invalidate(int index, uint generation)
    {
        ref var e = ref _entries[index];
        while (true)
        {
            uint w = Volatile.Read(ref e.Word);
            if ((w & LiveBit) == 0 || GenerationOf(ref e, w) != generation
                || Interlocked.CompareExchange(ref e.Word, w | InvalidBit, w) == w)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Ends the connection or template at <paramref name="index"/> if it is live with <paramref name="generation"/>
    /// and controls no connection (the kernel's n_control: a template or a connection with controlled connections
    /// stays; its expiry is put off instead, see ExpireUntil), with the lock of the slot's
    /// shard held: unlinks it from both indexes (under their stripe locks) and the wheel, releases its counters and
    /// frees (or retires) the slot.
    /// </summary>
    private bool RemoveLocked(int index, uint generation) => RemoveLocked(index, generation, -1, -1);

    /// <summary>
    /// <see cref="RemoveLocked(int, uint)"/> with the entry's inbound probe and outbound bucket when the caller
    /// has computed them already (under the same hold of the shard's lock, so for the same occupant), else -1.
    /// </summary>
    private bool RemoveLocked(int index, uint generation, int knownProbe, int knownOutBucket)
    {
        ref var e = ref _entries[index];
        uint w = Volatile.Read(ref e.Word);
        if ((w & LiveBit) == 0 || GenerationOf(ref e, w) != generation)
        {
            return false;
        }

        // Live with the generation, and it stays so until this ends it (an end takes the shard's lock, held here), so its
        // key is stable. Its inbound stripe lock covers the unlink and, for a template, the check that it controls
        // nothing, which an insert's reference to it (taken under the same lock, see AddInto) cannot then slip past.
        int probe = knownProbe >= 0 ? knownProbe : ProbeOf(InboundHash(ref e), PartitionOf(index));

        // The lines the removal will write, loaded together rather than each waited for in turn: a removal that was
        // not prefetched (one by the caller's handle) otherwise waits for its route line, the inbound bucket, the
        // outbound chain's head and the timer wheel's two neighbours one after another.
        PrefetchInboundHead(probe);
        MemoryPrefetch.Line(ref _routes[index]);
        bool isTemplate = (e.Meta & TemplateMeta) != 0;
        ref int inGate = ref _inLocks[InboundStripe(probe >> ProbeTagBits)];
        bool outbound = (e.Meta & OutboundMeta) != 0;
        int outBucket = outbound ? (knownOutBucket >= 0 ? knownOutBucket : OutboundBucket(index)) : 0;
        PrefetchOutboundHeadAndTimer(index, outbound ? outBucket : -1);

        // Both stripe locks before the first write to an index line (see AddInto's remarks).
        EnterStripe(ref inGate);
        if (outbound)
        {
            EnterStripe(ref _outLocks[OutboundStripe(outBucket)]);
        }

        try
        {
            while (true)
            {
                w = Volatile.Read(ref e.Word);
                if ((isTemplate ? (Volatile.Read(ref e.Meta) >> AuxShift) != 0 : (Volatile.Read(ref _routes[index].Controlled) & ~AnywhereBit) != 0))
                {
                    // A template or connection that still controls connections stays (the kernel's n_control check).
                    return false;
                }

                if (Interlocked.CompareExchange(ref e.Word, w & ~LiveBit, w) == w)
                {
                    break;
                }
            }

            UnlinkInbound(probe, index);
            if (outbound)
            {
                Unlink(ref OutboundHeadOf(outBucket), ref _outVersions[OutboundStripe(outBucket)], index, outbound: true);
            }
        }
        finally
        {
            if (outbound)
            {
                ExitStripe(ref _outLocks[OutboundStripe(outBucket)]);
            }

            ExitStripe(ref inGate);
        }

        ref var r = ref _routes[index];
        if ((r.Controlled & AnywhereBit) != 0)
        {
            // Unlinked: steered lookups need not look in its partition for it any more.
            _ = Interlocked.Decrement(ref _partitionExpiry[PartitionOf(index)].Anywhere);
        }

        int shard = ShardOf(index);
        if (r.WheelPrev != NotFiled)
        {
            UnfileLocked(shard, index);
        }

        var server = _table.Registry[e.RealServer];
        if (isTemplate)
        {
            server.RemovePersistentConnection();
        }
        else
        {
            server.RemoveConnection(active: (w & InactiveBit) == 0);
            int control = ControlOf(e.Meta);
            if (control >= 0 && (_entries[control].Meta & TemplateMeta) != 0)
            {
                _ = Interlocked.Add(ref _entries[control].Meta, unchecked(0u - AuxUnit));
            }
            else if (control >= 0)
            {
                _ = Interlocked.Decrement(ref _routes[control].Controlled);
            }
        }

        r.NextOut = -1;
        ref var state = ref Shard(shard);
        if (generation == ConnectionHandle.MaxGeneration)
        {
            // Its generations are used up: reusing it could let a handle of an ended connection match a new one.
            Volatile.Write(ref state.Retired, state.Retired + 1);
        }
        else
        {
            e.NextIn = state.FreeHead;
            Volatile.Write(ref state.FreeHead, index);
        }

        Volatile.Write(ref state.Count, state.Count - 1);
        return true;
    }

    /// <summary>
    /// Starts loading what a removal of the entry at <paramref name="index"/> writes in its outbound chain (the head of
    /// <paramref name="outBucket"/>, none when -1) and in its timer wheel list (its neighbours' route lines).
    /// </summary>
    private void PrefetchOutboundHeadAndTimer(int index, int outBucket)
    {
        if (outBucket >= 0)
        {
            PrefetchOutboundHead(outBucket);
        }

        ref var r = ref _routes[index];
        PrefetchRoute(r.WheelPrev);
        PrefetchRoute(r.WheelNext);
    }

    private void Unlink(ref int link, ref int version, int index, bool outbound)
    {
        int steps = 0;
        while (link >= 0 && steps++ < _entries.Length)
        {
            if (link == index)
            {
                Volatile.Write(ref link, outbound ? _routes[index].NextOut : _entries[index].NextIn);

                // Bump before the slot can be reused, so a reader that passed through it walks again (see remarks; a
                // release store, as in UnlinkInbound: the stripe's lock serializes its writers).
                Volatile.Write(ref version, version + 1);
                return;
            }

            link = ref outbound ? ref _routes[link].NextOut : ref _entries[link].NextIn;
        }
    }
}
