using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Lvs.Core;
using Lvs.Devices.Tests.Lab;

namespace Lvs.Devices.Tests;

/// <summary>One wait over the queues of several AF_PACKET links, on veth pairs between namespaces the tests create.</summary>
public sealed class FrameQueueWaitSetTests : IDisposable
{
    private readonly NetworkLab _lab = new();

    public void Dispose() => _lab.Dispose();

    [Theory]
    [InlineData(AfPacketReceiveRing.Frames)]
    [InlineData(AfPacketReceiveRing.Blocks)]
    public void Wait_FrameOnTheFirstOfTwoLinks_EndsTheWaitBeforeTheTimeout(AfPacketReceiveRing ring)
    {
        // A thread that waited on the last link only would sleep the whole 4 s while a frame waits on the first.
        LabPrerequisites.Require();
        string director = _lab.AddNamespace("d");
        string peer = _lab.AddNamespace("p");
        (string first, _) = _lab.AddVeth(director, "10.77.0.1/24", peer, "10.77.0.2/24", "x");
        (string second, _) = _lab.AddVeth(director, "10.78.0.1/24", peer, "10.78.0.2/24", "y");
        var options = new AfPacketLinkOptions { ReceiveRing = ring, BlockTimeoutMilliseconds = 10 };
        using AfPacketLink a = NetworkLab.InNamespace(director, () => new AfPacketLink(first, options));
        using AfPacketLink b = NetworkLab.InNamespace(director, () => new AfPacketLink(second, options));
        var set = new FrameQueueWaitSet([a.GetQueue(0), b.GetQueue(0)]);
        Assert.True(set.CanWait);
        Drain(a.GetQueue(0));
        Drain(b.GetQueue(0));

        var sender = new Thread(() =>
        {
            Thread.Sleep(300);
            using Socket udp = NetworkLab.InNamespace(peer, () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
            udp.SendTo(new byte[64], new IPEndPoint(IPAddress.Parse("10.77.0.1"), 9993));
        });
        var watch = Stopwatch.StartNew();
        sender.Start();
        bool woken = false;
        while (!woken && watch.ElapsedMilliseconds < 4000)
        {
            // Other frames (IPv6 router solicitations) may end a wait too: wait until the UDP frame is there.
            set.Wait(4000);
            woken = Drain(a.GetQueue(0), 9993);
            Drain(b.GetQueue(0));
        }

        sender.Join();
        Assert.True(woken, "the frame on the first link was not received");
        Assert.True(watch.ElapsedMilliseconds < 2500, $"the wait ended after {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void Wait_QueueWithoutDescriptor_CannotWaitAndReturnsAtOnce()
    {
        (MemoryLink left, MemoryLink right) = MemoryLink.CreatePair(
            ("a", new MacAddress(0x02_00_00_00_00_0A), [InetPrefix.Parse("10.0.0.1/24")]),
            ("b", new MacAddress(0x02_00_00_00_00_0B), [InetPrefix.Parse("10.0.0.2/24")]));
        var set = new FrameQueueWaitSet([left.GetQueue(0), right.GetQueue(0)]);
        var watch = Stopwatch.StartNew();

        Assert.False(set.CanWait);
        Assert.False(set.Wait(2000));
        Assert.True(watch.ElapsedMilliseconds < 1000);
    }

    /// <summary>Takes every frame waiting on the queue; returns whether one was UDP to <paramref name="port"/>.</summary>
    private static bool Drain(IFrameQueue queue, ushort port = 0)
    {
        var batch = new FrameBatch(64);
        bool found = false;
        while (queue.Receive(batch, 0) > 0)
        {
            foreach (ReceivedFrame frame in batch.Frames)
            {
                found |= port != 0 && TestFrames.IsUdpTo(batch.Buffer.Slice(frame.Offset, frame.Length), port);
            }

            queue.Release(batch);
        }

        return found;
    }
}
