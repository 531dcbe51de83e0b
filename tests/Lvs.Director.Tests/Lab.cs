using System.Net;
using System.Net.NetworkInformation;
using Lvs.Core;
using Microsoft.Extensions.Time.Testing;
using Lvs.TestSupport;
using PacketDotNet;

namespace Lvs.Director.Tests;

/// <summary>
/// A simulated network around one director: a client-side link and a server-side link, a client, real servers
/// and their MAC addresses. Frames are built and read back with PacketDotNet (the independent oracle).
/// </summary>
public sealed class Lab : IDisposable
{
    public const int Headroom = 128;

    public static readonly MacAddress ClientLinkMac = MacAddress.Parse("02:00:00:00:00:01");
    public static readonly MacAddress ServerLinkMac = MacAddress.Parse("02:00:00:00:01:01");
    public static readonly MacAddress ClientMac = MacAddress.Parse("02:00:00:00:00:02");
    public static readonly MacAddress RouterMac = MacAddress.Parse("02:00:00:00:00:fe");

    public Lab(DirectorOptions? options = null, bool ipv6 = false, Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null, int serverLinkMtu = 1500)
    {
        IPv6 = ipv6;
        Time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 5, 0, 0, 0, TimeSpan.Zero));
        Table = new ServiceTable();
        var links = new[]
        {
            new DirectorLink(0, "client", ClientLinkMac, [InetPrefix.Parse(ipv6 ? "2001:db8::1/64" : "10.0.0.1/24")]),
            new DirectorLink(1, "servers", ServerLinkMac, [InetPrefix.Parse(ipv6 ? "2001:db8:1::1/64" : "10.1.0.1/24")]) { Mtu = serverLinkMtu },
        };
        options ??= new DirectorOptions();
        options = options with
        {
            // A small table unless the test sized it.
            Connections = options.Connections.Capacity != new Lvs.ConnectionTracking.ConnectionTableOptions().Capacity ? options.Connections : options.Connections with { Capacity = 4096, IPv6Capacity = 4096 },
            Gateway = ipv6 ? null : InetAddress.Parse("10.0.0.254"),
            GatewayV6 = ipv6 ? InetAddress.Parse("2001:db8::fe") : null,
        };
        Engine = new DirectorEngine(Table, links, options, timeProvider: Time, loggerFactory: loggerFactory);
        Worker = Engine.CreateWorker();
        Engine.Neighbors.Set(0, Client, ClientMac);
        Engine.Neighbors.Set(0, ipv6 ? InetAddress.Parse("2001:db8::fe") : InetAddress.Parse("10.0.0.254"), RouterMac);
    }

    public bool IPv6 { get; }

    public FakeTimeProvider Time { get; }

    public ServiceTable Table { get; }

    public DirectorEngine Engine { get; }

    public PacketWorker Worker { get; }

    public InetAddress Vip => InetAddress.Parse(IPv6 ? "2001:db8::100" : "10.0.0.100");

    public InetAddress Client => InetAddress.Parse(IPv6 ? "2001:db8::2" : "10.0.0.2");

    public InetAddress RemoteClient => InetAddress.Parse(IPv6 ? "2001:db8:9::7" : "198.51.100.7");

    public static InetAddress LocalV4 => InetAddress.Parse("10.1.0.100");

    public InetAddress Local => IPv6 ? InetAddress.Parse("2001:db8:1::100") : LocalV4;

    public InetAddress Server(int n) => InetAddress.Parse(IPv6 ? $"2001:db8:1::{10 + n}" : $"10.1.0.{10 + n}");

    public static MacAddress ServerMac(int n) => new(0x02_00_00_00_02_00UL + (ulong)n);

    /// <summary>Adds a service with real servers 1..count and their MACs.</summary>
    public VirtualServiceKey AddService(string scheduler, ForwardingMethod method, int count = 3, L4Protocol protocol = L4Protocol.Tcp, ushort port = 80, int persistence = 0, bool onePacket = false)
    {
        var key = VirtualServiceKey.ForAddress(protocol, new InetEndpoint(Vip, port));
        Table.AddService(new VirtualServiceOptions(key) { Scheduler = scheduler, PersistenceTimeout = persistence, OnePacket = onePacket });
        for (int n = 1; n <= count; n++)
        {
            ushort rport = method is ForwardingMethod.Nat or ForwardingMethod.FullNat ? (ushort)8080 : port;
            Table.AddRealServer(key, new RealServerOptions(new InetEndpoint(Server(n), rport)) { Method = method });
            Engine.Neighbors.Set(1, Server(n), ServerMac(n));
        }

        return key;
    }

    /// <summary>Builds a TCP frame into a buffer with headroom.</summary>
    public static Frame Tcp(MacAddress srcMac, MacAddress dstMac, InetAddress src, ushort sport, InetAddress dst, ushort dport, string flags, int payload = 0, byte ttl = 64)
    {
        var tcp = new TcpPacket(sport, dport)
        {
            Synchronize = flags.Contains('S', StringComparison.Ordinal),
            Acknowledgment = flags.Contains('A', StringComparison.Ordinal),
            Finished = flags.Contains('F', StringComparison.Ordinal),
            Reset = flags.Contains('R', StringComparison.Ordinal),
            Push = payload > 0,
            SequenceNumber = 1000,
            AcknowledgmentNumber = flags.Contains('A', StringComparison.Ordinal) ? 2000u : 0,
            WindowSize = 65535,
        };
        tcp.PayloadData = [.. Enumerable.Range(0, payload).Select(i => (byte)i)];
        return Ip(srcMac, dstMac, src, dst, tcp, ttl);
    }

    /// <summary>Builds a UDP frame.</summary>
    public static Frame Udp(MacAddress srcMac, MacAddress dstMac, InetAddress src, ushort sport, InetAddress dst, ushort dport, int payload = 8, byte ttl = 64)
    {
        var udp = new UdpPacket(sport, dport) { PayloadData = [.. Enumerable.Range(0, payload).Select(i => (byte)(i + 1))] };
        return Ip(srcMac, dstMac, src, dst, udp, ttl);
    }

    /// <summary>Builds an IP frame around a transport packet, checksums computed by PacketDotNet.</summary>
    public static Frame Ip(MacAddress srcMac, MacAddress dstMac, InetAddress src, InetAddress dst, Packet transport, byte ttl = 64)
    {
        Packet ip = src.IsIPv4
            ? new IPv4Packet(src.ToIPAddress(), dst.ToIPAddress()) { TimeToLive = ttl, PayloadPacket = transport }
            : new IPv6Packet(src.ToIPAddress(), dst.ToIPAddress()) { HopLimit = ttl, PayloadPacket = transport };
        if (transport is IcmpV6Packet)
        {
            ((IPv6Packet)ip).Protocol = ProtocolType.IcmpV6;
        }
        else if (transport is IcmpV4Packet)
        {
            ((IPv4Packet)ip).Protocol = ProtocolType.Icmp;
        }

        var eth = new EthernetPacket(Phys(srcMac), Phys(dstMac), src.IsIPv4 ? EthernetType.IPv4 : EthernetType.IPv6) { PayloadPacket = ip };
        switch (transport)
        {
            case TcpPacket t:
                t.UpdateCalculatedValues();
                t.UpdateTcpChecksum();
                break;
            case UdpPacket u:
                u.UpdateCalculatedValues();
                u.UpdateUdpChecksumAsSent();
                break;
            case IcmpV6Packet i6:
                i6.UpdateCalculatedValues();
                break;
        }

        if (ip is IPv4Packet v4)
        {
            v4.UpdateCalculatedValues();
            v4.UpdateIPChecksum();
        }
        else
        {
            ip.UpdateCalculatedValues();
        }

        if (transport is TcpPacket t2)
        {
            t2.UpdateTcpChecksum();
        }
        else if (transport is UdpPacket u2)
        {
            u2.UpdateUdpChecksumAsSent();
        }

        var frame = Frame.From(eth.Bytes);
        if (transport is IcmpV6Packet or IcmpV4Packet)
        {
            // PacketDotNet leaves ICMP checksums to the caller: computed here over the message (and the IPv6 pseudo-header).
            int l4 = frame.Offset + 14 + (src.IsIPv4 ? 20 : 40);
            var icmp = frame.Buffer.AsSpan(l4, frame.Length - (l4 - frame.Offset));
            icmp[2] = 0;
            icmp[3] = 0;
            ushort sum = src.IsIPv4 ? Checksum.Compute(icmp) : Checksum.Compute(icmp, Checksum.PseudoHeaderSum(src, dst, L4Protocol.IcmpV6, icmp.Length));
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], sum);
        }

        return frame;
    }

    /// <summary>Builds an ICMPv6 frame from the message's bytes (type first), its checksum computed here.</summary>
    public static Frame IcmpV6(MacAddress srcMac, MacAddress dstMac, InetAddress src, InetAddress dst, byte[] message, byte hopLimit = 64)
    {
        var ip = new IPv6Packet(src.ToIPAddress(), dst.ToIPAddress()) { HopLimit = hopLimit, Protocol = ProtocolType.IcmpV6, PayloadData = message };
        ip.PayloadLength = (ushort)message.Length;
        var eth = new EthernetPacket(Phys(srcMac), Phys(dstMac), EthernetType.IPv6) { PayloadPacket = ip };
        var frame = Frame.From(eth.Bytes);
        var icmp = frame.Buffer.AsSpan(frame.Offset + 54, message.Length);
        icmp[2] = 0;
        icmp[3] = 0;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp, Checksum.PseudoHeaderSum(src, dst, L4Protocol.IcmpV6, icmp.Length)));
        return frame;
    }

    public static PhysicalAddress Phys(MacAddress mac) => PhysicalAddress.Parse(mac.ToString().Replace(':', '-'));

    /// <summary>Processes a frame on a link.</summary>
    public FrameVerdict Send(Frame frame, int link) => Worker.Process(frame.Buffer, frame.Offset, frame.Length, link);

    public void Dispose() => Engine.Dispose();
}

/// <summary>A frame in a buffer with headroom, as a link would hand it to the engine.</summary>
public sealed class Frame
{
    public required byte[] Buffer { get; init; }

    public int Offset { get; init; }

    public int Length { get; init; }

    public static Frame From(byte[] bytes)
    {
        var buffer = new byte[Lab.Headroom + bytes.Length + 256];
        bytes.CopyTo(buffer, Lab.Headroom);
        return new Frame { Buffer = buffer, Offset = Lab.Headroom, Length = bytes.Length };
    }

    /// <summary>The output frame a verdict designates, parsed by PacketDotNet.</summary>
    public EthernetPacket Output(FrameVerdict verdict)
    {
        Assert.Equal(FrameAction.Transmit, verdict.Action);
        return new EthernetPacket(new PacketDotNet.Utils.ByteArraySegment(Buffer[verdict.Offset..(verdict.Offset + verdict.Length)]));
    }

    /// <summary>The output frame as a new frame (to send on through the lab).</summary>
    public Frame Next(FrameVerdict verdict) => From(Buffer[verdict.Offset..(verdict.Offset + verdict.Length)]);

    /// <summary>Recomputes the IPv4 header checksum (of a 20-byte header) after a test changed the header.</summary>
    public void FixIPv4HeaderChecksum()
    {
        var header = Buffer.AsSpan(Offset + 14, 20);
        header[10] = 0;
        header[11] = 0;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(header[10..], Checksum.Compute(header));
    }
}

public static class PacketAssert
{
    /// <summary>
    /// The IP packet at <paramref name="ipOffset"/> of <paramref name="bytes"/> as the kernel forwards it by direct
    /// routing: TTL / hop limit one less (<c>ip_vs_dr_xmit</c>'s <c>decrement_ttl</c>), the IPv4 header checksum patched.
    /// </summary>
    public static byte[] HopLimitDecremented(byte[] bytes, int ipOffset)
    {
        byte[] copy = [.. bytes];
        bool ipv4 = copy[ipOffset] >> 4 == 4;
        copy[ipOffset + (ipv4 ? 8 : 7)]--;
        if (ipv4)
        {
            int headerLength = (copy[ipOffset] & 0xF) * 4;
            copy[ipOffset + 10] = 0;
            copy[ipOffset + 11] = 0;
            ushort sum = Lvs.Core.Checksum.Compute(copy.AsSpan(ipOffset, headerLength));
            copy[ipOffset + 10] = (byte)(sum >> 8);
            copy[ipOffset + 11] = (byte)sum;
        }

        return copy;
    }

    public static IPPacket Ip(EthernetPacket eth)
    {
        var ip = eth.Extract<IPPacket>();
        Assert.NotNull(ip);
        if (ip is IPv4Packet v4)
        {
            Assert.True(v4.ValidIPChecksum, "IPv4 header checksum");
        }

        return ip;
    }

    public static TcpPacket Tcp(EthernetPacket eth)
    {
        var tcp = eth.Extract<TcpPacket>();
        Assert.NotNull(tcp);
        Assert.True(tcp.ValidTcpChecksum, "TCP checksum");
        return tcp;
    }

    public static UdpPacket Udp(EthernetPacket eth)
    {
        var udp = eth.Extract<UdpPacket>();
        Assert.NotNull(udp);
        Assert.True(udp.ValidUdpChecksum, "UDP checksum");
        return udp;
    }

    public static void Addresses(EthernetPacket eth, MacAddress srcMac, MacAddress dstMac)
    {
        Assert.Equal(Lab.Phys(srcMac), eth.SourceHardwareAddress);
        Assert.Equal(Lab.Phys(dstMac), eth.DestinationHardwareAddress);
    }

    public static void Endpoints(IPPacket ip, TransportPacket transport, InetAddress src, ushort sport, InetAddress dst, ushort dport)
    {
        Assert.Equal(src.ToIPAddress(), ip.SourceAddress);
        Assert.Equal(dst.ToIPAddress(), ip.DestinationAddress);
        Assert.Equal(sport, transport.SourcePort);
        Assert.Equal(dport, transport.DestinationPort);
    }

    public static IPAddress Address(InetAddress address) => address.ToIPAddress();
}
