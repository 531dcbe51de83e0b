using System.Collections.Concurrent;
using Lvs.Core;
using Lvs.Devices;

namespace Lvs.Hosting.Tests;

/// <summary>
/// An in-memory link for tests: frames put in with <see cref="Inject"/> are received (in a buffer with headroom and
/// room after each frame, as a ring would give them); frames sent and flushed are collected in <see cref="Sent"/>.
/// </summary>
public sealed class FakeFrameLink : IFrameLink
{
    private readonly FakeFrameQueue[] _queues;

    public FakeFrameLink(string name, MacAddress mac, IReadOnlyList<InetPrefix> addresses, int queues = 1, int mtu = 1500)
    {
        Name = name;
        Mac = mac;
        Addresses = addresses;
        Mtu = mtu;
        _queues = [.. Enumerable.Range(0, queues).Select(_ => new FakeFrameQueue(this))];
    }

    public string Name { get; }

    public MacAddress Mac { get; }

    public int Mtu { get; }

    public IReadOnlyList<InetPrefix> Addresses { get; }

    public int QueueCount => _queues.Length;

    public bool IsDisposed { get; private set; }

    /// <summary>Every frame flushed on any queue, in order.</summary>
    public BlockingCollection<byte[]> Sent { get; } = [];

    public IFrameQueue GetQueue(int index) => _queues[index];

    /// <summary>Queues a frame for reception on queue <paramref name="queue"/>.</summary>
    public void Inject(byte[] frame, int queue = 0) => _queues[queue].Inject(frame);

    /// <summary>The next frame sent, or null after the timeout.</summary>
    public byte[]? Take(TimeSpan timeout) => Sent.TryTake(out var frame, timeout) ? frame : null;

    /// <summary>Every frame sent so far.</summary>
    public List<byte[]> Drain()
    {
        var result = new List<byte[]>();
        while (Sent.TryTake(out var frame))
        {
            result.Add(frame);
        }

        return result;
    }

    public void Dispose()
    {
        IsDisposed = true;
        foreach (var queue in _queues)
        {
            queue.Wake();
        }
    }

    private sealed class FakeFrameQueue(FakeFrameLink link) : IFrameQueue, IDisposable
    {
        private const int SlotSize = 4096;
        private readonly ConcurrentQueue<byte[]> _inbound = new();
        private readonly SemaphoreSlim _arrived = new(0);
        private readonly byte[] _buffer = new byte[64 * SlotSize];
        private readonly List<byte[]> _pending = [];

        public IFrameLink Link => link;

        public void Inject(byte[] frame)
        {
            _inbound.Enqueue(frame);
            _arrived.Release();
        }

        public void Wake() => _arrived.Release();

        public void Dispose() => _arrived.Dispose();

        public int Receive(FrameBatch batch, int timeoutMilliseconds)
        {
            batch.Reset(_buffer, this);
            if (_inbound.IsEmpty && !link.IsDisposed)
            {
                _ = _arrived.Wait(timeoutMilliseconds);
            }

            int slot = 0;
            while (slot < 64 && batch.Count < batch.Capacity && _inbound.TryDequeue(out var frame))
            {
                int offset = (slot * SlotSize) + batch.Headroom;
                frame.CopyTo(_buffer, offset);
                _ = batch.TryAdd(offset, frame.Length, SlotSize - batch.Headroom);
                slot++;
            }

            return batch.Count;
        }

        public void Release(FrameBatch batch) => batch.Clear();

        public bool TrySend(ReadOnlySpan<byte> frame)
        {
            _pending.Add(frame.ToArray());
            return true;
        }

        public void Flush()
        {
            foreach (var frame in _pending)
            {
                link.Sent.Add(frame);
            }

            _pending.Clear();
        }
    }
}

/// <summary>Hands out the test's links by name, as the Linux factory would open them.</summary>
public sealed class FakeLinkFactory(params FakeFrameLink[] links) : IFrameLinkFactory
{
    public List<(LinkSpecification Specification, int Queues)> Created { get; } = [];

    public IFrameLink Create(LinkSpecification specification, int queueCount)
    {
        Created.Add((specification, queueCount));
        return links.Single(link => link.Name == specification.Name);
    }
}
