using System.Diagnostics;
using Lvs.Core;

namespace Lvs.Devices.Tests;

public class MemoryLinkTests
{
    private static (MemoryLink A, MemoryLink B) Pair(int slots = 8, int queues = 1) => MemoryLink.CreatePair(
        ("a", new MacAddress(0x02_00_00_00_00_0A), [InetPrefix.Parse("10.0.0.1/24")]),
        ("b", new MacAddress(0x02_00_00_00_00_0B), [InetPrefix.Parse("10.0.0.2/24")]),
        new MemoryLinkOptions { Slots = slots, QueueCount = queues });

    private static byte[] Frame(byte marker, int length = 60)
    {
        var frame = new byte[length];
        frame.AsSpan().Fill(marker);
        return frame;
    }

    [Fact]
    public void TrySend_OnOneEnd_ReceivedOnTheOtherWithHeadroomAndRoom()
    {
        (MemoryLink a, MemoryLink b) = Pair();
        Assert.True(a.GetQueue(0).TrySend(Frame(1)));
        Assert.True(a.GetQueue(0).TrySend(Frame(2, 1514)));

        var batch = new FrameBatch(16);
        Assert.Equal(2, b.GetQueue(0).Receive(batch, 0));
        Assert.Equal([1, 2], batch.Frames.ToArray().Select(f => batch.Buffer[f.Offset]));
        Assert.Equal([60, 1514], batch.Frames.ToArray().Select(f => f.Length));
        Assert.All(batch.Frames.ToArray(), f => Assert.True(f.Offset >= batch.Headroom && f.Capacity >= b.MaxFrameLength));
        Assert.True(batch.Frames[0].Offset + batch.Frames[0].Capacity <= batch.Frames[1].Offset - batch.Headroom);
        Assert.Same(b, a.Peer);
        Assert.Same(a.GetMemoryQueue(0).Counters, a.GetQueue(0).Counters);
        Assert.Equal(2, a.GetMemoryQueue(0).Counters.Sent);
        Assert.Equal(2, b.GetMemoryQueue(0).Counters.Received);
    }

    [Fact]
    public void TrySend_PeerRingFullOfUnreleasedFrames_FailsAndCountsWithoutOverwriting()
    {
        (MemoryLink a, MemoryLink b) = Pair(slots: 2);
        var batch = new FrameBatch(4);
        Assert.True(a.GetQueue(0).TrySend(Frame(1)));
        Assert.True(a.GetQueue(0).TrySend(Frame(2)));
        Assert.Equal(2, b.GetQueue(0).Receive(batch, 0));

        Assert.False(a.GetQueue(0).TrySend(Frame(3)));
        Assert.Equal(1, a.GetMemoryQueue(0).Counters.Dropped(LinkDropReason.TransmitQueueFull));
        Assert.Equal(1, batch.Buffer[batch.Frames[0].Offset]);

        b.GetQueue(0).Release(batch);
        Assert.True(a.GetQueue(0).TrySend(Frame(3)));
        Assert.Equal(1, b.GetQueue(0).Receive(batch, 0));
        Assert.Equal(3, batch.Buffer[batch.Frames[0].Offset]);
    }

    [Fact]
    public void Receive_NothingSent_ReturnsZeroAfterTheTimeout()
    {
        (_, MemoryLink b) = Pair();
        var watch = Stopwatch.StartNew();
        Assert.Equal(0, b.GetQueue(0).Receive(new FrameBatch(4), 50));
        Assert.True(watch.ElapsedMilliseconds >= 40);
    }

    [Fact]
    public void TrySend_TwoQueues_EachQueueDeliversToThePeersQueueOfTheSameIndex()
    {
        (MemoryLink a, MemoryLink b) = Pair(queues: 2);
        Assert.True(a.GetQueue(1).TrySend(Frame(7)));
        var batch = new FrameBatch(4);
        Assert.Equal(0, b.GetQueue(0).Receive(batch, 0));
        Assert.Equal(1, b.GetQueue(1).Receive(batch, 0));
    }

    [Fact]
    public void TrySend_FrameLongerThanTheMtu_Refused()
    {
        (MemoryLink a, _) = Pair();
        Assert.False(a.GetQueue(0).TrySend(Frame(1, 1519)));
        Assert.Equal(1, a.GetMemoryQueue(0).Counters.Dropped(LinkDropReason.TransmitBadLength));
    }
}
