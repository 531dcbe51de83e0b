using System.Net;
using FsCheck;
using FsCheck.Fluent;
using Lvs.Core.Headers;
using PacketDotNet;

namespace Lvs.Core.Tests;

/// <summary><see cref="Ipv4Header.Write"/> and <see cref="Ipv6Header.Write"/>, read back by PacketDotNet.</summary>
public class HeaderWriterTests
{
    [FsCheck.Xunit.Property(MaxTest = 300)]
    public Property Ipv4Write_AnyFields_PacketDotNetReadsThemBack_ChecksumValid()
    {
        var fields =
            from src in Gen.Choose(0, int.MaxValue)
            from dst in Gen.Choose(0, int.MaxValue)
            from payload in Gen.Choose(0, 1480)
            from ttl in Gen.Choose(1, 255)
            from tos in Gen.Choose(0, 255)
            from id in Gen.Choose(0, 65535)
            from df in Gen.Elements(true, false)
            select (src, dst, payload, ttl, tos, id, df);
        return Prop.ForAll(Arb.From(fields), f =>
        {
            var (src, dst, payload, ttl, tos, id, df) = f;
            var source = InetAddress.FromIPv4((uint)src * 2);
            var destination = InetAddress.FromIPv4((uint)dst * 2 + 1);
            byte[] packet = new byte[20 + payload];
            Ipv4Header.Write(packet, source, destination, L4Protocol.Udp, payload, (byte)ttl, (byte)tos, (ushort)id, df);

            var ip = new IPv4Packet(new PacketDotNet.Utils.ByteArraySegment(packet));
            Assert.True(ip.ValidIPChecksum);
            Assert.Equal((4, 5, 20 + payload), ((int)ip.Version, ip.HeaderLength, ip.TotalLength));
            Assert.Equal((source.ToIPAddress(), destination.ToIPAddress()), (ip.SourceAddress, ip.DestinationAddress));
            Assert.Equal((ttl, tos, id), (ip.TimeToLive, ip.TypeOfService, (int)ip.Id));
            Assert.Equal((df ? 0x2 : 0, 0), ((int)ip.FragmentFlags, ip.FragmentOffset));
            Assert.Equal(ProtocolType.Udp, ip.Protocol);
        });
    }

    [Theory]
    [InlineData("2001:db8::1", "2001:db8:ffff::2", 0, 64, 0)]
    [InlineData("fe80::1", "ff02::1", 32, 255, 0xB8)]
    [InlineData("::ffff:10.0.0.1", "2001:db8::9", 65535, 1, 0x01)]
    public void Ipv6Write_Fields_PacketDotNetReadsThemBack(string source, string destination, int payload, byte hopLimit, byte trafficClass)
    {
        byte[] packet = new byte[40 + payload];
        Ipv6Header.Write(packet, InetAddress.Parse(source), InetAddress.Parse(destination), L4Protocol.IcmpV6, payload, hopLimit, trafficClass);

        var ip = new IPv6Packet(new PacketDotNet.Utils.ByteArraySegment(packet));
        Assert.Equal((IPVersion.IPv6, payload, hopLimit, (int)trafficClass, 0), (ip.Version, (int)ip.PayloadLength, ip.HopLimit, ip.TrafficClass, ip.FlowLabel));
        Assert.Equal((IPAddress.Parse(source), IPAddress.Parse(destination)), (ip.SourceAddress, ip.DestinationAddress));
        Assert.Equal(ProtocolType.IcmpV6, ip.NextHeader);
    }

    [Fact]
    public void Write_ShortSpanWrongFamilyOrLength_Throws()
    {
        var v4 = InetAddress.FromIPv4(10, 0, 0, 1);
        var v6 = InetAddress.Parse("2001:db8::1");
        Assert.Throws<ArgumentException>(() => Ipv4Header.Write(new byte[19], v4, v4, L4Protocol.Tcp, 0, 64));
        Assert.Throws<ArgumentException>(() => Ipv4Header.Write(new byte[20], v6, v4, L4Protocol.Tcp, 0, 64));
        Assert.Throws<ArgumentException>(() => Ipv4Header.Write(new byte[20], v4, v4, L4Protocol.Tcp, 65516, 64));
        Assert.Throws<ArgumentException>(() => Ipv6Header.Write(new byte[39], v6, v6, L4Protocol.Tcp, 0, 64));
        Assert.Throws<ArgumentException>(() => Ipv6Header.Write(new byte[40], v6, v6, L4Protocol.Tcp, 65536, 64));
    }
}
