using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;

namespace Lvs.Benchmarks.Core;

/// <summary>Ethernet frames built once with PacketDotNet for the benchmarks.</summary>
public static class BenchmarkFrames
{
    public static byte[] TcpV4(int payloadLength) =>
        Tcp(new IPv4Packet(IPAddress.Parse("198.51.100.7"), IPAddress.Parse("192.0.2.10")), EthernetType.IPv4, payloadLength);

    public static byte[] TcpV6(int payloadLength) =>
        Tcp(new IPv6Packet(IPAddress.Parse("2001:db8:1::7"), IPAddress.Parse("2001:db8:2::10")), EthernetType.IPv6, payloadLength);

    private static byte[] Tcp(IPPacket ip, EthernetType type, int payloadLength)
    {
        var tcp = new TcpPacket(40000, 80)
        {
            PayloadData = new byte[payloadLength],
            Acknowledgment = true,
            Push = true,
            SequenceNumber = 1000,
            WindowSize = 502,
        };
        ip.PayloadPacket = tcp;
        ip.TimeToLive = 64;
        var eth = new EthernetPacket(PhysicalAddress.Parse("02-00-00-00-00-01"), PhysicalAddress.Parse("02-00-00-00-00-02"), type)
        {
            PayloadPacket = ip,
        };
        eth.UpdateCalculatedValues();
        tcp.UpdateTcpChecksum();
        if (ip is IPv4Packet v4)
        {
            v4.UpdateIPChecksum();
        }

        return eth.Bytes;
    }
}
