namespace Lvs.Devices;

/// <summary>
/// A batch of received frames: one buffer (a ring block, or pooled memory) and where each frame lies in it. Each
/// frame has <see cref="Headroom"/> bytes before it and its own room after it, so a packet thread can rewrite it in
/// place (add a tunnel header, build an ICMP error) and send it from where it lies. Reused across receives: no
/// allocation per frame.
/// </summary>
public sealed class FrameBatch
{
    private readonly ReceivedFrame[] _frames;
    private Memory<byte> _buffer;

    /// <summary>Creates an empty batch.</summary>
    /// <param name="capacity">The most frames one receive may deliver.</param>
    /// <param name="headroom">The bytes every frame has before it (64 covers every rewrite of the forwarding package).</param>
    public FrameBatch(int capacity, int headroom = DefaultHeadroom)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(headroom);
        _frames = new ReceivedFrame[capacity];
        Headroom = headroom;
    }

    /// <summary>The default headroom: 64 bytes, the forwarding package's <c>FrameHeadroom.Required</c>.</summary>
    public const int DefaultHeadroom = 64;

    /// <summary>The most frames the batch holds.</summary>
    public int Capacity => _frames.Length;

    /// <summary>The bytes every frame has before its <see cref="ReceivedFrame.Offset"/>.</summary>
    public int Headroom { get; }

    /// <summary>The number of frames.</summary>
    public int Count { get; private set; }

    /// <summary>The memory every frame lies in.</summary>
    public Span<byte> Buffer => _buffer.Span;

    /// <summary>The frames, in arrival order.</summary>
    public ReadOnlySpan<ReceivedFrame> Frames => _frames.AsSpan(0, Count);

    /// <summary>The queue that filled the batch last (so its frames can be released), or null.</summary>
    public IFrameQueue? Owner { get; private set; }

    /// <summary>Empties the batch and points it at new memory (for queue implementations).</summary>
    /// <param name="buffer">The memory the next frames lie in.</param>
    /// <param name="owner">The queue filling it.</param>
    public void Reset(Memory<byte> buffer, IFrameQueue? owner)
    {
        _buffer = buffer;
        Owner = owner;
        Count = 0;
    }

    /// <summary>Empties the batch (its memory stays).</summary>
    public void Clear() => Count = 0;

    /// <summary>Adds a frame (for queue implementations).</summary>
    /// <param name="offset">The frame's offset in <see cref="Buffer"/>; at least <see cref="Headroom"/>.</param>
    /// <param name="length">Its length.</param>
    /// <param name="capacity">The bytes from <paramref name="offset"/> it may grow into; at least <paramref name="length"/>.</param>
    /// <returns>False when the batch is full.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The frame does not lie inside the buffer with its headroom.</exception>
    public bool TryAdd(int offset, int length, int capacity)
    {
        if (offset < Headroom || length < 0 || capacity < length || (long)offset + capacity > _buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"A frame at {offset} of {length} bytes with room for {capacity} does not fit a buffer of {_buffer.Length} bytes with {Headroom} bytes of headroom.");
        }

        if (Count == _frames.Length)
        {
            return false;
        }

        _frames[Count++] = new ReceivedFrame(offset, length, capacity);
        return true;
    }
}
