using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using Lvs.Core;
using Lvs.TestSupport;
using PacketDotNet;
using PacketDotNet.Utils;

namespace Lvs.Forwarding.Tests;

/// <summary>The description of a test frame: PacketDotNet builds it, so it is an independent oracle of the wire format and checksums.</summary>
public sealed record FrameSpec
{
    public string SourceMac { get; init; } = "02:00:00:00:00:01";
    public string DestinationMac { get; init; } = "02:00:00:00:00:02";
    public string Source { get; init; } = "198.51.100.7";
    public string Destination { get; init; } = "192.0.2.10";
    public ushort SourcePort { get; init; } = 43210;
    public ushort DestinationPort { get; init; } = 80;
    public ProtocolType Protocol { get; init; } = ProtocolType.Tcp;
    public byte Ttl { get; init; } = 64;
    public int PayloadLength { get; init; } = 6;
    public bool Syn { get; init; }
    public bool Ack { get; init; } = true;
    public byte[] TcpOptions { get; init; } = [];
    public bool DontFragment { get; init; } = true;
    public ushort Identification { get; init; } = 0x1234;
    public byte TypeOfService { get; init; }
    public bool ZeroUdpChecksum { get; init; }
}

public static class PacketFactory
{
    public static readonly MacAddress DirectorMac = MacAddress.Parse("02:00:00:00:00:02");
    public static readonly MacAddress NextHopMac = MacAddress.Parse("02:00:00:00:00:99");

    /// <summary>The spec as the director sends it on: its MAC towards the next hop, one hop less.</summary>
    public static FrameSpec Forwarded(this FrameSpec spec) =>
        spec with { SourceMac = DirectorMac.ToString(), DestinationMac = NextHopMac.ToString(), Ttl = (byte)(spec.Ttl - 1) };

    public static byte[] Build(FrameSpec spec)
    {
        var source = IPAddress.Parse(spec.Source);
        var destination = IPAddress.Parse(spec.Destination);
        byte[] payload = Enumerable.Range(0, spec.PayloadLength).Select(i => (byte)(i * 7 + 3)).ToArray();
        TransportPacket transport;
        if (spec.Protocol == ProtocolType.Tcp)
        {
            // Built from raw bytes: PacketDotNet's Options setter cannot grow a header.
            int headerLength = 20 + spec.TcpOptions.Length;
            byte[] segment = new byte[headerLength + payload.Length];
            BinaryPrimitives.WriteUInt16BigEndian(segment, spec.SourcePort);
            BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(2), spec.DestinationPort);
            BinaryPrimitives.WriteUInt32BigEndian(segment.AsSpan(4), 0x01020304);
            BinaryPrimitives.WriteUInt32BigEndian(segment.AsSpan(8), spec.Ack ? 0x0A0B0C0Du : 0);
            segment[12] = (byte)(headerLength / 4 << 4);
            segment[13] = (byte)((spec.Syn ? 0x02 : 0) | (spec.Ack ? 0x10 : 0));
            BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(14), 64240);
            spec.TcpOptions.CopyTo(segment, 20);
            payload.CopyTo(segment, headerLength);
            var tcp = new TcpPacket(new ByteArraySegment(segment));
            transport = tcp;
        }
        else
        {
            transport = new UdpPacket(spec.SourcePort, spec.DestinationPort) { PayloadData = payload };
        }

        IPPacket ip;
        if (source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            ip = new IPv4Packet(source, destination)
            {
                TimeToLive = spec.Ttl,
                Id = spec.Identification,
                FragmentFlags = spec.DontFragment ? (byte)2 : (byte)0,
                TypeOfService = spec.TypeOfService,
            };
        }
        else
        {
            ip = new IPv6Packet(source, destination) { HopLimit = spec.Ttl, TrafficClass = spec.TypeOfService };
        }

        ip.PayloadPacket = transport;
        var ethernet = new EthernetPacket(PhysicalAddress.Parse(spec.SourceMac.Replace(':', '-').ToUpperInvariant()), PhysicalAddress.Parse(spec.DestinationMac.Replace(':', '-').ToUpperInvariant()), EthernetType.None)
        {
            PayloadPacket = ip,
        };
        ethernet.UpdateCalculatedValues();
        if (transport is TcpPacket t)
        {
            t.UpdateTcpChecksum();
        }
        else if (transport is UdpPacket u)
        {
            u.UpdateUdpChecksumAsSent();
            if (spec.ZeroUdpChecksum)
            {
                u.Checksum = 0;
            }
        }

        if (ip is IPv4Packet v4)
        {
            v4.UpdateIPChecksum();
        }

        return ethernet.Bytes;
    }

    /// <summary>Copies a frame into a buffer behind the standard headroom.</summary>
    public static byte[] InBuffer(byte[] frame, int headroom = FrameHeadroom.Required, int tailroom = 0)
    {
        var buffer = new byte[headroom + frame.Length + tailroom];
        frame.CopyTo(buffer, headroom);
        return buffer;
    }

    public static ParsedFrame Parse(byte[] buffer, int offset, int length)
    {
        Assert.Equal(DropReason.None, FrameParser.Parse(buffer.AsSpan(offset, length), out var parsed));
        return parsed;
    }

    public static byte[] Output(byte[] buffer, ForwardingVerdict verdict) => buffer.AsSpan(verdict.FrameOffset, verdict.FrameLength).ToArray();

    /// <summary>Parses with PacketDotNet and checks every checksum it knows (IPv4 header, TCP/UDP/ICMP with pseudo-header where they have one).</summary>
    /// <param name="frame">The Ethernet frame.</param>
    /// <param name="tunnelOuter">
    /// The frame is a tunnel's outer packet: its UDP header (GUE) may carry no checksum over IPv6 too, as the kernel sends
    /// it without the tunnel's checksum flag (RFC 6935). Elsewhere 0 is allowed over IPv4 only (RFC 8200 section 8.1).
    /// </param>
    public static void AssertChecksumsValid(byte[] frame, bool tunnelOuter = false)
    {
        var packet = Packet.ParsePacket(LinkLayers.Ethernet, frame);
        var ip = packet.Extract<IPPacket>();
        Assert.NotNull(ip);
        if (ip is IPv4Packet v4)
        {
            Assert.True(v4.ValidIPChecksum, "IPv4 header checksum");
        }

        if (ip.Protocol == ProtocolType.Tcp)
        {
            Assert.True(packet.Extract<TcpPacket>().ValidTcpChecksum, "TCP checksum");
        }
        else if (ip.Protocol == ProtocolType.Udp)
        {
            var udp = packet.Extract<UdpPacket>();
            bool zeroAllowed = ip is IPv4Packet || tunnelOuter;
            Assert.True((udp.Checksum == 0 && zeroAllowed) || (udp.Checksum != 0 && udp.ValidUdpChecksum), "UDP checksum");
        }
        else if (ip.Protocol == ProtocolType.Icmp)
        {
            Assert.True(packet.Extract<IcmpV4Packet>().ValidIcmpChecksum, "ICMP checksum");
        }
        else if (ip.Protocol == ProtocolType.IcmpV6)
        {
            // PacketDotNet has no ICMPv6 checksum check: the reference checksum over pseudo-header and message must fold to 0.
            byte[] message = ip.PayloadData ?? ip.PayloadPacket.Bytes;
            byte[] pseudo = new byte[40];
            ip.SourceAddress.GetAddressBytes().CopyTo(pseudo, 0);
            ip.DestinationAddress.GetAddressBytes().CopyTo(pseudo, 16);
            BinaryPrimitives.WriteUInt32BigEndian(pseudo.AsSpan(32), (uint)message.Length);
            pseudo[39] = 58;
            Assert.True(ReferenceChecksum.Compute([.. pseudo, .. message]) == 0, "ICMPv6 checksum");
        }
    }
}
