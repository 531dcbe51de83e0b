using Lvs.Core;
using PacketDotNet;

namespace Lvs.Hosting.Tests;

public class PacketWorkerLoopTests
{
    [Fact]
    public void RunOnce_NatService_ClientFrameRewrittenOutOnServerLinkAndReplyBackToClient()
    {
        using var lab = new LoopLab();

        lab.ClientLink.Inject(LoopLab.Syn(40000));
        lab.Loop.RunOnce();
        var toServer = Assert.Single(lab.ServerLink.Drain());
        Assert.Empty(lab.ClientLink.Drain());
        var eth = TestFrames.Parse(toServer);
        Assert.Equal(TestFrames.Phys(LoopLab.ServerLinkMac), eth.SourceHardwareAddress);
        Assert.Equal(TestFrames.Phys(LoopLab.ServerMac), eth.DestinationHardwareAddress);
        var (ip, tcp) = TestFrames.TcpOf(toServer)!.Value;
        Assert.Equal("10.0.0.2", ip.SourceAddress.ToString());
        Assert.Equal("10.1.0.11", ip.DestinationAddress.ToString());
        Assert.Equal(8080, tcp.DestinationPort);
        Assert.True(tcp.Synchronize);

        lab.ServerLink.Inject(TestFrames.Tcp(LoopLab.ServerMac, LoopLab.ServerLinkMac, "10.1.0.11", 8080, "10.0.0.2", 40000, syn: true, ack: true));
        lab.Loop.RunOnce();
        var toClient = Assert.Single(lab.ClientLink.Drain());
        eth = TestFrames.Parse(toClient);
        Assert.Equal(TestFrames.Phys(LoopLab.ClientLinkMac), eth.SourceHardwareAddress);
        Assert.Equal(TestFrames.Phys(LoopLab.ClientMac), eth.DestinationHardwareAddress);
        (ip, tcp) = TestFrames.TcpOf(toClient)!.Value;
        Assert.Equal("10.0.0.100", ip.SourceAddress.ToString());
        Assert.Equal(80, tcp.SourcePort);
        Assert.Equal("10.0.0.2", ip.DestinationAddress.ToString());
        Assert.Equal(40000, tcp.DestinationPort);
    }

    [Fact]
    public void RunOnce_UnresolvedServer_ArpRequestSentFramesHeldThenReleasedInOrderOnReply()
    {
        using var lab = new LoopLab(resolveServer: false);

        foreach (ushort port in (ushort[])[40001, 40002, 40003])
        {
            lab.ClientLink.Inject(LoopLab.Syn(port));
        }

        lab.Loop.RunOnce();
        var sent = lab.ServerLink.Drain();
        var request = Assert.Single(sent);
        var arp = TestFrames.Arp(request)!;
        Assert.Equal(ArpOperation.Request, arp.Operation);
        Assert.Equal("10.1.0.11", arp.TargetProtocolAddress.ToString());
        Assert.Equal("10.1.0.1", arp.SenderProtocolAddress.ToString());
        Assert.Equal(TestFrames.Phys(LoopLab.ServerLinkMac), arp.SenderHardwareAddress);
        Assert.Equal(System.Net.NetworkInformation.PhysicalAddress.Parse("FF-FF-FF-FF-FF-FF"), TestFrames.Parse(request).DestinationHardwareAddress);
        Assert.Equal(3, lab.Loop.HeldCount);

        lab.ServerLink.Inject(TestFrames.ArpReply(LoopLab.ServerMac, "10.1.0.11", LoopLab.ServerLinkMac, "10.1.0.1"));
        lab.Loop.RunOnce();

        var released = lab.ServerLink.Drain().Select(frame => TestFrames.TcpOf(frame)!.Value.Tcp.SourcePort).ToArray();
        Assert.Equal([40001, 40002, 40003], released);
        Assert.Equal(0, lab.Loop.HeldCount);
        Assert.Equal(0, lab.Engine.GetDropCount(DropReason.NeighborUnresolved));
    }

    [Fact]
    public void RunOnce_ServerNeverAnswers_ThreeRequestsOneSecondApartThenHeldFramesDropped()
    {
        using var lab = new LoopLab(resolveServer: false);
        lab.Resolver.Start();

        lab.ClientLink.Inject(LoopLab.Syn(40001));
        lab.ClientLink.Inject(LoopLab.Syn(40002));
        lab.Loop.RunOnce();
        var requests = LoopLab.RequestsFor(lab.ServerLink.Drain(), "10.1.0.11").Count;
        Assert.Equal(1, requests);

        for (int second = 1; second <= 3; second++)
        {
            lab.Time.Advance(TimeSpan.FromSeconds(1));
            lab.Loop.RunOnce();
            requests += LoopLab.RequestsFor(lab.ServerLink.Drain(), "10.1.0.11").Count;
            Assert.Equal(second < 3 ? 2 : 0, lab.Loop.HeldCount);
        }

        // mcast_solicit: 3 requests, retrans_time 1 s apart; then the entry fails and what it held is dropped.
        Assert.Equal(3, requests);
        Assert.Equal(2, lab.Engine.GetDropCount(DropReason.NeighborUnresolved));
        Assert.False(lab.Engine.Neighbors.TryGet(1, InetAddress.Parse("10.1.0.11"), out _));
    }

    [Fact]
    public void RunOnce_MoreFramesThanUnresQlen_OldestDropped()
    {
        using var lab = new LoopLab(resolveServer: false);
        int queueLength = lab.Resolver.Parameters.UnresolvedQueueLength;
        for (int i = 0; i < queueLength + 2; i++)
        {
            lab.ClientLink.Inject(LoopLab.Syn((ushort)(40000 + i)));
            if (i % 50 == 49)
            {
                lab.Loop.RunOnce();
            }
        }

        lab.Loop.RunOnce();
        Assert.Equal(queueLength, lab.Loop.HeldCount);
        Assert.Equal(2, lab.Engine.GetDropCount(DropReason.NeighborUnresolved));

        _ = lab.ServerLink.Drain();
        lab.ServerLink.Inject(TestFrames.ArpReply(LoopLab.ServerMac, "10.1.0.11", LoopLab.ServerLinkMac, "10.1.0.1"));
        lab.Loop.RunOnce();
        var ports = lab.ServerLink.Drain().Select(frame => (int)TestFrames.TcpOf(frame)!.Value.Tcp.SourcePort).ToArray();
        Assert.Equal(Enumerable.Range(40002, queueLength), ports);
    }
}
