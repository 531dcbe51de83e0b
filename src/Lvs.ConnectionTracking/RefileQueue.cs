namespace Lvs.ConnectionTracking;

/// <summary>
/// The connections whose timeout got shorter since they were filed in the timer wheel, waiting for housekeeping to
/// re-file them: a bounded lock-free queue (Dmitry Vyukov's bounded MPMC queue, with one consumer) of
/// (slot, generation) pairs. Packet threads enqueue without taking the writer lock; housekeeping drains it under the
/// lock before it expires anything, so expiry stays exact.
/// </summary>
internal sealed class RefileQueue
{
    private readonly long[] _sequence;
    private readonly ulong[] _items;
    private readonly int _mask;
    private long _enqueuePosition;
    private long _dequeuePosition;

    /// <summary>Creates an empty queue.</summary>
    /// <param name="capacity">A power of two.</param>
    public RefileQueue(int capacity)
    {
        _sequence = new long[capacity];
        _items = new ulong[capacity];
        _mask = capacity - 1;
        for (int i = 0; i < capacity; i++)
        {
            _sequence[i] = i;
        }
    }

    /// <summary>Adds a slot and generation; false when the queue is full (the caller re-files under the lock itself).</summary>
    public bool TryEnqueue(int index, uint generation)
    {
        long position = Volatile.Read(ref _enqueuePosition);
        while (true)
        {
            long sequence = Volatile.Read(ref _sequence[position & _mask]);
            long difference = sequence - position;
            if (difference == 0)
            {
                long seen = Interlocked.CompareExchange(ref _enqueuePosition, position + 1, position);
                if (seen == position)
                {
                    break;
                }

                position = seen;
            }
            else if (difference < 0)
            {
                return false;
            }
            else
            {
                position = Volatile.Read(ref _enqueuePosition);
            }
        }

        _items[position & _mask] = ((ulong)generation << 32) | (uint)index;
        Volatile.Write(ref _sequence[position & _mask], position + 1);
        return true;
    }

    /// <summary>Takes the oldest entry; one consumer at a time (the holder of the store's writer lock).</summary>
    public bool TryDequeue(out int index, out uint generation)
    {
        long position = _dequeuePosition;
        long sequence = Volatile.Read(ref _sequence[position & _mask]);
        if (sequence != position + 1)
        {
            index = 0;
            generation = 0;
            return false;
        }

        ulong item = _items[position & _mask];
        Volatile.Write(ref _sequence[position & _mask], position + _mask + 1);
        _dequeuePosition = position + 1;
        index = (int)(uint)item;
        generation = (uint)(item >> 32);
        return true;
    }
}
