using Lvs.Director;

namespace Lvs.Hosting;

/// <summary>What became of a frame given to <see cref="HeldFrames.Hold"/>.</summary>
internal enum HoldResult
{
    Held,
    HeldDroppingOldest,
    Dropped,
}

/// <summary>
/// One packet thread's frames waiting for a neighbour's MAC address (the kernel's <c>arp_queue</c>): copied into a
/// preallocated pool of slots with headroom (so they can be rewritten in place when submitted again), kept in arrival
/// order per neighbour, at most <c>unres_qlen</c> per neighbour (the oldest is dropped for a new one, as
/// <c>__neigh_event_send</c> does). Nothing is allocated after construction; one thread uses it.
/// </summary>
internal sealed class HeldFrames
{
    private readonly byte[] _buffer;
    private readonly int _slotSize;
    private readonly int _headroom;
    private readonly int[] _next;
    private readonly int[] _length;
    private readonly int[] _link;
    private readonly Pending[] _pending;
    private readonly int _perNeighbor;
    private int _free;

    public HeldFrames(int slots, int frameSize, int headroom, int perNeighbor, int maxNeighbors = 64)
    {
        _slotSize = headroom + frameSize;
        _headroom = headroom;
        _perNeighbor = perNeighbor;
        _buffer = new byte[Math.Max(slots, 0) * _slotSize];
        _next = new int[slots];
        _length = new int[slots];
        _link = new int[slots];
        _pending = new Pending[maxNeighbors];
        for (int i = 0; i < slots; i++)
        {
            _next[i] = i + 1 < slots ? i + 1 : -1;
        }

        _free = slots > 0 ? 0 : -1;
    }

    public byte[] Buffer => _buffer;

    public int Count { get; private set; }

    public int PendingCount { get; private set; }

    public int MaxFrameLength => _slotSize - _headroom;

    public int Offset(int slot) => (slot * _slotSize) + _headroom;

    public int Length(int slot) => _length[slot];

    public int LinkOf(int slot) => _link[slot];

    public ref Pending GetPending(int index) => ref _pending[index];

    /// <summary>Copies a frame in behind the neighbour's other frames.</summary>
    public HoldResult Hold(NeighborEntry entry, NeighborResolution state, ReadOnlySpan<byte> frame, int link, long nowTicks)
    {
        if (frame.Length > MaxFrameLength || _perNeighbor <= 0 || _next.Length == 0)
        {
            return HoldResult.Dropped;
        }

        int p = FindOrAdd(entry, state, nowTicks);
        if (p < 0)
        {
            return HoldResult.Dropped;
        }

        var result = HoldResult.Held;
        ref var pending = ref _pending[p];
        if (pending.Count >= _perNeighbor || (_free < 0 && pending.Count > 0))
        {
            // The neighbour's queue is full (or the pool is): its oldest frame makes room.
            int oldest = pending.Head;
            pending.Head = _next[oldest];
            pending.Count--;
            Count--;
            Free(oldest);
            result = HoldResult.HeldDroppingOldest;
        }

        if (_free < 0)
        {
            if (pending.Count == 0)
            {
                Remove(p);
            }

            return HoldResult.Dropped;
        }

        int slot = _free;
        _free = _next[slot];
        frame.CopyTo(_buffer.AsSpan(Offset(slot)));
        _length[slot] = frame.Length;
        _link[slot] = link;
        Append(ref pending, slot);
        Count++;
        return result;
    }

    /// <summary>Puts back a slot whose frame, submitted again, still waits for a neighbour (the frame is unchanged).</summary>
    public bool Rehold(int slot, NeighborEntry entry, NeighborResolution state, long nowTicks)
    {
        int p = FindOrAdd(entry, state, nowTicks);
        if (p < 0 || _pending[p].Count >= _perNeighbor)
        {
            if (p >= 0 && _pending[p].Count == 0)
            {
                Remove(p);
            }

            Free(slot);
            return false;
        }

        Append(ref _pending[p], slot);
        Count++;
        return true;
    }

    /// <summary>Takes a neighbour's frames out (in arrival order) and forgets the neighbour; the slots stay taken until <see cref="Free"/> or <see cref="Rehold"/>.</summary>
    public int Detach(int index, Span<int> slots)
    {
        ref var pending = ref _pending[index];
        int n = 0;
        for (int slot = pending.Head; n < pending.Count; slot = _next[slot])
        {
            slots[n++] = slot;
        }

        Count -= n;
        Remove(index);
        return n;
    }

    public void Free(int slot)
    {
        _next[slot] = _free;
        _free = slot;
    }

    private void Append(ref Pending pending, int slot)
    {
        if (pending.Count == 0)
        {
            pending.Head = slot;
        }
        else
        {
            _next[pending.Tail] = slot;
        }

        pending.Tail = slot;
        pending.Count++;
    }

    private int FindOrAdd(NeighborEntry entry, NeighborResolution state, long nowTicks)
    {
        for (int i = 0; i < PendingCount; i++)
        {
            if (ReferenceEquals(_pending[i].Entry, entry))
            {
                return i;
            }
        }

        if (PendingCount == _pending.Length)
        {
            return -1;
        }

        _pending[PendingCount] = new Pending
        {
            Entry = entry,
            State = state,
            Failures = Volatile.Read(ref state.Failures),
            HeldTicks = nowTicks,
        };
        return PendingCount++;
    }

    private void Remove(int index)
    {
        _pending[index] = _pending[--PendingCount];
        _pending[PendingCount] = default;
    }

    /// <summary>One neighbour's waiting frames: a list of slots in arrival order.</summary>
    internal struct Pending
    {
        public NeighborEntry? Entry;
        public NeighborResolution? State;
        public int Failures;
        public long HeldTicks;
        public int Head;
        public int Tail;
        public int Count;
    }
}
