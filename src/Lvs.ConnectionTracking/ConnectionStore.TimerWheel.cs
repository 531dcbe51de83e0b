namespace Lvs.ConnectionTracking;

/// <content>
/// The part of <see cref="ConnectionStore{TAddress}"/> for the timer wheel: one level of 1024 one-second slots, filed lazily, expired by housekeeping.
/// </content>
internal sealed partial class ConnectionStore<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    internal const int WheelSize = 1024;
    internal const int HousekeepingBatch = 256;

    /// <summary>The expiries per writer-lock hold with an observer (their descriptions wait on the housekeeper's stack, 8 KiB).</summary>
    internal const int ObservedHousekeepingBatch = 64;

    /// <summary>How long a template that still controls connections is kept when its own timer runs out (the kernel's <c>expire_later</c>).</summary>
    internal const uint TemplateGraceTicks = 60;
    private const int NotFiled = int.MinValue;

    /// <summary>Files a slot of <paramref name="shard"/> (whose lock is held) in its wheel at <paramref name="expiry"/>, clamped to the wheel's span.</summary>
    private void FileLocked(int shard, int index, uint expiry)
    {
        uint tick = expiry;
        uint lastTick = Shard(shard).LastTick;
        uint earliest = lastTick + 1;
        uint latest = lastTick + WheelSize;
        if ((int)(tick - earliest) < 0)
        {
            tick = earliest;
        }
        else if ((int)(tick - latest) > 0)
        {
            tick = latest;
        }

        int slot = (int)(tick & (WheelSize - 1));
        ref var r = ref _routes[index];
        var wheel = _shardParts[shard].Wheel;
        int head = wheel[slot];
        r.WheelNext = head;
        r.WheelPrev = -1 - slot;
        if (head >= 0)
        {
            _routes[head].WheelPrev = index;
        }

        wheel[slot] = index;
    }

    private void UnfileLocked(int shard, int index)
    {
        ref var r = ref _routes[index];
        int prev = r.WheelPrev;
        int next = r.WheelNext;
        if (prev >= 0)
        {
            _routes[prev].WheelNext = next;
        }
        else
        {
            _shardParts[shard].Wheel[-1 - prev] = next;
        }

        if (next >= 0)
        {
            _routes[next].WheelPrev = prev;
        }

        r.WheelPrev = NotFiled;
        r.WheelNext = -1;
    }

    /// <summary>
    /// For a hold's entries, the inbound probe and (for those with an outbound link) the outbound bucket of each that
    /// is due, else -1, with their lines' loads started: the removals then find them in the cache instead of each
    /// waiting for two reads from DRAM in turn.
    /// </summary>
    private void PrefetchExpiries(ReadOnlySpan<int> batch, Span<int> probes, Span<int> outBuckets, uint tick, int partition)
    {
        for (int k = 0; k < batch.Length; k++)
        {
            ref var e = ref _entries[batch[k]];
            probes[k] = -1;
            outBuckets[k] = -1;
            if ((int)(Volatile.Read(ref e.Expiry) - tick) <= 0 && (Volatile.Read(ref e.Word) & LiveBit) != 0)
            {
                int probe = ProbeOf(InboundHash(ref e), partition);
                probes[k] = probe;
                PrefetchInboundHead(probe);
                if ((e.Meta & OutboundMeta) != 0)
                {
                    int bucket = OutboundBucket(batch[k]);
                    outBuckets[k] = bucket;
                    PrefetchOutboundHead(bucket);
                }
            }
        }
    }

    private void RefileLocked(int shard, int index, uint generation)
    {
        if (TryReadWord(index, generation, out _) && _routes[index].WheelPrev != NotFiled)
        {
            UnfileLocked(shard, index);
            FileLocked(shard, index, Volatile.Read(ref _entries[index].Expiry));
        }
    }

    /// <summary>
    /// Processes every wheel slot up to <paramref name="now"/>, shard by shard: expires what is due and re-files what
    /// was refreshed; except the shards that packet threads expire themselves and keep up with (see
    /// <see cref="ExpirePartition"/>).
    /// </summary>
    public int ExpireUntil(uint now)
    {
        int expired = 0;
        int run = Interlocked.Increment(ref _housekeepingRuns);
        for (int k = 0; k < ShardCount; k++)
        {
            if (!LeftToPacketThreads(k, run))
            {
                expired += ExpireUntil(k, now);
            }
        }

        return expired;
    }

    /// <summary>Processes one shard's wheel up to <paramref name="now"/>, taking its lock for at most <see cref="HousekeepingBatch"/> expiries at a time.</summary>
    private int ExpireUntil(int shard, uint now)
    {
        int expired = 0;
        ref var state = ref Shard(shard);
        var parts = _shardParts[shard];
        var wheel = parts.Wheel;

        // With an observer, the ends of each lock hold are described here and reported after the release.
        Span<ConnectionEnd> ends = _observer is null ? default : stackalloc ConnectionEnd[ObservedHousekeepingBatch];
        int endCount = 0;

        // A hold's entries, with the inbound probes and outbound buckets of those due (see ExpireBatch).
        Span<int> batch = stackalloc int[HousekeepingBatch];
        Span<int> probes = stackalloc int[HousekeepingBatch];
        Span<int> outBuckets = stackalloc int[HousekeepingBatch];
        while (true)
        {
            Report(ends[..endCount]);
            endCount = 0;
            EnterShard(shard);
            try
            {
                if ((int)(now - state.LastTick) <= 0)
                {
                    return expired;
                }

                // Timeout changes start flood defence's window promptly, and the log it has read can be collected.
                parts.IdleTimeouts.CatchUp(now);

                // Timeouts shortened since the last pass go to their earlier slots first, so that none is passed over.
                while (parts.Refiles.TryDequeue(out int refile, out uint refileGeneration))
                {
                    RefileLocked(shard, refile, refileGeneration);
                }

                uint tick = state.LastTick + 1;
                int slot = (int)(tick & (WheelSize - 1));
                int budget = _observer is null ? HousekeepingBatch : ObservedHousekeepingBatch;

                // The slot's first entries. Nothing else changes its chain while the shard's lock is held (re-filing
                // moves entries to later slots), so they are taken first and their index buckets loaded together.
                int n = 0;
                for (int i = wheel[slot]; i >= 0 && n < budget; i = _routes[i].WheelNext)
                {
                    batch[n++] = i;
                }

                PrefetchExpiries(batch[..n], probes, outBuckets, tick, shard & _partitionMask);
                for (int k = 0; k < n; k++)
                {
                    int i = batch[k];
                    ref var e = ref _entries[i];
                    UnfileLocked(shard, i);
                    uint expiry = Volatile.Read(ref e.Expiry);
                    if ((int)(expiry - tick) > 0)
                    {
                        FileLocked(shard, i, expiry);
                        continue;
                    }

                    uint w = Volatile.Read(ref e.Word);
                    bool template = (e.Meta & TemplateMeta) != 0;

                    // A template, or a connection controlling others (an FTP control connection), goes only once it
                    // controls nothing, checked by the removal under its stripe lock, where an insert in another shard
                    // takes its reference (ip_vs_conn_expire's n_control check).
                    if (RemoveLocked(i, GenerationOf(ref e, w), probes[k], outBuckets[k]))
                    {
                        expired++;
                        state.Expired++;
                        if (endCount < ends.Length)
                        {
                            ends[endCount++] = DescribeEnd(i, ConnectionEndReason.Expired);
                        }
                    }
                    else if (TryReadWord(i, GenerationOf(ref e, w), out _))
                    {
                        // Still controlling connections: expire_later puts it off by 60 s (cp->timeout = 60*HZ). For a
                        // template that also makes 60 s its timeout from then on, so each connection it places
                        // afterwards re-arms it with 60 s, not the persistence timeout; a connection's next packet sets
                        // its state's timeout again, as any other.
                        uint rearmed = now + ExpiryRounding + TemplateGraceTicks;
                        if (template)
                        {
                            // Under the template's stripe lock, as an insert's refresh of its expiry.
                            ref int gate = ref _inLocks[_striped ? InboundStripeOf(i) : 0];
                            EnterStripe(ref gate);
                            _routes[i].NextOut = (int)TemplateGraceTicks;
                            Volatile.Write(ref e.Expiry, rearmed);
                            ExitStripe(ref gate);
                        }
                        else if (Interlocked.CompareExchange(ref e.Expiry, rearmed, expiry) != expiry)
                        {
                            // Over the expiry read above only, as a packet's refresh: a packet that refreshed it meanwhile wins.
                            rearmed = Volatile.Read(ref e.Expiry);
                        }

                        FileLocked(shard, i, rearmed);
                    }
                }

                if (wheel[slot] < 0)
                {
                    state.LastTick = tick;
                }
            }
            finally
            {
                ExitShard(shard);
            }
        }
    }
}
