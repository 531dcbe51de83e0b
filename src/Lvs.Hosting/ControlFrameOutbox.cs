namespace Lvs.Hosting;

/// <summary>
/// Frames the director originates off the packet path (ARP and neighbour discovery retries and probes, gratuitous
/// announcements), handed to the packet thread that owns queue 0 of every link, which sends them between batches: a
/// link's queue is used by one thread at a time. A bounded single-consumer ring of fixed slots: the consumer takes no
/// lock and allocates nothing; producers serialise among themselves (the resolver's lock).
/// </summary>
internal sealed class ControlFrameOutbox
{
    public const int SlotSize = 128;
    private readonly byte[] _buffer;
    private readonly int[] _lengths;
    private readonly int[] _links;
    private readonly int _mask;
    private long _head;
    private long _tail;

    public ControlFrameOutbox(int capacity = 1024)
    {
        capacity = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(capacity, 2));
        _buffer = new byte[capacity * SlotSize];
        _lengths = new int[capacity];
        _links = new int[capacity];
        _mask = capacity - 1;
    }

    /// <summary>The frames waiting.</summary>
    public int Count => (int)(Volatile.Read(ref _tail) - Volatile.Read(ref _head));

    /// <summary>Queues a copy of a frame (producers: under one lock).</summary>
    /// <returns>False when the ring is full or the frame is longer than a slot.</returns>
    public bool TryEnqueue(int link, ReadOnlySpan<byte> frame)
    {
        long tail = _tail;
        if (frame.Length > SlotSize || tail - Volatile.Read(ref _head) > _mask)
        {
            return false;
        }

        int index = (int)(tail & _mask);
        frame.CopyTo(_buffer.AsSpan(index * SlotSize));
        _lengths[index] = frame.Length;
        _links[index] = link;
        Volatile.Write(ref _tail, tail + 1);
        return true;
    }

    /// <summary>The oldest frame (the consumer only), valid until <see cref="Advance"/>.</summary>
    public bool TryPeek(out int link, out ReadOnlySpan<byte> frame)
    {
        long head = _head;
        if (head >= Volatile.Read(ref _tail))
        {
            link = -1;
            frame = default;
            return false;
        }

        int index = (int)(head & _mask);
        link = _links[index];
        frame = _buffer.AsSpan(index * SlotSize, _lengths[index]);
        return true;
    }

    /// <summary>Frees the oldest frame (the consumer only).</summary>
    public void Advance() => Volatile.Write(ref _head, _head + 1);
}
