using System.Net;
using System.Net.NetworkInformation;
using Lvs.Core;
using Lvs.Devices.Neighbors;
using PacketDotNet;

namespace Lvs.Devices.Tests.Neighbors;

public class ArpFrameWriterTests
{
    private static readonly MacAddress LinkMac = MacAddress.Parse("02:00:00:00:00:01");

    [Fact]
    public void WriteRequest_Broadcast_MatchesPacketDotNetByteForByte()
    {
        Span<byte> frame = stackalloc byte[64];
        int length = ArpFrameWriter.WriteRequest(frame, LinkMac, InetAddress.Parse("10.0.0.1"), InetAddress.Parse("10.0.0.2"));

        var expected = Expected(ArpOperation.Request, "FF-FF-FF-FF-FF-FF", "00-00-00-00-00-00", "10.0.0.2", "10.0.0.1");
        Assert.Equal(42, length);
        Assert.Equal(expected, frame[..length].ToArray());
    }

    [Fact]
    public void WriteRequest_UnicastProbe_AddressedToKnownMacTargetHardwareZero()
    {
        Span<byte> frame = stackalloc byte[42];
        var known = MacAddress.Parse("02:00:00:00:00:22");
        int length = ArpFrameWriter.WriteRequest(frame, LinkMac, InetAddress.Parse("10.0.0.1"), InetAddress.Parse("10.0.0.2"), known);

        var expected = Expected(ArpOperation.Request, "02-00-00-00-00-22", "00-00-00-00-00-00", "10.0.0.2", "10.0.0.1");
        Assert.Equal(expected, frame[..length].ToArray());
    }

    [Fact]
    public void WriteGratuitous_RequestFormSenderAndTargetTheAddress_MatchesPacketDotNet()
    {
        Span<byte> frame = stackalloc byte[42];
        int length = ArpFrameWriter.WriteGratuitous(frame, LinkMac, InetAddress.Parse("10.0.0.100"));

        var expected = Expected(ArpOperation.Request, "FF-FF-FF-FF-FF-FF", "00-00-00-00-00-00", "10.0.0.100", "10.0.0.100");
        Assert.Equal(expected, frame[..length].ToArray());
        var arp = new EthernetPacket(new PacketDotNet.Utils.ByteArraySegment(frame[..length].ToArray())).Extract<ArpPacket>();
        Assert.Equal(arp.SenderProtocolAddress, arp.TargetProtocolAddress);
    }

    [Fact]
    public void WriteRequest_SpanTooShortOrIPv6_Throws()
    {
        var buffer = new byte[41];
        Assert.Throws<ArgumentException>(() => ArpFrameWriter.WriteRequest(buffer, LinkMac, InetAddress.Parse("10.0.0.1"), InetAddress.Parse("10.0.0.2")));
        Assert.Throws<ArgumentException>(() => ArpFrameWriter.WriteRequest(new byte[64], LinkMac, InetAddress.Parse("10.0.0.1"), InetAddress.Parse("2001:db8::2")));
    }

    private static byte[] Expected(ArpOperation operation, string destinationMac, string targetMac, string target, string sender)
    {
        var arp = new ArpPacket(operation, PhysicalAddress.Parse(targetMac), IPAddress.Parse(target), PhysicalAddress.Parse("02-00-00-00-00-01"), IPAddress.Parse(sender));
        var eth = new EthernetPacket(PhysicalAddress.Parse("02-00-00-00-00-01"), PhysicalAddress.Parse(destinationMac), EthernetType.Arp) { PayloadPacket = arp };
        return eth.Bytes;
    }
}
