using System.Net;
using System.Net.NetworkInformation;
using Lvs.Core.Headers;
using PacketDotNet;

namespace Lvs.Core.Tests;

public class FrameParserTests
{
    internal static byte[] BuildTcpV4(string src, ushort sport, string dst, ushort dport, int payload = 10)
    {
        var tcp = new TcpPacket(sport, dport) { PayloadData = new byte[payload], Synchronize = true, WindowSize = 1000 };
        var ip = new IPv4Packet(IPAddress.Parse(src), IPAddress.Parse(dst)) { PayloadPacket = tcp, TimeToLive = 64 };
        var eth = new EthernetPacket(PhysicalAddress.Parse("00-11-22-33-44-55"), PhysicalAddress.Parse("66-77-88-99-AA-BB"), EthernetType.IPv4)
        {
            PayloadPacket = ip,
        };
        ip.UpdateCalculatedValues();
        tcp.UpdateTcpChecksum();
        ip.UpdateIPChecksum();
        return eth.Bytes;
    }

    [Fact]
    public void Parse_Ipv4Tcp_FindsOffsetsAndFlow()
    {
        byte[] frame = BuildTcpV4("10.0.0.1", 40000, "192.168.1.10", 80);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(14, parsed.L3Offset);
        Assert.Equal(34, parsed.L4Offset);
        Assert.Equal(4, parsed.IpVersion);
        Assert.Equal(L4Protocol.Tcp, parsed.Protocol);
        Assert.Equal(TcpFlags.Syn, parsed.TcpFlags);
        Assert.Equal(new FlowKey(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.1:40000"), InetEndpoint.Parse("192.168.1.10:80")), parsed.Flow);
        Assert.True(Ipv4Header.TryCreate(frame.AsSpan(14), out var ip));
        Assert.True(ip.IsChecksumValid);
        uint pseudo = Checksum.PseudoHeaderSum(ip.Source, ip.Destination, L4Protocol.Tcp, ip.TotalLength - ip.HeaderLength);
        Assert.True(Checksum.IsValid(frame.AsSpan(34, ip.TotalLength - 20), pseudo));
    }
}
