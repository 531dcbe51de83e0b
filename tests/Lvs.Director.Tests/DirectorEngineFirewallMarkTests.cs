using System.Net.NetworkInformation;
using Lvs.Core;
using PacketDotNet;

namespace Lvs.Director.Tests;

/// <summary>Firewall-mark services: the engine's mark rules stand in for netfilter's MARK in front of the kernel's director.</summary>
public class DirectorEngineFirewallMarkTests
{
    private static readonly InetAddress Vip = InetAddress.Parse("10.0.0.100");

    /// <summary>A lab whose VIP has mark 1 for TCP ports 80 and 443 (-f 1), with the servers on port 0 (they take the packet's port).</summary>
    private static (Lab Lab, VirtualServiceKey Key) MarkedLab(int persistence = 0, ForwardingMethod method = ForwardingMethod.Nat)
    {
        var lab = new Lab(new DirectorOptions
        {
            FirewallMarks =
            [
                new FirewallMarkRule(1, InetPrefix.Parse("10.0.0.100/32")) { Protocol = L4Protocol.Tcp, PortFirst = 80, PortLast = 80 },
                new FirewallMarkRule(1, InetPrefix.Parse("10.0.0.100/32")) { Protocol = L4Protocol.Tcp, PortFirst = 443, PortLast = 443 },
            ],
        });
        var key = VirtualServiceKey.ForFirewallMark(1);
        lab.Table.AddService(new VirtualServiceOptions(key) { Scheduler = "rr", PersistenceTimeout = persistence });
        for (int n = 1; n <= 3; n++)
        {
            lab.Table.AddRealServer(key, new RealServerOptions(new InetEndpoint(lab.Server(n), 0)) { Method = method });
            lab.Engine.Neighbors.Set(1, lab.Server(n), Lab.ServerMac(n));
        }

        return (lab, key);
    }

    [Fact]
    public void MarkedFlow_ScheduledByTheMarkService_ServerTakesThePacketsPort()
    {
        var (lab, _) = MarkedLab();
        using var _lab = lab;
        var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, Vip, 443, "S");

        var eth = syn.Output(lab.Send(syn, 0));

        var ip = PacketAssert.Ip(eth);
        var tcp = PacketAssert.Tcp(eth);
        Assert.Contains(ip.DestinationAddress, new[] { lab.Server(1), lab.Server(2), lab.Server(3) }.Select(s => s.ToIPAddress()));
        Assert.Equal(443, tcp.DestinationPort);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EchoRequestMarkedForAService_AnsweredByTheDirectorUnlessScheduleIcmpEcho(bool scheduleEcho)
    {
        // A mark rule for every protocol of the VIP (iptables -t mangle -A PREROUTING -d VIP -j MARK --set-mark 1): the
        // kernel's ip_vs_in leaves an echo request to the host (ip_vs_in_icmp handles only errors, and IPVS has no
        // protocol for ICMP), which answers it; ScheduleIcmpEcho forwards it to a real server as a flow of its own.
        using var lab = new Lab(new DirectorOptions
        {
            FirewallMarks = [new FirewallMarkRule(1, InetPrefix.Parse("10.0.0.100/32"))],
            ScheduleIcmpEcho = scheduleEcho,
        });
        var key = VirtualServiceKey.ForFirewallMark(1);
        lab.Table.AddService(new VirtualServiceOptions(key) { Scheduler = "rr" });
        lab.Table.AddRealServer(key, new RealServerOptions(new InetEndpoint(lab.Server(1), 0)) { Method = ForwardingMethod.DirectRouting });
        lab.Engine.Neighbors.Set(1, lab.Server(1), Lab.ServerMac(1));
        var echo = new IcmpV4Packet(new PacketDotNet.Utils.ByteArraySegment([8, 0, 0, 0, 0, 1, 0, 1, 9, 9]));
        var frame = Lab.Ip(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, Vip, echo);

        var eth = frame.Output(lab.Send(frame, 0));

        if (scheduleEcho)
        {
            PacketAssert.Addresses(eth, Lab.ServerLinkMac, Lab.ServerMac(1));
            Assert.Equal(IcmpV4TypeCode.EchoRequest, eth.Extract<IcmpV4Packet>().TypeCode);
            Assert.Single(lab.Engine.Connections.Enumerate());
        }
        else
        {
            PacketAssert.Addresses(eth, Lab.ClientLinkMac, Lab.ClientMac);
            Assert.Equal(IcmpV4TypeCode.EchoReply, eth.Extract<IcmpV4Packet>().TypeCode);
            Assert.Empty(lab.Engine.Connections.Enumerate());
        }
    }

    [Theory]
    [InlineData(0, 8080)]
    [InlineData(300, 443)]
    public void ServerWithAPort_NonPersistentMarkUsesIt_PersistentMarkKeepsThePacketsPort(int persistence, int expectedPort)
    {
        // ip_vs_schedule sends a connection to dest->port when the server has one; ip_vs_sched_persist sends it to the
        // packet's port unless that is the service's port (0 for a mark): "dport = dst_port; if (dport == svc->port &&
        // dest->port) dport = dest->port".
        using var lab = new Lab(new DirectorOptions
        {
            FirewallMarks = [new FirewallMarkRule(1, InetPrefix.Parse("10.0.0.100/32")) { Protocol = L4Protocol.Tcp }],
        });
        var key = VirtualServiceKey.ForFirewallMark(1);
        lab.Table.AddService(new VirtualServiceOptions(key) { Scheduler = "rr", PersistenceTimeout = persistence });
        lab.Table.AddRealServer(key, new RealServerOptions(new InetEndpoint(lab.Server(1), 8080)) { Method = ForwardingMethod.Nat });
        lab.Engine.Neighbors.Set(1, lab.Server(1), Lab.ServerMac(1));

        for (ushort clientPort = 40000; clientPort < 40002; clientPort++)
        {
            // The SYN creates the connection; the ACK after it is forwarded by the established path.
            foreach (string flags in new[] { "S", "A" })
            {
                var frame = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, clientPort, Vip, 443, flags);
                var eth = frame.Output(lab.Send(frame, 0));
                Assert.Equal(lab.Server(1).ToIPAddress(), PacketAssert.Ip(eth).DestinationAddress);
                Assert.Equal(expectedPort, PacketAssert.Tcp(eth).DestinationPort);
            }
        }

        var reply = Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), (ushort)expectedPort, lab.Client, 40000, "SA");
        var out_ = reply.Output(lab.Send(reply, 1));
        PacketAssert.Endpoints(PacketAssert.Ip(out_), PacketAssert.Tcp(out_), Vip, 443, lab.Client, 40000);
    }

    [Fact]
    public void ServiceEditedIntoPersistence_EstablishedConnectionKeepsItsDestinationPort()
    {
        // A connection keeps the destination it was given (the kernel's cp->dport), even when an edit of the mark service
        // (ipvsadm -E -f 1 -p) would send a new connection of the same packet elsewhere.
        using var lab = new Lab(new DirectorOptions
        {
            FirewallMarks = [new FirewallMarkRule(1, InetPrefix.Parse("10.0.0.100/32")) { Protocol = L4Protocol.Tcp }],
        });
        var key = VirtualServiceKey.ForFirewallMark(1);
        lab.Table.AddService(new VirtualServiceOptions(key) { Scheduler = "rr" });
        lab.Table.AddRealServer(key, new RealServerOptions(new InetEndpoint(lab.Server(1), 8080)) { Method = ForwardingMethod.Nat });
        lab.Engine.Neighbors.Set(1, lab.Server(1), Lab.ServerMac(1));
        int Send(ushort clientPort, string flags)
        {
            var frame = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, clientPort, Vip, 443, flags);
            return PacketAssert.Tcp(frame.Output(lab.Send(frame, 0))).DestinationPort;
        }

        Assert.Equal(8080, Send(40000, "S"));
        lab.Table.EditService(new VirtualServiceOptions(key) { Scheduler = "rr", PersistenceTimeout = 300 });
        Assert.Equal(8080, Send(40000, "A"));
        Assert.Equal(443, Send(40001, "S"));
        Assert.Equal(443, Send(40001, "A"));
    }

    /// <summary>No service takes the port: the host owns the VIP on a kernel director, and its stack refuses the SYN with a reset.</summary>
    [Fact]
    public void UnmarkedPortOfTheMarkedAddress_NoService_RefusedWithTheHostsReset()
    {
        var (lab, _) = MarkedLab();
        using var _lab = lab;
        var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, Vip, 8443, "S");

        var verdict = lab.Send(syn, 0);

        Assert.Equal((FrameAction.Transmit, 0, DropReason.NoVirtualService), (verdict.Action, verdict.Link, verdict.Reason));
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.NoVirtualService));
        var eth = syn.Output(verdict);
        var reset = PacketAssert.Tcp(eth);
        PacketAssert.Endpoints(PacketAssert.Ip(eth), reset, Vip, 8443, lab.Client, 40000);
        Assert.True(reset.Reset && reset.Acknowledgment);
        Assert.Equal(1001u, reset.AcknowledgmentNumber);
        Assert.Empty(lab.Engine.Connections.Enumerate());
    }

    [Fact]
    public void MarkAndAddressServiceBothMatch_TheMarkServiceWins()
    {
        var (lab, _) = MarkedLab();
        using var _lab = lab;

        // An address service on VIP:80 with a server of its own: ip_vs_service_find looks the mark up first.
        var byAddress = VirtualServiceKey.ForAddress(L4Protocol.Tcp, new InetEndpoint(Vip, 80));
        lab.Table.AddService(new VirtualServiceOptions(byAddress) { Scheduler = "rr" });
        var other = InetAddress.Parse("10.1.0.50");
        lab.Table.AddRealServer(byAddress, new RealServerOptions(new InetEndpoint(other, 80)) { Method = ForwardingMethod.Nat });
        lab.Engine.Neighbors.Set(1, other, Lab.ServerMac(50));
        for (ushort port = 40000; port < 40006; port++)
        {
            var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, port, Vip, 80, "S");
            Assert.NotEqual(other.ToIPAddress(), PacketAssert.Ip(syn.Output(lab.Send(syn, 0))).DestinationAddress);
        }

        // With no service for the mark, the address service takes the packet.
        lab.Table.DeleteService(VirtualServiceKey.ForFirewallMark(1));
        var late = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 41000, Vip, 80, "S");
        Assert.Equal(other.ToIPAddress(), PacketAssert.Ip(late.Output(lab.Send(late, 0))).DestinationAddress);
    }

    [Fact]
    public void PersistentMarkService_OneClientKeepsItsServerAcrossPorts()
    {
        var (lab, _) = MarkedLab(persistence: 300);
        using var _lab = lab;
        var first = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, Vip, 80, "S");
        var server = PacketAssert.Ip(first.Output(lab.Send(first, 0))).DestinationAddress;

        for (ushort port = 40001; port < 40006; port++)
        {
            var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, port, Vip, port % 2 == 0 ? (ushort)80 : (ushort)443, "S");
            Assert.Equal(server, PacketAssert.Ip(syn.Output(lab.Send(syn, 0))).DestinationAddress);
        }
    }

    [Fact]
    public void HostMarkRule_DirectorAnswersArpForItsAddress()
    {
        var (lab, _) = MarkedLab();
        using var _lab = lab;
        var arp = new ArpPacket(ArpOperation.Request, PhysicalAddress.Parse("00-00-00-00-00-00"), Vip.ToIPAddress(), Lab.Phys(Lab.ClientMac), lab.Client.ToIPAddress());
        var request = Frame.From(new EthernetPacket(Lab.Phys(Lab.ClientMac), PhysicalAddress.Parse("FF-FF-FF-FF-FF-FF"), EthernetType.Arp) { PayloadPacket = arp }.Bytes);

        var reply = request.Output(lab.Send(request, 0)).Extract<ArpPacket>();

        Assert.Equal(ArpOperation.Response, reply.Operation);
        Assert.Equal(Lab.Phys(Lab.ClientLinkMac), reply.SenderHardwareAddress);
    }

    [Theory]
    [InlineData(0u, 0, 65535)]
    [InlineData(1u, 443, 80)]
    public void InvalidRule_RefusedByTheOptions(uint mark, int first, int last)
    {
        var options = new DirectorOptions
        {
            FirewallMarks = [new FirewallMarkRule(mark, InetPrefix.Parse("10.0.0.100/32")) { PortFirst = (ushort)first, PortLast = (ushort)last }],
        };

        Assert.Throws<ArgumentException>(options.Validate);
    }
}
