using Lvs.Core;
using Lvs.Devices;

namespace Lvs.Hosting.Tests;

public class PacketWorkerLoopAllocationTests
{
    [Fact]
    public void RunOnce_EstablishedNatFrames_AllocatesNothingPerFrame()
    {
        using var lab = new LoopLab();
        lab.ClientLink.Inject(LoopLab.Syn(40000));
        lab.Loop.RunOnce();
        Assert.Single(lab.ServerLink.Drain());

        var ack = TestFrames.Tcp(LoopLab.ClientMac, LoopLab.ClientLinkMac, "10.0.0.2", 40000, "10.0.0.100", 80, syn: false, ack: true);
        var clients = new ReplayLink("client", LoopLab.ClientLinkMac, [InetPrefix.Parse("10.0.0.1/24")], ack, framesPerReceive: 32);
        var servers = new ReplayLink("servers", LoopLab.ServerLinkMac, [InetPrefix.Parse("10.1.0.1/24")], frame: null, framesPerReceive: 0);
        var loop = new PacketWorkerLoop(0, lab.Engine, [clients, servers], lab.Resolver, new LvsDirectorOptions { ReceiveTimeoutMilliseconds = 0 }, lab.Time);
        for (int i = 0; i < 20; i++)
        {
            loop.RunOnce();
        }

        // GC.GetAllocatedBytesForCurrentThread can charge a thread a few kilobytes it did not allocate while other
        // threads of the process allocate and collect (the other test classes run in parallel): a loop of pure
        // arithmetic beside an allocating thread read 1.5-6.7 KB in 0.1-1.5 % of its windows, most often during
        // background GCs. So the window of 200 rounds (6,400 frames) is measured up to 5 times and one of them must read
        // 0: an allocation per frame, or any that comes back within 6,400 frames, shows in every window.
        var windows = new List<long>(5);
        for (int attempt = 0; attempt < windows.Capacity && !windows.Contains(0); attempt++)
        {
            windows.Add(AllocatedOverRounds(loop, 200));
        }

        Assert.Equal((20 + (200 * windows.Count)) * 32, servers.SentCount);
        Assert.True(windows.Contains(0), $"bytes allocated per window of 6,400 frames: {string.Join(", ", windows)}");
    }

    /// <summary>The bytes the calling thread allocated over <paramref name="rounds"/> rounds of the loop.</summary>
    private static long AllocatedOverRounds(PacketWorkerLoop loop, int rounds)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < rounds; i++)
        {
            loop.RunOnce();
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    /// <summary>A link whose queue receives the same frame again and again and counts what it sends, allocating nothing.</summary>
    private sealed class ReplayLink(string name, MacAddress mac, IReadOnlyList<InetPrefix> addresses, byte[]? frame, int framesPerReceive) : IFrameLink, IFrameQueue
    {
        private readonly byte[] _buffer = new byte[64 * 2048];

        public string Name => name;

        public MacAddress Mac => mac;

        public int Mtu => 1500;

        public IReadOnlyList<InetPrefix> Addresses => addresses;

        public int QueueCount => 1;

        public int SentCount { get; private set; }

        public IFrameLink Link => this;

        public IFrameQueue GetQueue(int index) => this;

        public int Receive(FrameBatch batch, int timeoutMilliseconds)
        {
            batch.Reset(_buffer, this);
            for (int i = 0; frame is not null && i < framesPerReceive; i++)
            {
                int offset = (i * 2048) + batch.Headroom;
                frame.CopyTo(_buffer, offset);
                _ = batch.TryAdd(offset, frame.Length, 2048 - batch.Headroom);
            }

            return batch.Count;
        }

        public void Release(FrameBatch batch) => batch.Clear();

        public bool TrySend(ReadOnlySpan<byte> sent)
        {
            SentCount++;
            return true;
        }

        public void Flush()
        {
        }

        public void Dispose()
        {
        }
    }
}
