using System.Net;
using System.Net.Sockets;
using Lvs.Core;
using Lvs.Devices.Tests.Lab;

namespace Lvs.Devices.Tests;

/// <summary>AF_PACKET links on veth pairs between network namespaces the tests create.</summary>
public sealed class AfPacketLinkTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);
    private readonly NetworkLab _lab = new();

    public void Dispose() => _lab.Dispose();

    [Theory]
    [InlineData(AfPacketReceiveRing.Frames)]
    [InlineData(AfPacketReceiveRing.Blocks)]
    public void Receive_UdpFromKernelInAnotherNamespace_ArrivesWithHeadroomAndCompletedChecksum(AfPacketReceiveRing ring)
    {
        (string director, string peer, string link, string peerLink) = Pair();
        using AfPacketLink afPacket = NetworkLab.InNamespace(director, () => new AfPacketLink(link, new AfPacketLinkOptions { ReceiveRing = ring }));
        // The sender leaves its checksums to the "hardware".
        Assert.True(NetworkLab.InNamespace(peer, () => InterfaceOffloads.Get(peerLink, InterfaceOffload.TransmitChecksum)));

        SendUdp(peer, "10.77.0.1", 9999, sourcePort: 0, count: 3);
        int headroomSeen = int.MaxValue;
        List<byte[]> frames = TestFrames.ReceiveWhere(
            afPacket.GetQueue(0),
            frame => TestFrames.IsUdpTo(frame, 9999),
            found => found.Count >= 3,
            Patience,
            batch =>
            {
                foreach (ReceivedFrame frame in batch.Frames)
                {
                    headroomSeen = Math.Min(headroomSeen, frame.Offset);
                }
            });

        Assert.Equal(3, frames.Count);
        Assert.All(frames, frame => Assert.True(TestFrames.HasValidTransportChecksum(frame)));
        // veth keeps the local sender's CHECKSUM_PARTIAL: the link completed those checksums.
        Assert.True(((AfPacketQueue)afPacket.GetQueue(0)).Counters.ChecksumsCompleted >= 3);
        Assert.True(headroomSeen >= FrameBatch.DefaultHeadroom);
    }

    [Fact]
    public void Receive_Udp6FromKernelWithPartialChecksum_ChecksumCompleted()
    {
        (string director, string peer, string link, string peerLink) = Pair();
        NetworkLab.RunIn(director, $"addr add 2001:db8:77::1/64 dev {link} nodad");
        NetworkLab.RunIn(peer, $"addr add 2001:db8:77::2/64 dev {peerLink} nodad");
        using AfPacketLink afPacket = NetworkLab.InNamespace(director, () => new AfPacketLink(link));

        using (Socket udp = NetworkLab.InNamespace(peer, () => new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp)))
        {
            udp.SendTo(new byte[333], new IPEndPoint(IPAddress.Parse("2001:db8:77::1"), 9995));
        }

        byte[] frame = Assert.Single(TestFrames.ReceiveWhere(afPacket.GetQueue(0), f => TestFrames.IsUdp6To(f, 9995), found => found.Count > 0, Patience));
        Assert.True(TestFrames.HasValidUdp6Checksum(frame));
        Assert.Equal(1, afPacket.GetQueue(0).Counters!.ChecksumsCompleted);
    }

    [Theory]
    [InlineData(AfPacketReceiveRing.Frames)]
    [InlineData(AfPacketReceiveRing.Blocks)]
    public void Receive_NothingArrives_ReturnsZeroWhenTheTimeoutPasses(AfPacketReceiveRing ring)
    {
        (string director, _, string link, _) = Pair();
        using AfPacketLink afPacket = NetworkLab.InNamespace(director, () => new AfPacketLink(link, new AfPacketLinkOptions { ReceiveRing = ring }));
        NetworkLab.RunIn(director, $"link set {link} down");
        var batch = new FrameBatch(8);

        // What the kernels sent while the link was up (IPv6 duplicate address detection, MLD reports, router
        // solicitations, at random delays after it came up) may wait in the ring: the link is idle only after them.
        var queue = afPacket.GetQueue(0);
        while (queue.Receive(batch, 0) > 0)
        {
            queue.Release(batch);
        }

        var watch = System.Diagnostics.Stopwatch.StartNew();

        Assert.Equal(0, queue.Receive(batch, 200));
        Assert.InRange(watch.ElapsedMilliseconds, 150, 2000);
        Assert.Equal(0, batch.Count);
    }

    [Theory]
    [InlineData(AfPacketReceiveRing.Frames)]
    [InlineData(AfPacketReceiveRing.Blocks)]
    public void TrySend_EchoRequestToKernel_KernelAnswersOnTheLink(AfPacketReceiveRing ring)
    {
        (string director, string peer, string link, string peerLink) = Pair();
        using AfPacketLink afPacket = NetworkLab.InNamespace(director, () => new AfPacketLink(link, new AfPacketLinkOptions { ReceiveRing = ring }));
        MacAddress peerMac = NetworkLab.MacOf(peer, peerLink);
        IFrameQueue queue = afPacket.GetQueue(0);

        byte[] request = TestFrames.EchoRequest(afPacket.Mac, peerMac, InetAddress.Parse("10.77.0.1"), InetAddress.Parse("10.77.0.2"), 0x4C56, 1);
        Assert.True(queue.TrySend(request));
        queue.Flush();

        List<byte[]> replies = TestFrames.ReceiveWhere(queue, frame => TestFrames.IsEchoReply(frame, 0x4C56), found => found.Count > 0, Patience);
        Assert.Single(replies);
        Assert.Equal(1, ((AfPacketQueue)queue).Counters.Sent);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Open_ReceiveAllMulticast_InterfaceAllMultiWhileOpenOnly(bool allMulticast)
    {
        (string director, _, string link, _) = Pair();
        // IFF_ALLMULTI (0x200) in the device's flags (ip link shows only the flag a user set, not the sockets' count).
        bool Flagged() => (Convert.ToInt32(NetworkLab.RunIp($"netns exec {director} cat /sys/class/net/{link}/flags").Trim(), 16) & 0x200) != 0;
        Assert.False(Flagged());

        using (NetworkLab.InNamespace(director, () => new AfPacketLink(link, new AfPacketLinkOptions { QueueCount = 2, ReceiveAllMulticast = allMulticast })))
        {
            // Solicitations for a VIP's solicited-node group pass a NIC's multicast filter only so.
            Assert.Equal(allMulticast, Flagged());
        }

        Assert.False(Flagged());
    }

    [Theory]
    [InlineData(AfPacketReceiveRing.Frames)]
    [InlineData(AfPacketReceiveRing.Blocks)]
    public void Receive_TwoFanoutQueues_EachFlowReachesOneQueue(AfPacketReceiveRing ring)
    {
        (string director, string peer, string link, _) = Pair();
        using AfPacketLink afPacket = NetworkLab.InNamespace(director, () => new AfPacketLink(link, new AfPacketLinkOptions { QueueCount = 2, ReceiveRing = ring }));
        Assert.NotNull(afPacket.FanoutGroupId);

        const int flows = 16;
        const int perFlow = 4;
        for (int flow = 0; flow < flows; flow++)
        {
            SendUdp(peer, "10.77.0.1", 9998, sourcePort: (ushort)(20000 + flow), count: perFlow);
        }

        var seen = new Dictionary<ushort, HashSet<int>>();
        int total = 0;
        DateTime deadline = DateTime.UtcNow + Patience;
        while (total < flows * perFlow && DateTime.UtcNow < deadline)
        {
            for (int q = 0; q < 2; q++)
            {
                foreach (byte[] frame in TestFrames.ReceiveWhere(afPacket.GetQueue(q), f => TestFrames.IsUdpTo(f, 9998), _ => false, TimeSpan.FromMilliseconds(100)))
                {
                    ushort port = TestFrames.UdpSourcePort(frame);
                    if (!seen.TryGetValue(port, out HashSet<int>? queues))
                    {
                        seen[port] = queues = [];
                    }

                    queues.Add(q);
                    total++;
                }
            }
        }

        Assert.True(flows * perFlow == total, $"{total} frames: " + string.Join(", ", seen.Select(pair => $"{pair.Key}->{string.Join('+', pair.Value)}")));
        Assert.Equal(flows, seen.Count);
        Assert.All(seen.Values, queues => Assert.Single(queues));
        // 16 flows all on one queue would happen with probability 2^-15.
        Assert.Equal(2, seen.Values.Select(queues => queues.First()).Distinct().Count());
    }

    [Theory]
    [InlineData(AfPacketReceiveRing.Frames)]
    [InlineData(AfPacketReceiveRing.Blocks)]
    public void Receive_ManyFramesInOneBlock_EveryFrameHasItsTailroomAndNoRoomOverlapsTheNextFrame(AfPacketReceiveRing ring)
    {
        (string director, string peer, string link, _) = Pair();
        using AfPacketLink afPacket = NetworkLab.InNamespace(director, () => new AfPacketLink(link, new AfPacketLinkOptions { BlockTimeoutMilliseconds = 50, ReceiveRing = ring }));

        SendUdp(peer, "10.77.0.1", 9997, sourcePort: 0, count: 40);
        var checkedPairs = 0;
        var batch = new FrameBatch(8);
        DateTime deadline = DateTime.UtcNow + Patience;
        int received = 0;
        while (received < 40 && DateTime.UtcNow < deadline)
        {
            if (afPacket.GetQueue(0).Receive(batch, 100) == 0)
            {
                continue;
            }

            ReadOnlySpan<ReceivedFrame> frames = batch.Frames;
            for (int i = 0; i < frames.Length; i++)
            {
                Assert.True(frames[i].Capacity - frames[i].Length >= new AfPacketLinkOptions().Tailroom, $"frame {i} has {frames[i].Capacity - frames[i].Length} bytes of tailroom");
                Assert.True(frames[i].Offset + frames[i].Capacity <= batch.Buffer.Length);
                if (i + 1 < frames.Length)
                {
                    Assert.True(frames[i].Offset + frames[i].Capacity <= frames[i + 1].Offset - batch.Headroom, $"frame {i} room overlaps frame {i + 1}");
                    checkedPairs++;
                }

                if (TestFrames.IsUdpTo(batch.Buffer.Slice(frames[i].Offset, frames[i].Length), 9997))
                {
                    received++;
                }
            }

            // Writing every byte a frame owns must not disturb the frames after it.
            foreach (ReceivedFrame frame in frames)
            {
                batch.Buffer.Slice(frame.Offset - batch.Headroom, batch.Headroom).Fill(0xEE);
                batch.Buffer.Slice(frame.Offset + frame.Length, frame.Capacity - frame.Length).Fill(0xEE);
            }

            afPacket.GetQueue(0).Release(batch);
        }

        Assert.Equal(40, received);
        Assert.True(checkedPairs > 0);
    }

    [Fact]
    public void Receive_DefaultRing_OneFrameArrivesWithoutWaitingForTheBlockTimeout()
    {
        // A block ring would hand this lone frame over only when its block retires, up to 3 s after the link opened;
        // the default ring hands every frame over as soon as the kernel has written it.
        (string director, string peer, string link, _) = Pair();
        using AfPacketLink afPacket = NetworkLab.InNamespace(director, () => new AfPacketLink(link, new AfPacketLinkOptions { BlockTimeoutMilliseconds = 3000 }));
        var watch = System.Diagnostics.Stopwatch.StartNew();

        SendUdp(peer, "10.77.0.1", 9994, sourcePort: 0, count: 1);
        Assert.Single(TestFrames.ReceiveWhere(afPacket.GetQueue(0), frame => TestFrames.IsUdpTo(frame, 9994), found => found.Count > 0, Patience));

        Assert.True(watch.ElapsedMilliseconds < 1000, $"the frame took {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void Receive_BlockRing_OneFrameWaitsUntilItsBlockRetires()
    {
        // The block ring's cost at low rates, which the default ring does not have: the frame is handed over with
        // its block, when the block's timer fires (3 s after the link opened).
        (string director, string peer, string link, _) = Pair();
        using AfPacketLink afPacket = NetworkLab.InNamespace(director, () => new AfPacketLink(link, new AfPacketLinkOptions { BlockTimeoutMilliseconds = 3000, ReceiveRing = AfPacketReceiveRing.Blocks }));
        var watch = System.Diagnostics.Stopwatch.StartNew();

        SendUdp(peer, "10.77.0.1", 9994, sourcePort: 0, count: 1);
        Assert.Single(TestFrames.ReceiveWhere(afPacket.GetQueue(0), frame => TestFrames.IsUdpTo(frame, 9994), found => found.Count > 0, Patience));

        Assert.True(watch.ElapsedMilliseconds >= 1000, $"the frame took {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void Open_GroOnTheInterface_TurnedOffWhileOpenAndRestoredOnDispose()
    {
        (string director, _, string link, _) = Pair();
        NetworkLab.InNamespace(director, () =>
        {
            Assert.True(InterfaceOffloads.TrySet(link, InterfaceOffload.GenericReceive, on: true));
            var afPacket = new AfPacketLink(link);
            Assert.False(InterfaceOffloads.Get(link, InterfaceOffload.GenericReceive));
            Assert.Contains("generic-receive-offload", afPacket.DisabledOffloads);
            afPacket.Dispose();
            Assert.True(InterfaceOffloads.Get(link, InterfaceOffload.GenericReceive));
        });
    }

    [Theory]
    [InlineData(AfPacketReceiveRing.Frames)]
    [InlineData(AfPacketReceiveRing.Blocks)]
    public void Receive_SegmentationOffloadedTcpFromLocalSender_CountedAsOversizeNotDelivered(AfPacketReceiveRing ring)
    {
        (string director, string peer, string link, _) = Pair();
        using AfPacketLink afPacket = NetworkLab.InNamespace(director, () => new AfPacketLink(link, new AfPacketLinkOptions { ReceiveRing = ring }));

        int largest = SendTcpAndWatch(afPacket, director, peer);

        Assert.True(afPacket.GetQueue(0).Counters!.Dropped(LinkDropReason.Oversize) > 0, "the veth peer's TSO sends frames larger than the MTU");
        Assert.True(largest <= afPacket.MaxFrameLength);
    }

    [Theory]
    [InlineData(AfPacketReceiveRing.Frames)]
    [InlineData(AfPacketReceiveRing.Blocks)]
    public void Receive_TcpFromLocalSenderWithSegmentationOffloadOff_EveryFrameWithinTheMtu(AfPacketReceiveRing ring)
    {
        (string director, string peer, string link, string peerLink) = Pair();
        Assert.True(NetworkLab.InNamespace(peer, () => InterfaceOffloads.TrySet(peerLink, InterfaceOffload.TcpSegmentation, on: false)));
        Assert.False(NetworkLab.InNamespace(peer, () => InterfaceOffloads.Get(peerLink, InterfaceOffload.TcpSegmentation)));
        using AfPacketLink afPacket = NetworkLab.InNamespace(director, () => new AfPacketLink(link, new AfPacketLinkOptions { ReceiveRing = ring }));

        int largest = SendTcpAndWatch(afPacket, director, peer);

        Assert.Equal(0, afPacket.GetQueue(0).Counters!.Dropped(LinkDropReason.Oversize));
        Assert.Equal(1500 + 14, largest);
    }

    [Fact]
    public void InterfaceFacts_Read_IndexMacMtuAndAddressesWithPrefixLengths()
    {
        (string director, _, string link, _) = Pair();
        NetworkLab.RunIn(director, $"link set {link} mtu 1400");
        NetworkLab.RunIn(director, $"addr add 2001:db8:77::1/64 dev {link} nodad");
        InterfaceFacts facts = NetworkLab.InNamespace(director, () => InterfaceFacts.Read(link));

        Assert.Equal(1400, facts.Mtu);
        Assert.True(facts.Index > 0);
        Assert.True(facts.IsUp);
        Assert.Equal(NetworkLab.RunIn(director, $"-br link show {link}").Split(' ', StringSplitOptions.RemoveEmptyEntries)[2], facts.Mac.ToString());
        Assert.Contains(InetPrefix.Parse("10.77.0.1/24"), facts.Addresses);
        Assert.Contains(InetPrefix.Parse("2001:db8:77::1/64"), facts.Addresses);
    }

    /// <summary>Sends 256 KiB over TCP from the peer to the director's kernel while the link watches; returns the largest frame it delivered.</summary>
    private static int SendTcpAndWatch(AfPacketLink afPacket, string director, string peer)
    {
        using Socket listener = NetworkLab.InNamespace(director, () =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Parse("10.77.0.1"), 9996));
            socket.Listen();
            return socket;
        });
        using Socket client = NetworkLab.InNamespace(peer, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        client.Connect(new IPEndPoint(IPAddress.Parse("10.77.0.1"), 9996));
        using Socket accepted = listener.Accept();
        var payload = new byte[256 * 1024];
        var sending = new Thread(() => client.Send(payload));
        sending.Start();
        var sink = new byte[64 * 1024];
        int read = 0;
        while (read < payload.Length)
        {
            read += accepted.Receive(sink);
        }

        sending.Join(Patience);
        int largest = 0;
        TestFrames.ReceiveWhere(afPacket.GetQueue(0), frame =>
        {
            largest = Math.Max(largest, frame.Length);
            return false;
        }, _ => false, TimeSpan.FromMilliseconds(500));
        return largest;
    }

    private static void SendUdp(string ns, string address, ushort port, ushort sourcePort, int count)
    {
        using Socket socket = NetworkLab.InNamespace(ns, () =>
        {
            var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Any, sourcePort));
            return udp;
        });
        var payload = new byte[100];
        for (int i = 0; i < count; i++)
        {
            payload[0] = (byte)i;
            socket.SendTo(payload, new IPEndPoint(IPAddress.Parse(address), port));
        }
    }

    private (string Director, string Peer, string Link, string PeerLink) Pair()
    {
        LabPrerequisites.Require();
        string director = _lab.AddNamespace("d");
        string peer = _lab.AddNamespace("p");
        (string link, string peerLink) = _lab.AddVeth(director, "10.77.0.1/24", peer, "10.77.0.2/24");
        return (director, peer, link, peerLink);
    }
}
