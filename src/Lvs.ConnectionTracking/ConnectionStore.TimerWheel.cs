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

    private void FileLocked(int index, uint expiry)
    {
        uint tick = expiry;
        uint earliest = _lastTick + 1;
        uint latest = _lastTick + WheelSize;
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
        int head = _wheel[slot];
        r.WheelNext = head;
        r.WheelPrev = -1 - slot;
        if (head >= 0)
        {
            _routes[head].WheelPrev = index;
        }

        _wheel[slot] = index;
    }

    private void UnfileLocked(int index)
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
            _wheel[-1 - prev] = next;
        }

        if (next >= 0)
        {
            _routes[next].WheelPrev = prev;
        }

        r.WheelPrev = NotFiled;
        r.WheelNext = -1;
    }

    private void RefileLocked(int index, uint generation)
    {
        if (TryReadWord(index, generation, out _) && _routes[index].WheelPrev != NotFiled)
        {
            UnfileLocked(index);
            FileLocked(index, Volatile.Read(ref _entries[index].Expiry));
        }
    }

    /// <summary>Processes every wheel slot up to <paramref name="now"/>: expires what is due and re-files what was refreshed.</summary>
    public int ExpireUntil(uint now)
    {
        int expired = 0;

        // With an observer, the ends of each lock hold are described here and reported after the release.
        Span<ConnectionEnd> ends = _observer is null ? default : stackalloc ConnectionEnd[ObservedHousekeepingBatch];
        int endCount = 0;
        while (true)
        {
            Report(ends[..endCount]);
            endCount = 0;
            lock (_writeLock)
            {
                if ((int)(now - _lastTick) <= 0)
                {
                    return expired;
                }

                // Timeout changes start flood defence's window promptly, and the log it has read can be collected.
                _idleTimeouts.CatchUp(now);

                // Timeouts shortened since the last pass go to their earlier slots first, so that none is passed over.
                while (_refiles.TryDequeue(out int refile, out uint refileGeneration))
                {
                    RefileLocked(refile, refileGeneration);
                }

                uint tick = _lastTick + 1;
                int slot = (int)(tick & (WheelSize - 1));
                int budget = _observer is null ? HousekeepingBatch : ObservedHousekeepingBatch;
                while (_wheel[slot] >= 0 && budget-- > 0)
                {
                    int i = _wheel[slot];
                    ref var e = ref _entries[i];
                    UnfileLocked(i);
                    uint expiry = Volatile.Read(ref e.Expiry);
                    if ((int)(expiry - tick) > 0)
                    {
                        FileLocked(i, expiry);
                        continue;
                    }

                    uint w = Volatile.Read(ref e.Word);
                    if ((e.Meta & TemplateMeta) != 0 && (Volatile.Read(ref e.Meta) >> AuxShift) != 0)
                    {
                        // The kernel's expire_later also makes 60 s the template's timeout from then on (cp->timeout =
                        // 60*HZ), so each connection it places afterwards re-arms it with 60 s, not the persistence timeout.
                        uint rearmed = now + ExpiryRounding + TemplateGraceTicks;
                        _routes[i].NextOut = (int)TemplateGraceTicks;
                        Volatile.Write(ref e.Expiry, rearmed);
                        FileLocked(i, rearmed);
                        continue;
                    }

                    if (RemoveLocked(i, GenerationOf(ref e, w), force: true))
                    {
                        expired++;
                        _expired++;
                        if (endCount < ends.Length)
                        {
                            ends[endCount++] = DescribeEnd(i, ConnectionEndReason.Expired);
                        }
                    }
                }

                if (_wheel[slot] < 0)
                {
                    _lastTick = tick;
                }
            }
        }
    }
}
