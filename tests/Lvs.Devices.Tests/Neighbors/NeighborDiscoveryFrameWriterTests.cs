using System.Net;
using System.Net.NetworkInformation;
using Lvs.Core;
using Lvs.Devices.Neighbors;
using PacketDotNet;

namespace Lvs.Devices.Tests.Neighbors;

public class NeighborDiscoveryFrameWriterTests
{
    private static readonly MacAddress LinkMac = MacAddress.Parse("02:00:00:00:00:01");

    [Fact]
    public void SolicitedNodeAddress_LastThreeBytes_RfcExample()
    {
        // RFC 4291 2.7.1: 4037::01:800:200e:8c6c -> ff02::1:ff0e:8c6c.
        Assert.Equal(InetAddress.Parse("ff02::1:ff0e:8c6c"), NeighborDiscoveryFrameWriter.SolicitedNodeAddress(InetAddress.Parse("4037::01:800:200e:8c6c")));
        Assert.Equal(MacAddress.Parse("33:33:ff:0e:8c:6c"), NeighborDiscoveryFrameWriter.MulticastMac(InetAddress.Parse("ff02::1:ff0e:8c6c")));
    }

    [Fact]
    public void WriteSolicitation_Multicast_MatchesPacketDotNetByteForByte()
    {
        Span<byte> frame = stackalloc byte[128];
        var source = InetAddress.Parse("2001:db8::1");
        var target = InetAddress.Parse("2001:db8::abcd:1234");
        int length = NeighborDiscoveryFrameWriter.WriteSolicitation(frame, LinkMac, source, target);

        // Type 135, code 0, reserved, target, source link-layer address option (type 1, 8 bytes).
        byte[] message = [135, 0, 0, 0, 0, 0, 0, 0, .. Bytes(target), 1, 1, 0x02, 0, 0, 0, 0, 0x01];
        var expected = Expected("33-33-FF-CD-12-34", "2001:db8::1", "ff02::1:ffcd:1234", message);
        Assert.Equal(86, length);
        Assert.Equal(expected, frame[..length].ToArray());
    }

    [Fact]
    public void WriteSolicitation_UnicastProbe_ToTargetAtKnownMac()
    {
        Span<byte> frame = stackalloc byte[128];
        var target = InetAddress.Parse("2001:db8::2");
        int length = NeighborDiscoveryFrameWriter.WriteSolicitation(frame, LinkMac, InetAddress.Parse("2001:db8::1"), target, MacAddress.Parse("02:00:00:00:00:22"));

        byte[] message = [135, 0, 0, 0, 0, 0, 0, 0, .. Bytes(target), 1, 1, 0x02, 0, 0, 0, 0, 0x01];
        Assert.Equal(Expected("02-00-00-00-00-22", "2001:db8::1", "2001:db8::2", message), frame[..length].ToArray());
    }

    [Fact]
    public void WriteSolicitation_FromUnspecifiedAddress_NoLinkLayerOption()
    {
        Span<byte> frame = stackalloc byte[128];
        var target = InetAddress.Parse("2001:db8::2");
        int length = NeighborDiscoveryFrameWriter.WriteSolicitation(frame, LinkMac, InetAddress.IPv6Any, target);

        byte[] message = [135, 0, 0, 0, 0, 0, 0, 0, .. Bytes(target)];
        Assert.Equal(78, length);
        Assert.Equal(Expected("33-33-FF-00-00-02", "::", "ff02::1:ff00:2", message), frame[..length].ToArray());
    }

    [Fact]
    public void WriteUnsolicitedAdvertisement_AllNodesOverrideFlagTargetOption_MatchesPacketDotNet()
    {
        Span<byte> frame = stackalloc byte[128];
        var vip = InetAddress.Parse("2001:db8::100");
        int length = NeighborDiscoveryFrameWriter.WriteUnsolicitedAdvertisement(frame, LinkMac, vip);

        // Type 136, flags R=0 S=0 O=1, target, target link-layer address option (type 2).
        byte[] message = [136, 0, 0, 0, 0x20, 0, 0, 0, .. Bytes(vip), 2, 1, 0x02, 0, 0, 0, 0, 0x01];
        Assert.Equal(Expected("33-33-00-00-00-01", "2001:db8::100", "ff02::1", message), frame[..length].ToArray());
        var ndp = new NdpNeighborAdvertisementPacket(new PacketDotNet.Utils.ByteArraySegment(frame[(14 + 40)..length].ToArray()));
        Assert.True(ndp.Override);
        Assert.False(ndp.Solicited);
        Assert.Equal(IPAddress.Parse("2001:db8::100"), ndp.TargetAddress);
    }

    private static byte[] Bytes(InetAddress address)
    {
        var bytes = new byte[16];
        address.WriteIPv6To(bytes);
        return bytes;
    }

    /// <summary>
    /// The frame PacketDotNet builds: Ethernet and IPv6 headers with hop limit 255 around the message, whose checksum
    /// the test computes itself (RFC 1071 over the RFC 8200 8.1 pseudo-header; PacketDotNet leaves ICMPv6 sums to the caller).
    /// </summary>
    private static byte[] Expected(string destinationMac, string source, string destination, byte[] message)
    {
        var src = IPAddress.Parse(source);
        var dst = IPAddress.Parse(destination);
        byte[] pseudo = [.. src.GetAddressBytes(), .. dst.GetAddressBytes(), 0, 0, 0, (byte)message.Length, 0, 0, 0, 58];
        byte[] summed = [.. pseudo, .. message];
        uint sum = 0;
        for (int i = 0; i < summed.Length; i += 2)
        {
            sum += (uint)((summed[i] << 8) | (i + 1 < summed.Length ? summed[i + 1] : 0));
        }

        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        message = [.. message];
        message[2] = (byte)(~sum >> 8);
        message[3] = (byte)~sum;
        var ip = new IPv6Packet(src, dst) { HopLimit = 255, Protocol = ProtocolType.IcmpV6, PayloadData = message };
        ip.PayloadLength = (ushort)message.Length;
        var eth = new EthernetPacket(PhysicalAddress.Parse("02-00-00-00-00-01"), PhysicalAddress.Parse(destinationMac), EthernetType.IPv6) { PayloadPacket = ip };
        return eth.Bytes;
    }
}
