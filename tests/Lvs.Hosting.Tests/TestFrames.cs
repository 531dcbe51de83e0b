using System.Net;
using System.Net.NetworkInformation;
using Lvs.Core;
using PacketDotNet;

namespace Lvs.Hosting.Tests;

/// <summary>Frames built and read with PacketDotNet (the independent oracle).</summary>
public static class TestFrames
{
    public static PhysicalAddress Phys(MacAddress mac) => PhysicalAddress.Parse(mac.ToString().Replace(':', '-'));

    public static byte[] Tcp(MacAddress srcMac, MacAddress dstMac, string src, ushort sport, string dst, ushort dport, bool syn, bool ack)
    {
        var tcp = new TcpPacket(sport, dport) { Synchronize = syn, Acknowledgment = ack, SequenceNumber = 1000, AcknowledgmentNumber = ack ? 2000u : 0, WindowSize = 65535 };
        var ip = new IPv4Packet(IPAddress.Parse(src), IPAddress.Parse(dst)) { TimeToLive = 64, PayloadPacket = tcp };
        var eth = new EthernetPacket(Phys(srcMac), Phys(dstMac), EthernetType.IPv4) { PayloadPacket = ip };
        tcp.UpdateCalculatedValues();
        ip.UpdateCalculatedValues();
        ip.UpdateIPChecksum();
        tcp.UpdateTcpChecksum();
        return eth.Bytes;
    }

    public static byte[] ArpReply(MacAddress senderMac, string sender, MacAddress targetMac, string target)
    {
        var arp = new ArpPacket(ArpOperation.Response, Phys(targetMac), IPAddress.Parse(target), Phys(senderMac), IPAddress.Parse(sender));
        var eth = new EthernetPacket(Phys(senderMac), Phys(targetMac), EthernetType.Arp) { PayloadPacket = arp };
        return eth.Bytes;
    }

    public static EthernetPacket Parse(byte[] frame) => new(new PacketDotNet.Utils.ByteArraySegment(frame));

    /// <summary>The ARP packet of a frame, or null.</summary>
    public static ArpPacket? Arp(byte[] frame) => Parse(frame).Extract<ArpPacket>();

    /// <summary>The TCP segment of a frame with valid checksums, or null when it is not TCP.</summary>
    public static (IPv4Packet Ip, TcpPacket Tcp)? TcpOf(byte[] frame)
    {
        var eth = Parse(frame);
        var ip = eth.Extract<IPv4Packet>();
        var tcp = eth.Extract<TcpPacket>();
        if (ip is null || tcp is null)
        {
            return null;
        }

        Assert.True(ip.ValidIPChecksum);
        Assert.True(tcp.ValidTcpChecksum);
        return (ip, tcp);
    }
}
