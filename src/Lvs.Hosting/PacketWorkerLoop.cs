using Lvs.Core;
using Lvs.Devices;
using Lvs.Director;

namespace Lvs.Hosting;

/// <summary>
/// One packet thread: receives batches on queue <see cref="Index"/> of every link, runs them through its
/// <see cref="PacketWorker"/> and carries out the verdicts on the same-numbered queues, so each queue has one thread.
/// Nothing here allocates per frame.
/// </summary>
/// <remarks>
/// Verdicts: <c>Transmit</c> sends every frame (<see cref="FrameVerdict.GetFrame"/>) on the verdict's link;
/// <c>Drop</c> is already counted by the engine; <c>Deliver</c> is ignored: on an AF_PACKET link the host's kernel got
/// its own copy of the frame, and on a TAP device the director is the far end of the device, so a frame that is not
/// the director's has no other stack to go to; <c>Consumed</c> needs nothing; <c>ResolveNeighbor</c> asks the
/// <see cref="NeighborResolver"/> (the first request goes out at once) and holds a copy of the frame until the
/// neighbour answers (then it is submitted again, in arrival order) or fails (then it is dropped and counted as
/// <see cref="DropReason.NeighborUnresolved"/>). Queues are flushed after every batch.
/// </remarks>
internal sealed class PacketWorkerLoop
{
    private readonly DirectorEngine _engine;
    private readonly PacketWorker _worker;
    private readonly NeighborResolver _resolver;
    private readonly TimeProvider _time;
    private readonly IFrameQueue[] _queues;
    private readonly bool[] _dirty;
    private readonly FrameBatch _batch;
    private readonly FrameSlot[] _slots;
    private readonly FrameVerdict[] _verdicts;
    private readonly HeldFrames _held;
    private readonly int[] _heldSlots;
    private readonly FrameSlot[] _heldFrameSlots;
    private readonly FrameVerdict[] _heldVerdicts;
    private readonly byte[] _probe = new byte[ControlFrameOutbox.SlotSize];
    private readonly int _receiveTimeout;
    private readonly FrameQueueWaitSet? _waitSet;

    public PacketWorkerLoop(int index, DirectorEngine engine, IReadOnlyList<IFrameLink> links, NeighborResolver resolver, LvsDirectorOptions options, TimeProvider time)
    {
        Index = index;
        _engine = engine;
        _worker = engine.CreateWorker();
        _resolver = resolver;
        _time = time;
        _queues = [.. links.Select(link => link.GetQueue(index))];
        _dirty = new bool[_queues.Length];
        _batch = new FrameBatch(options.BatchSize);
        _slots = new FrameSlot[options.BatchSize];
        _verdicts = new FrameVerdict[options.BatchSize];
        int perNeighbor = resolver.Parameters.UnresolvedQueueLength;
        _held = new HeldFrames(options.HeldFramesPerWorker, options.HeldFrameSize, FrameBatch.DefaultHeadroom, perNeighbor);
        int most = Math.Max(1, Math.Min(perNeighbor, options.HeldFramesPerWorker));
        _heldSlots = new int[most];
        _heldFrameSlots = new FrameSlot[most];
        _heldVerdicts = new FrameVerdict[most];
        _receiveTimeout = options.ReceiveTimeoutMilliseconds;

        // With several links, one poll over all their queues: a frame on any of them wakes the thread at once.
        var waitSet = new FrameQueueWaitSet(_queues);
        _waitSet = _queues.Length > 1 && waitSet.CanWait ? waitSet : null;
    }

    /// <summary>The queue index of every link this thread uses.</summary>
    public int Index { get; }

    /// <summary>The frames held for neighbours now.</summary>
    public int HeldCount => _held.Count;

    /// <summary>Runs until cancelled, then sends what is queued.</summary>
    public void Run(CancellationToken cancellation)
    {
        int first = 0;
        while (!cancellation.IsCancellationRequested)
        {
            RunOnce(first);
            first = _queues.Length > 1 ? (first + 1) % _queues.Length : 0;
        }

        SendControlFrames();
        Flush();
    }

    /// <summary>
    /// One round: every link's queue is read once, then held frames and control frames are handled. When nothing came,
    /// the thread waits: on all the queues at once when they are AF_PACKET or TAP queues (the whole timeout, 1 ms while
    /// frames are held); otherwise the last queue read waits (the whole timeout with one link, 1 ms with several, and
    /// 1 ms while frames are held).
    /// </summary>
    internal void RunOnce(int first = 0)
    {
        bool received = false;
        for (int n = 0; n < _queues.Length; n++)
        {
            int link = (first + n) % _queues.Length;
            int wait = 0;
            if (n == _queues.Length - 1 && !received && _waitSet is null)
            {
                wait = _queues.Length > 1 || _held.PendingCount > 0 ? Math.Min(1, _receiveTimeout) : _receiveTimeout;
            }

            var queue = _queues[link];
            if (queue.Receive(_batch, wait) > 0)
            {
                received = true;
                ProcessBatch(link);
                queue.Release(_batch);
                Flush();
            }
        }

        if (_held.PendingCount > 0)
        {
            ServiceHeld();
        }

        if (Index == 0)
        {
            SendControlFrames();
        }

        Flush();
        if (!received)
        {
            // Nothing came: the worker's per-tick duty (its partition's expiry, with --partition-connections).
            _worker.Idle();
        }

        if (!received && _waitSet is not null)
        {
            _waitSet.Wait(_held.PendingCount > 0 ? Math.Min(1, _receiveTimeout) : _receiveTimeout);
        }
    }

    private void ProcessBatch(int link)
    {
        var frames = _batch.Frames;
        var slots = _slots.AsSpan(0, frames.Length);
        for (int i = 0; i < frames.Length; i++)
        {
            // Each frame may grow only into its own room (outer fragments), never into the next frame of a ring block.
            slots[i] = new FrameSlot(frames[i].Offset, frames[i].Length, link, frames[i].Capacity);
        }

        var verdicts = _verdicts.AsSpan(0, frames.Length);
        var buffer = _batch.Buffer;
        _worker.ProcessBatch(buffer, slots, verdicts);
        for (int i = 0; i < verdicts.Length; i++)
        {
            ref readonly var verdict = ref verdicts[i];
            if (verdict.Action == FrameAction.ResolveNeighbor)
            {
                Hold(verdict, buffer.Slice(frames[i].Offset, frames[i].Length), link);
            }
            else
            {
                Carry(verdict, buffer);
            }
        }
    }

    /// <summary>Carries out every verdict but ResolveNeighbor.</summary>
    private void Carry(in FrameVerdict verdict, Span<byte> buffer)
    {
        if (verdict.Action != FrameAction.Transmit || (uint)verdict.Link >= (uint)_queues.Length)
        {
            return;
        }

        var queue = _queues[verdict.Link];
        for (int k = 0; k < verdict.FrameCount; k++)
        {
            var (offset, length) = verdict.GetFrame(k);

            // A full transmit queue drops the frame; the link counts it.
            _ = queue.TrySend(buffer.Slice(offset, length));
        }

        _dirty[verdict.Link] = true;
    }

    private void Hold(in FrameVerdict verdict, ReadOnlySpan<byte> frame, int arrivedOn)
    {
        if ((uint)verdict.Link >= (uint)_queues.Length)
        {
            _worker.CountDrop(DropReason.NeighborUnresolved);
            return;
        }

        var entry = _engine.Neighbors.GetOrAdd(verdict.Link, verdict.NextHop);
        var state = _resolver.Request(entry, _probe, out int probeLength);
        if (probeLength > 0)
        {
            _ = _queues[verdict.Link].TrySend(_probe.AsSpan(0, probeLength));
            _dirty[verdict.Link] = true;
        }

        if (_held.Hold(entry, state, frame, arrivedOn, Now()) != HoldResult.Held)
        {
            _worker.CountDrop(DropReason.NeighborUnresolved);
        }
    }

    /// <summary>Submits again the frames of neighbours that resolved (in arrival order) and drops those of neighbours that failed.</summary>
    private void ServiceHeld()
    {
        long now = Now();
        for (int i = _held.PendingCount - 1; i >= 0; i--)
        {
            ref var pending = ref _held.GetPending(i);
            var entry = pending.Entry!;
            if (entry.IsResolved)
            {
                Resubmit(_held.Detach(i, _heldSlots), now);
            }
            else if (Volatile.Read(ref pending.State!.Failures) != pending.Failures || now - pending.HeldTicks > _resolver.MaxHoldTicks)
            {
                int count = _held.Detach(i, _heldSlots);
                for (int k = 0; k < count; k++)
                {
                    _worker.CountDrop(DropReason.NeighborUnresolved);
                    _held.Free(_heldSlots[k]);
                }
            }
        }
    }

    private void Resubmit(int count, long now)
    {
        var slots = _heldFrameSlots.AsSpan(0, count);
        for (int k = 0; k < count; k++)
        {
            int slot = _heldSlots[k];
            // A held frame's room is its pool slot.
            slots[k] = new FrameSlot(_held.Offset(slot), _held.Length(slot), _held.LinkOf(slot), _held.MaxFrameLength);
        }

        var verdicts = _heldVerdicts.AsSpan(0, count);
        _worker.ProcessBatch(_held.Buffer, slots, verdicts);
        for (int k = 0; k < count; k++)
        {
            ref readonly var verdict = ref verdicts[k];
            if (verdict.Action == FrameAction.ResolveNeighbor && (uint)verdict.Link < (uint)_queues.Length)
            {
                // Another neighbour (or the same one, forgotten again): the frame is unchanged and waits in its slot.
                var entry = _engine.Neighbors.GetOrAdd(verdict.Link, verdict.NextHop);
                var state = _resolver.Request(entry, _probe, out int probeLength);
                if (probeLength > 0)
                {
                    _ = _queues[verdict.Link].TrySend(_probe.AsSpan(0, probeLength));
                    _dirty[verdict.Link] = true;
                }

                if (!_held.Rehold(_heldSlots[k], entry, state, now))
                {
                    _worker.CountDrop(DropReason.NeighborUnresolved);
                }

                continue;
            }

            if (verdict.Action == FrameAction.ResolveNeighbor)
            {
                _worker.CountDrop(DropReason.NeighborUnresolved);
            }

            Carry(verdict, _held.Buffer);
            _held.Free(_heldSlots[k]);
        }
    }

    private void SendControlFrames()
    {
        var outbox = _resolver.Outbox;
        while (outbox.TryPeek(out int link, out var frame))
        {
            if ((uint)link < (uint)_queues.Length)
            {
                _ = _queues[link].TrySend(frame);
                _dirty[link] = true;
            }

            outbox.Advance();
        }
    }

    private void Flush()
    {
        for (int i = 0; i < _dirty.Length; i++)
        {
            if (_dirty[i])
            {
                _dirty[i] = false;
                _queues[i].Flush();
            }
        }
    }

    private long Now() => _time.GetUtcNow().UtcTicks;
}
