namespace Lvs.Devices;

/// <summary>
/// One queue of a <see cref="MemoryLink"/>: a ring of fixed-stride slots its peer copies frames into. Receive hands
/// out the filled slots (in arrival order) and <see cref="Release"/> frees them; a send that finds the peer's ring full
/// fails and is counted.
/// </summary>
public sealed class MemoryQueue : IFrameQueue
{
    private readonly MemoryLink _link;
    private readonly byte[] _buffer;
    private readonly int[] _lengths;
    private readonly int _stride;
    private readonly int _headroom;
    private readonly int _maxFrameLength;
    private readonly object _gate = new();
    private long _head;
    private long _tail;
    private long _handedOut;
    private bool _closed;

    internal MemoryQueue(MemoryLink link, MemoryLinkOptions options, int maxFrameLength)
    {
        _link = link;
        _headroom = options.Headroom;
        _maxFrameLength = maxFrameLength;
        _stride = options.Headroom + maxFrameLength + options.Tailroom;
        _buffer = GC.AllocateArray<byte>(options.Slots * _stride, pinned: true);
        _lengths = new int[options.Slots];
    }

    /// <inheritdoc/>
    public IFrameLink Link => _link;

    /// <summary>This queue's counters.</summary>
    public FrameQueueCounters Counters { get; } = new();

    /// <inheritdoc/>
    public int Receive(FrameBatch batch, int timeoutMilliseconds)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Headroom > _headroom)
        {
            throw new ArgumentException($"The batch wants {batch.Headroom} bytes of headroom; the link gives {_headroom}.", nameof(batch));
        }

        batch.Reset(_buffer, this);
        lock (_gate)
        {
            _head = _handedOut; // frames of a batch not released are given back now
            if (_tail == _head && timeoutMilliseconds != 0 && !_closed)
            {
                Monitor.Wait(_gate, timeoutMilliseconds);
            }

            long position = _head;
            while (position < _tail && batch.Count < batch.Capacity)
            {
                int slot = (int)(position % _lengths.Length);
                batch.TryAdd((slot * _stride) + _headroom, _lengths[slot], _stride - _headroom);
                position++;
            }

            _handedOut = position;
        }

        Counters.CountReceived(batch.Count);
        return batch.Count;
    }

    /// <inheritdoc/>
    public void Release(FrameBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch.Clear();
        lock (_gate)
        {
            _head = _handedOut;
        }
    }

    /// <inheritdoc/>
    public bool TrySend(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14 || frame.Length > _maxFrameLength)
        {
            Counters.CountDrop(LinkDropReason.TransmitBadLength);
            return false;
        }

        MemoryQueue peer = _link.PeerQueueFor(_link.IndexOf(this));
        if (!peer.TryDeliver(frame))
        {
            Counters.CountDrop(LinkDropReason.TransmitQueueFull);
            return false;
        }

        Counters.CountSent(1);
        return true;
    }

    /// <inheritdoc/>
    public void Flush()
    {
    }

    internal void Close()
    {
        lock (_gate)
        {
            _closed = true;
            Monitor.PulseAll(_gate);
        }
    }

    private bool TryDeliver(ReadOnlySpan<byte> frame)
    {
        lock (_gate)
        {
            if (_closed || _tail - _head == _lengths.Length)
            {
                return false;
            }

            int slot = (int)(_tail % _lengths.Length);
            frame.CopyTo(_buffer.AsSpan((slot * _stride) + _headroom));
            _lengths[slot] = frame.Length;
            _tail++;
            Monitor.Pulse(_gate);
            return true;
        }
    }
}
