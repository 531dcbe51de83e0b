using Lvs.Core;
using PacketDotNet;

namespace Lvs.Director.Tests;

/// <summary>The handshake, data and close through FULLNAT, DR and TUN over IPv6 (NAT over IPv6 is in the forwarding tests' theory).</summary>
public class DirectorEngineIPv6Tests
{
    private static readonly InetAddress LocalV6 = InetAddress.Parse("2001:db8:1::100");

    [Fact]
    public void FullNat_IPv6_HandshakeDataAndClose()
    {
        using var lab = new Lab(new DirectorOptions { LocalAddresses = [LocalV6] }, ipv6: true);
        lab.AddService("rr", ForwardingMethod.FullNat, count: 1);
        var syn = Lab.Tcp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, 40000, lab.Vip, 80, "S");
        var eth = syn.Output(lab.Send(syn, 0));
        var tcp = PacketAssert.Tcp(eth);
        var ip = PacketAssert.Ip(eth);
        Assert.Equal(LocalV6.ToIPAddress(), ip.SourceAddress);
        Assert.Equal(lab.Server(1).ToIPAddress(), ip.DestinationAddress);
        ushort local = tcp.SourcePort;

        var synAck = Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, LocalV6, local, "SA");
        eth = synAck.Output(lab.Send(synAck, 1));
        PacketAssert.Addresses(eth, Lab.ClientLinkMac, Lab.RouterMac);
        PacketAssert.Endpoints(PacketAssert.Ip(eth), PacketAssert.Tcp(eth), lab.Vip, 80, lab.RemoteClient, 40000);

        foreach (var flags in new[] { "A", "FA" })
        {
            var frame = Lab.Tcp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, 40000, lab.Vip, 80, flags, payload: 20);
            eth = frame.Output(lab.Send(frame, 0));
            PacketAssert.Endpoints(PacketAssert.Ip(eth), PacketAssert.Tcp(eth), lab.Local, local, lab.Server(1), 8080);
        }

        Assert.Equal("CLOSE_WAIT", Assert.Single(lab.Engine.Connections.Enumerate()).StateName);
    }

    [Fact]
    public void DirectRouting_IPv6_TheMacsChangeAndTheHopLimitIsDecremented()
    {
        using var lab = new Lab(ipv6: true);
        lab.AddService("rr", ForwardingMethod.DirectRouting, count: 1);
        foreach (var flags in new[] { "S", "A", "FA" })
        {
            var frame = Lab.Tcp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, 40000, lab.Vip, 80, flags, payload: flags == "A" ? 30 : 0);
            var original = frame.Buffer[(frame.Offset + 12)..(frame.Offset + frame.Length)];
            var v = lab.Send(frame, 0);
            var eth = frame.Output(v);
            PacketAssert.Addresses(eth, Lab.ServerLinkMac, Lab.ServerMac(1));
            Assert.Equal(PacketAssert.HopLimitDecremented(original, 2), frame.Buffer[(v.Offset + 12)..(v.Offset + v.Length)]);
        }

        Assert.Single(lab.Engine.Connections.Enumerate());
    }

    [Fact]
    public void Tunnel_IPv6_InnerPacketCarriedToTheRealServer()
    {
        using var lab = new Lab(ipv6: true);
        lab.AddService("rr", ForwardingMethod.Tunnel, count: 1);
        var syn = Lab.Tcp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, 40000, lab.Vip, 80, "S");
        var inner = syn.Buffer[(syn.Offset + 14)..(syn.Offset + syn.Length)];
        var v = lab.Send(syn, 0);
        var eth = syn.Output(v);
        PacketAssert.Addresses(eth, Lab.ServerLinkMac, Lab.ServerMac(1));
        var outer = (IPv6Packet)PacketAssert.Ip(eth);
        Assert.Equal(InetAddress.Parse("2001:db8:1::1").ToIPAddress(), outer.SourceAddress);
        Assert.Equal(lab.Server(1).ToIPAddress(), outer.DestinationAddress);
        var carried = syn.Buffer[(v.Offset + 14 + 40)..(v.Offset + v.Length)];
        Assert.Equal(inner.Length, carried.Length);

        // The inner packet is the client's, with only the hop limit decremented (as the kernel's tunnel xmit).
        Assert.Equal(inner[..7], carried[..7]);
        Assert.Equal(inner[8..], carried[8..]);
    }
}
