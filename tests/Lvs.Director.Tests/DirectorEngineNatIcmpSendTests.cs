using Lvs.Core;

namespace Lvs.Director.Tests;

/// <summary>
/// nat_icmp_send (<see cref="DirectorOptions.NatIcmpSend"/>): a packet from a NAT real server's address and port that
/// matches no connection is dropped, and the server is told with an ICMP port unreachable (the kernel's
/// <c>ip_vs_out_hook</c>); off by default, when such a packet goes on to the host.
/// </summary>
public class DirectorEngineNatIcmpSendTests
{
    private static Lab NatLab(bool natIcmpSend = true, bool ipv6 = false, ForwardingMethod method = ForwardingMethod.Nat, L4Protocol protocol = L4Protocol.Tcp)
    {
        var lab = new Lab(new DirectorOptions { NatIcmpSend = natIcmpSend }, ipv6);
        _ = lab.AddService("rr", method, count: 1, protocol: protocol);
        return lab;
    }

    /// <summary>The director's address on the servers' link: the source of what it sends a server itself.</summary>
    private static InetAddress DirectorOnServerLink(Lab lab) => InetAddress.Parse(lab.IPv6 ? "2001:db8:1::1" : "10.1.0.1");

    [Theory]
    [InlineData(false, L4Protocol.Tcp)]
    [InlineData(true, L4Protocol.Tcp)]
    [InlineData(false, L4Protocol.Udp)]
    [InlineData(true, L4Protocol.Udp)]
    public void ServerPacketWithoutConnection_PortUnreachableToTheServer(bool ipv6, L4Protocol protocol)
    {
        using var lab = NatLab(ipv6: ipv6, protocol: protocol);
        var frame = protocol == L4Protocol.Tcp
            ? Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, lab.Client, 40000, "A", payload: 10)
            : Lab.Udp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, lab.Client, 5353);
        byte[] sent = frame.Buffer[(frame.Offset + 14)..(frame.Offset + frame.Length)];

        var v = lab.Send(frame, 1);

        Assert.Equal((FrameAction.Transmit, 1, DropReason.NoNatConnection), (v.Action, v.Link, v.Reason));
        var eth = frame.Output(v);
        PacketAssert.Addresses(eth, Lab.ServerLinkMac, Lab.ServerMac(1));
        var ip = PacketAssert.Ip(eth);
        var director = DirectorOnServerLink(lab);
        Assert.Equal((director.ToIPAddress(), lab.Server(1).ToIPAddress()), (ip.SourceAddress, ip.DestinationAddress));
        byte[] icmp = ip.PayloadData ?? ip.PayloadPacket.Bytes;
        Assert.Equal(ipv6 ? ((byte)1, (byte)4) : ((byte)3, (byte)3), (icmp[0], icmp[1]));
        Assert.Equal(sent, icmp[8..]);
        Assert.True(ipv6
            ? Checksum.IsValid(icmp, Checksum.PseudoHeaderSum(director, lab.Server(1), L4Protocol.IcmpV6, icmp.Length))
            : Checksum.IsValid(icmp));
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.NoNatConnection));
    }

    [Fact]
    public void ServerResetWithoutConnection_DroppedWithoutAnAnswer()
    {
        using var lab = NatLab();
        var v = lab.Send(Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, lab.Client, 40000, "RA"), 1);

        Assert.Equal((FrameAction.Drop, DropReason.NoNatConnection), (v.Action, v.Reason));
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.NoNatConnection));
    }

    /// <summary>
    /// Off (the kernel's default), from another port of the server, of another protocol than its service's, from a
    /// direct-routing server (not in the kernel's check, which takes NAT servers only), or a non-first fragment (no
    /// ports): the packet goes on to the host.
    /// </summary>
    [Fact]
    public void OtherPackets_GoOnToTheHost()
    {
        using (var off = NatLab(natIcmpSend: false))
        {
            Assert.Equal(FrameAction.Deliver, off.Send(Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, off.Server(1), 8080, off.Client, 40000, "A"), 1).Action);
        }

        using var lab = NatLab();
        Assert.Equal(FrameAction.Deliver, lab.Send(Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 22, lab.Client, 40000, "A"), 1).Action);
        Assert.Equal(FrameAction.Deliver, lab.Send(Lab.Udp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, lab.Client, 5353), 1).Action);

        using var udp = NatLab(protocol: L4Protocol.Udp);
        Assert.Equal(DropReason.NoNatConnection, udp.Send(Lab.Udp(Lab.ServerMac(1), Lab.ServerLinkMac, udp.Server(1), 8080, udp.Client, 5353), 1).Reason);
        var fragment = Lab.Udp(Lab.ServerMac(1), Lab.ServerLinkMac, udp.Server(1), 8080, udp.Client, 5353);
        fragment.Buffer[fragment.Offset + 14 + 7] = 0x10; // fragment offset 16 (128 bytes): not the first
        fragment.FixIPv4HeaderChecksum();
        Assert.Equal(FrameAction.Deliver, udp.Send(fragment, 1).Action);
        Assert.Equal(0, lab.Engine.GetDropCount(DropReason.NoNatConnection));
        Assert.Equal(1, udp.Engine.GetDropCount(DropReason.NoNatConnection));

        using var dr = NatLab(method: ForwardingMethod.DirectRouting);
        Assert.Equal(FrameAction.Deliver, dr.Send(Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, dr.Server(1), 80, dr.Client, 40000, "A"), 1).Action);
    }

    /// <summary>
    /// A packet from the server's port to the director's own address (a health check's reply) is the host's: the check
    /// applies to packets the director would pass on.
    /// </summary>
    [Fact]
    public void ServerPacketToTheDirectorsOwnAddress_NotRefused()
    {
        using var lab = NatLab();
        var v = lab.Send(Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, DirectorOnServerLink(lab), 50000, "SA"), 1);

        Assert.NotEqual(DropReason.NoNatConnection, v.Reason);
        Assert.Equal(0, lab.Engine.GetDropCount(DropReason.NoNatConnection));
    }

    /// <summary>A connection's replies are forwarded as before; once it has ended, the server's next packet is refused.</summary>
    [Fact]
    public void ReplyOfAConnection_Forwarded_AfterItEnds_Refused()
    {
        using var lab = NatLab();
        var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S");
        Assert.Equal(FrameAction.Transmit, lab.Send(syn, 0).Action);
        Frame SynAck() => Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, lab.Client, 40000, "SA");

        var reply = lab.Send(SynAck(), 1);
        Assert.Equal((FrameAction.Transmit, 0, DropReason.None), (reply.Action, reply.Link, reply.Reason));

        lab.Time.Advance(TimeSpan.FromMinutes(16));
        _ = lab.Engine.Connections.RunHousekeeping();
        var refused = lab.Send(SynAck(), 1);
        Assert.Equal((FrameAction.Transmit, 1, DropReason.NoNatConnection), (refused.Action, refused.Link, refused.Reason));
    }

    /// <summary>A firewall-mark service's NAT servers count for every protocol (the kernel's <c>dest->vfwmark</c>).</summary>
    [Fact]
    public void FirewallMarkServiceServer_RefusedForAnyProtocol()
    {
        using var lab = new Lab(new DirectorOptions
        {
            NatIcmpSend = true,
            FirewallMarks = [new FirewallMarkRule(1, InetPrefix.Parse("10.0.0.100/32"))],
        });
        var key = VirtualServiceKey.ForFirewallMark(1);
        lab.Table.AddService(new VirtualServiceOptions(key) { Scheduler = "rr" });
        lab.Table.AddRealServer(key, new RealServerOptions(new InetEndpoint(lab.Server(1), 8080)) { Method = ForwardingMethod.Nat });
        lab.Engine.Neighbors.Set(1, lab.Server(1), Lab.ServerMac(1));

        Assert.Equal(DropReason.NoNatConnection, lab.Send(Lab.Udp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, lab.Client, 5353), 1).Reason);
        Assert.Equal(DropReason.NoNatConnection, lab.Send(Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, lab.Client, 40000, "A"), 1).Reason);
    }
}
