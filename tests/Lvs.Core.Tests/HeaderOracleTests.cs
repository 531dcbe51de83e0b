using FsCheck;
using FsCheck.Xunit;
using Lvs.Core.Headers;
using PacketDotNet;

namespace Lvs.Core.Tests;

/// <summary>Properties over generated frames with PacketDotNet as the independent oracle.</summary>
[Properties(Arbitrary = [typeof(FrameArbitraries)], MaxTest = 300)]
public class HeaderOracleTests
{
    [Property]
    public void Parse_GeneratedFrame_EveryFieldMatchesPacketDotNet(FrameSpec spec)
    {
        byte[] frame = TestFrames.Build(spec);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));

        var oracle = Packet.ParsePacket(LinkLayers.Ethernet, frame);
        var ip = oracle.Extract<IPPacket>();
        Assert.NotNull(ip);
        Assert.Equal(spec.Vlan ? 1 : 0, parsed.VlanTagCount);
        Assert.Equal(ip.SourceAddress, parsed.Flow.SourceAddress.ToIPAddress());
        Assert.Equal(ip.DestinationAddress, parsed.Flow.DestinationAddress.ToIPAddress());
        Assert.Equal(ip.TotalLength, parsed.L3Length);
        Assert.Equal(spec.V6 ? 6 : 4, parsed.IpVersion);
        Assert.Equal(spec.IpOptionWords > 0 || spec.ExtensionHeaders > 0, parsed.HasIpOptions);
        Assert.Equal(spec.Ttl, parsed.HopLimit);

        Span<byte> l3 = frame.AsSpan(parsed.L3Offset);
        if (spec.V6)
        {
            Assert.True(Ipv6Header.TryCreate(l3, out var v6));
            var o6 = (IPv6Packet)ip;
            Assert.Equal(o6.HopLimit, v6.HopLimit);
            Assert.Equal(o6.PayloadLength, v6.PayloadLength);
            Assert.Equal(o6.FlowLabel, (int)v6.FlowLabel);
            Assert.Equal(o6.TrafficClass, v6.TrafficClass);
            Assert.Equal(o6.SourceAddress, v6.Source.ToIPAddress());
            Assert.Equal(o6.DestinationAddress, v6.Destination.ToIPAddress());
            Assert.Equal(40 + (8 * spec.ExtensionHeaders), parsed.L3HeaderLength);
        }
        else
        {
            Assert.True(Ipv4Header.TryCreate(l3, out var v4));
            var o4 = (IPv4Packet)ip;
            Assert.Equal(o4.HeaderLength * 4, v4.HeaderLength);
            Assert.Equal(o4.TotalLength, v4.TotalLength);
            Assert.Equal(o4.Id, v4.Identification);
            Assert.Equal(o4.TimeToLive, v4.Ttl);
            Assert.Equal(o4.Checksum, v4.HeaderChecksum);
            Assert.Equal((int)o4.Protocol, (int)v4.Protocol);
            Assert.Equal(o4.FragmentFlags, v4.FlagsAndFragmentOffset >> 13);
            Assert.Equal(o4.FragmentOffset, v4.FragmentOffset / 8);
            Assert.Equal(o4.SourceAddress, v4.Source.ToIPAddress());
            Assert.Equal(o4.DestinationAddress, v4.Destination.ToIPAddress());
            Assert.True(v4.IsChecksumValid);
        }

        Span<byte> l4 = frame.AsSpan(parsed.L4Offset);
        if (spec.Udp)
        {
            var udp = oracle.Extract<UdpPacket>();
            Assert.True(UdpHeader.TryCreate(l4[..(parsed.L3Length - parsed.L3HeaderLength)], out var u));
            Assert.Equal(L4Protocol.Udp, parsed.Protocol);
            Assert.Equal(udp.SourcePort, u.SourcePort);
            Assert.Equal(udp.DestinationPort, u.DestinationPort);
            Assert.Equal(udp.Length, u.DatagramLength);
            Assert.Equal(udp.Checksum, u.Checksum);
            Assert.Equal(udp.SourcePort, parsed.Flow.SourcePort);
            Assert.Equal(udp.DestinationPort, parsed.Flow.DestinationPort);
        }
        else
        {
            var tcp = oracle.Extract<TcpPacket>();
            Assert.True(TcpHeader.TryCreate(l4, out var t));
            Assert.Equal(L4Protocol.Tcp, parsed.Protocol);
            Assert.Equal(tcp.SourcePort, t.SourcePort);
            Assert.Equal(tcp.DestinationPort, t.DestinationPort);
            Assert.Equal(tcp.SequenceNumber, t.SequenceNumber);
            Assert.Equal(tcp.AcknowledgmentNumber, t.AcknowledgmentNumber);
            Assert.Equal(tcp.DataOffset, t.DataOffset);
            Assert.Equal(tcp.Flags, (ushort)t.Flags);
            Assert.Equal(tcp.WindowSize, t.Window);
            Assert.Equal(tcp.Checksum, t.Checksum);
            Assert.Equal(tcp.UrgentPointer, t.UrgentPointer);
            Assert.Equal(tcp.Options, t.Options.ToArray());
            Assert.Equal(tcp.SourcePort, parsed.Flow.SourcePort);
            Assert.Equal(tcp.DestinationPort, parsed.Flow.DestinationPort);
            Assert.Equal(parsed.L4Offset + t.HeaderLength, parsed.PayloadOffset);

            var reader = t.ReadOptions();
            int options = 0;
            while (reader.MoveNext())
            {
                options++;
            }

            Assert.False(reader.IsMalformed);
            Assert.Equal(spec.TcpOptionWords > 0, options > 0);
        }
    }

    [Property]
    public void IncrementalUpdate_NatStyleRewrite_PacketDotNetValidatesChecksums(FrameSpec spec, FrameSpec target)
    {
        byte[] frame = TestFrames.Build(spec);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        var newSource = NewAddress(spec.V6, target.Source);
        var newDestination = NewAddress(spec.V6, target.Destination);

        RewriteIncrementally(frame, parsed, newSource, target.SourcePort, newDestination, target.DestinationPort);

        var oracle = Packet.ParsePacket(LinkLayers.Ethernet, frame);
        var ip = oracle.Extract<IPPacket>();
        Assert.Equal(newSource.ToIPAddress(), ip.SourceAddress);
        Assert.Equal(newDestination.ToIPAddress(), ip.DestinationAddress);
        if (ip is IPv4Packet v4)
        {
            Assert.True(v4.ValidIPChecksum);
        }

        if (spec.Udp)
        {
            var udp = oracle.Extract<UdpPacket>();
            Assert.Equal(target.DestinationPort, udp.DestinationPort);
            Assert.True(udp.ValidUdpChecksum);
        }
        else
        {
            var tcp = oracle.Extract<TcpPacket>();
            Assert.Equal(target.SourcePort, tcp.SourcePort);
            Assert.True(tcp.ValidTcpChecksum);
        }
    }

    [Property]
    public void IncrementalUpdate_AlwaysEqualsFullRecomputation(FrameSpec spec, FrameSpec target)
    {
        byte[] frame = TestFrames.Build(spec);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        var newSource = NewAddress(spec.V6, target.Source);
        var newDestination = NewAddress(spec.V6, target.Destination);
        RewriteIncrementally(frame, parsed, newSource, target.SourcePort, newDestination, target.DestinationPort);

        Span<byte> l4 = frame.AsSpan(parsed.L4Offset, parsed.L3Length - parsed.L3HeaderLength);
        int checksumOffset = spec.Udp ? 6 : 16;
        ushort incremental = (ushort)(l4[checksumOffset] << 8 | l4[checksumOffset + 1]);
        l4[checksumOffset] = 0;
        l4[checksumOffset + 1] = 0;
        ushort full = Checksum.Compute(l4, Checksum.PseudoHeaderSum(newSource, newDestination, parsed.Protocol, l4.Length));
        if (spec.Udp)
        {
            full = Checksum.UdpResult(full);
        }

        // 0x0000 and 0xFFFF are both one's complement zero (RFC 1624 section 3); any other value must match exactly.
        bool bothZero = full is 0 or 0xFFFF && incremental is 0 or 0xFFFF;
        Assert.True(full == incremental || bothZero, $"full {full:x4} incremental {incremental:x4}");

        if (!spec.V6)
        {
            Assert.True(Ipv4Header.TryCreate(frame.AsSpan(parsed.L3Offset), out var v4));
            ushort incrementalIp = v4.HeaderChecksum;
            v4.UpdateChecksum();
            Assert.Equal(v4.HeaderChecksum, incrementalIp);
        }
    }

    [Property]
    public void TryDecrementTtl_KeepsIpv4ChecksumValid(FrameSpec spec)
    {
        if (spec.V6)
        {
            return;
        }

        byte[] frame = TestFrames.Build(spec);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.True(Ipv4Header.TryCreate(frame.AsSpan(parsed.L3Offset), out var v4));
        bool decremented = v4.TryDecrementTtl();
        Assert.Equal(spec.Ttl > 1, decremented);
        Assert.Equal(decremented ? spec.Ttl - 1 : spec.Ttl, v4.Ttl);
        Assert.True(((IPv4Packet)Packet.ParsePacket(LinkLayers.Ethernet, frame).Extract<IPPacket>()).ValidIPChecksum);
    }

    internal static InetAddress NewAddress(bool v6, byte[] bytes)
    {
        // The target frame may be of the other family: repeat its bytes to the length needed.
        byte[] raw = Enumerable.Range(0, 16).Select(i => bytes[i % bytes.Length]).ToArray();
        var address = v6 ? InetAddress.ReadIPv6(raw) : InetAddress.ReadIPv4(raw);
        // Keep the family: an IPv4-mapped IPv6 address would read back as IPv4.
        return v6 && address.IsIPv4 ? new InetAddress(0x2001_0db8_0000_0000, address.Low) : address;
    }

    /// <summary>The NAT-style change the director makes: new addresses and ports, checksums patched by RFC 1624.</summary>
    internal static void RewriteIncrementally(byte[] frame, ParsedFrame parsed, InetAddress source, ushort sourcePort, InetAddress destination, ushort destinationPort)
    {
        Span<byte> l3 = frame.AsSpan(parsed.L3Offset);
        InetAddress oldSource = parsed.Flow.SourceAddress;
        InetAddress oldDestination = parsed.Flow.DestinationAddress;
        if (parsed.IpVersion == 4)
        {
            Assert.True(Ipv4Header.TryCreate(l3, out var v4));
            v4.SetSourceAndUpdateChecksum(source.IPv4Value);
            v4.SetDestinationAndUpdateChecksum(destination.IPv4Value);
        }
        else
        {
            Assert.True(Ipv6Header.TryCreate(l3, out var v6));
            v6.Source = source;
            v6.Destination = destination;
        }

        Span<byte> l4 = frame.AsSpan(parsed.L4Offset);
        uint delta = Checksum.Add(Checksum.DeltaAddress(oldSource, source), Checksum.DeltaAddress(oldDestination, destination));
        if (parsed.Protocol == L4Protocol.Tcp)
        {
            Assert.True(TcpHeader.TryCreate(l4, out var tcp));
            delta = Checksum.Add(delta, Checksum.Add(Checksum.Delta16(tcp.SourcePort, sourcePort), Checksum.Delta16(tcp.DestinationPort, destinationPort)));
            tcp.Checksum = Checksum.ApplyDelta(tcp.Checksum, delta);
            tcp.SourcePort = sourcePort;
            tcp.DestinationPort = destinationPort;
        }
        else
        {
            Assert.True(UdpHeader.TryCreate(l4, out var udp));
            delta = Checksum.Add(delta, Checksum.Add(Checksum.Delta16(udp.SourcePort, sourcePort), Checksum.Delta16(udp.DestinationPort, destinationPort)));
            udp.Checksum = Checksum.UdpResult(Checksum.ApplyDelta(udp.Checksum, delta));
            udp.SourcePort = sourcePort;
            udp.DestinationPort = destinationPort;
        }
    }
}

public static class FrameArbitraries
{
    public static Arbitrary<FrameSpec> Frames() => TestFrames.Arbitrary();
}
