using System.Runtime.InteropServices;
using Lvs.Devices.Native;

namespace Lvs.Devices;

/// <summary>
/// One queue of a <see cref="TapLink"/>: a /dev/net/tun descriptor. Receive reads frames (non-blocking, until none
/// is left or the batch is full) into fixed-stride slots of one native buffer, each with the headroom before it and
/// the slot's rest after it; send writes each frame at once (the kernel copies it), so <see cref="Flush"/> has
/// nothing left to do.
/// </summary>
public sealed unsafe class TapQueue : IFrameQueue, IPollableFrameQueue, IDisposable
{
    private readonly TapLink _link;
    private readonly int _fd;
    private readonly byte* _buffer;
    private readonly NativeMemoryManager _memory;
    private readonly int _slots;
    private readonly int _stride;
    private readonly int _headroom;
    private readonly int _maxFrameLength;
    private int _disposed;

    internal TapQueue(TapLink link, int fd, TapLinkOptions options, int maxFrameLength)
    {
        _link = link;
        _fd = fd;
        _headroom = options.Headroom;
        _maxFrameLength = maxFrameLength;
        _slots = options.BatchSize;
        _stride = (options.Headroom + maxFrameLength + options.Tailroom + 63) & ~63;
        _buffer = (byte*)NativeMemory.AlignedAlloc((nuint)(_slots * _stride), 64);
        _memory = new NativeMemoryManager(_buffer, _slots * _stride);
    }

    /// <inheritdoc/>
    public IFrameLink Link => _link;

    /// <summary>This queue's counters.</summary>
    public FrameQueueCounters Counters { get; } = new();

    /// <inheritdoc/>
    int IPollableFrameQueue.Descriptor => _fd;

    /// <inheritdoc/>
    bool IPollableFrameQueue.HasPending => false;

    /// <inheritdoc/>
    void IPollableFrameQueue.AcknowledgeError()
    {
        // A TAP descriptor has no socket error to clear.
    }

    /// <summary>The bytes between two frames' slots: headroom, the largest frame and the tailroom, rounded up to 64.</summary>
    public int Stride => _stride;

    /// <inheritdoc/>
    public int Receive(FrameBatch batch, int timeoutMilliseconds)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Headroom > _headroom)
        {
            throw new ArgumentException($"The batch wants {batch.Headroom} bytes of headroom; the link gives {_headroom}.", nameof(batch));
        }

        batch.Reset(_memory.Memory, this);
        if (Volatile.Read(ref _disposed) != 0)
        {
            return 0;
        }

        bool waited = false;
        int limit = Math.Min(_slots, batch.Capacity);
        int slot = 0;
        while (slot < limit)
        {
            byte* start = _buffer + (slot * _stride) + _headroom;
            int room = _stride - _headroom;
            nint read = LibC.Read(_fd, start, (nuint)room);
            if (read < 0)
            {
                if (slot == 0 && !waited && timeoutMilliseconds != 0 && Marshal.GetLastPInvokeError() == Constants.EAgain)
                {
                    TunTapDescriptor.WaitReadable(_fd, timeoutMilliseconds);
                    waited = true;
                    continue;
                }

                break;
            }

            if (read > _maxFrameLength)
            {
                Counters.CountDrop(LinkDropReason.Oversize);
                continue;
            }

            if (read < 14)
            {
                Counters.CountDrop(LinkDropReason.Truncated);
                continue;
            }

            batch.TryAdd((slot * _stride) + _headroom, (int)read, room);
            slot++;
        }

        Counters.CountReceived(batch.Count);
        return batch.Count;
    }

    /// <inheritdoc/>
    public void Release(FrameBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch.Clear();
    }

    /// <inheritdoc/>
    public bool TrySend(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14 || frame.Length > _maxFrameLength)
        {
            Counters.CountDrop(LinkDropReason.TransmitBadLength);
            return false;
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            return false;
        }

        nint written;
        fixed (byte* pointer = frame)
        {
            written = LibC.Write(_fd, pointer, (nuint)frame.Length);
        }

        if (written < 0)
        {
            Counters.CountDrop(Marshal.GetLastPInvokeError() == Constants.EAgain ? LinkDropReason.TransmitQueueFull : LinkDropReason.TransmitError);
            return false;
        }

        Counters.CountSent(1);
        return true;
    }

    /// <inheritdoc/>
    public void Flush()
    {
    }

    /// <summary>Closes the descriptor and frees the buffer. Call only after the thread using the queue has stopped.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            LibC.Close(_fd);
            NativeMemory.AlignedFree(_buffer);
        }
    }
}
