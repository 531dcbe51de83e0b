using System.Net;

namespace Lvs.Core.Tests;

/// <summary>
/// The policy for IPv4-mapped IPv6 addresses (::ffff:0:0/96) on the wire: InetAddress holds IPv4 in that form, so such a
/// packet would parse to a flow that reports IPv4, hashes as the IPv4 address in sh, dh and mh, and meets the IPv4 flow
/// of that address in the connection table (issue 16). The parser drops it with its own reason, as RFC 4942 section 2.2
/// advises, and the packet an ICMPv6 error quotes too.
/// </summary>
public class FrameParserMappedAddressTests
{
    private static byte[] Ipv6(string source, string destination, byte nextHeader, byte[] payload)
    {
        var frame = new List<byte>([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xDD]);
        frame.AddRange(Ipv6Header(source, destination, nextHeader, payload.Length));
        frame.AddRange(payload);
        return [.. frame];
    }

    private static byte[] Ipv6Header(string source, string destination, byte nextHeader, int payloadLength)
    {
        var header = new byte[40];
        header[0] = 0x60;
        header[4] = (byte)(payloadLength >> 8);
        header[5] = (byte)payloadLength;
        header[6] = nextHeader;
        header[7] = 64;
        IPAddress.Parse(source).GetAddressBytes().CopyTo(header, 8);
        IPAddress.Parse(destination).GetAddressBytes().CopyTo(header, 24);
        return header;
    }

    private static byte[] Tcp(ushort sourcePort, ushort destinationPort) =>
        [(byte)(sourcePort >> 8), (byte)sourcePort, (byte)(destinationPort >> 8), (byte)destinationPort, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x10, 0, 0, 0, 0, 0];

    private static byte[] DestinationUnreachableQuoting(string source, string destination, int quotedLength = 48)
    {
        byte[] quoted = [.. Ipv6Header(source, destination, 6, 20), .. Tcp(80, 40000)];
        return [1, 4, 0, 0, 0, 0, 0, 0, .. quoted.AsSpan(0, quotedLength)];
    }

    [Theory]
    [InlineData("::ffff:10.0.0.1", "2001:db8::80")]
    [InlineData("2001:db8::1", "::ffff:192.0.2.80")]
    [InlineData("::ffff:10.0.0.1", "::ffff:192.0.2.80")]
    [InlineData("::ffff:0.0.0.0", "2001:db8::80")]
    public void Parse_Ipv6PacketWithAnIpv4MappedAddress_IsDroppedWithIpv6MappedAddress(string source, string destination)
    {
        byte[] frame = Ipv6(source, destination, 6, Tcp(40000, 80));
        Assert.Equal(DropReason.Ipv6MappedAddress, FrameParser.Parse(frame, out _));
        Assert.Equal(DropReason.Ipv6MappedAddress, FrameParser.ParseIp(frame.AsSpan(14), out _));
    }

    [Theory]
    [InlineData("::fffe:10.0.0.1")]
    [InlineData("::10.0.0.1")]
    [InlineData("0:0:0:1:0:ffff:a00:1")]
    [InlineData("64:ff9b::10.0.0.1")]
    public void Parse_Ipv6PacketNextToTheMappedPrefix_IsAnIpv6Flow(string source)
    {
        byte[] frame = Ipv6(source, "2001:db8::80", 6, Tcp(40000, 80));
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.True(parsed.Flow.SourceAddress.IsIPv6);
        Assert.Equal(InetAddress.Parse(source), parsed.Flow.SourceAddress);
    }

    [Theory]
    [InlineData("::ffff:192.0.2.80", "2001:db8::1", 48)]
    [InlineData("2001:db8::80", "::ffff:10.0.0.1", 48)]
    [InlineData("::ffff:192.0.2.80", "2001:db8::1", 24)]
    public void Parse_Icmpv6ErrorQuotingAMappedAddress_IsDroppedWithIpv6MappedAddress(string quotedSource, string quotedDestination, int quotedLength)
    {
        byte[] frame = Ipv6("2001:db8::fe", "2001:db8::80", 58, DestinationUnreachableQuoting(quotedSource, quotedDestination, quotedLength));
        Assert.Equal(DropReason.Ipv6MappedAddress, FrameParser.Parse(frame, out _));
    }

    [Theory]
    [InlineData(48)]
    [InlineData(24)]
    [InlineData(10)]
    public void Parse_Icmpv6ErrorQuotingIpv6Addresses_IsParsed(int quotedLength)
    {
        byte[] frame = Ipv6("2001:db8::fe", "2001:db8::80", 58, DestinationUnreachableQuoting("2001:db8::80", "2001:db8::1", quotedLength));
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.True(parsed.IsIcmpError);
    }

    [Theory]
    [InlineData("::10.0.0.1")]
    [InlineData("::fffe:192.0.2.80")]
    [InlineData("::1")]
    public void Parse_Ipv6PacketToAnAddressNextToTheMappedPrefix_IsAnIpv6Flow(string destination)
    {
        byte[] frame = Ipv6("2001:db8::1", destination, 6, Tcp(40000, 80));
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.True(parsed.Flow.DestinationAddress.IsIPv6);
        Assert.Equal(InetAddress.Parse(destination), parsed.Flow.DestinationAddress);
        Assert.Equal(80, parsed.Flow.DestinationPort);
    }

    [Fact]
    public void Parse_Icmpv6ErrorAfterAnExtensionHeaderQuotingAMappedAddress_IsDroppedWithIpv6MappedAddress()
    {
        // A hop-by-hop options header (8 bytes, next header ICMPv6) before the error: the quote is still checked.
        byte[] error = DestinationUnreachableQuoting("::ffff:192.0.2.80", "2001:db8::1");
        byte[] frame = Ipv6("2001:db8::fe", "2001:db8::80", 0, [58, 0, 1, 4, 0, 0, 0, 0, .. error]);
        Assert.Equal(DropReason.Ipv6MappedAddress, FrameParser.Parse(frame, out _));
    }

    [Fact]
    public void Parse_Icmpv6EchoRequest_IsParsedWithTheIdentifierAsBothPorts()
    {
        byte[] frame = Ipv6("2001:db8::1", "2001:db8::80", 58, [128, 0, 0, 0, 0x12, 0x34, 0, 1]);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(L4Protocol.IcmpV6, parsed.Protocol);
        Assert.False(parsed.IsIcmpError);
        Assert.Equal(128, parsed.IcmpType);
        Assert.Equal(0x1234, parsed.Flow.SourcePort);
        Assert.Equal(0x1234, parsed.Flow.DestinationPort);
        Assert.Equal(14 + 40, parsed.L4Offset);
        Assert.Equal(8, parsed.L4HeaderLength);
    }
}
