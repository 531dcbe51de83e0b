#if LVS_FORWARDING_BASELINE
extern alias baseline;

using System.Net;
using System.Net.NetworkInformation;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using Lvs.Core;
using Lvs.Forwarding;
using PacketDotNet;
using Old = baseline::Lvs.Forwarding;

namespace Lvs.Benchmarks.Forwarding;

/// <summary>
/// The DR, NAT, FULLNAT and TUN rewrites of the current code against the same rewrites of an earlier commit's
/// Lvs.Forwarding (built as Lvs.Forwarding.Baseline, see the benchmarks project), in one run: a regression shows as a
/// ratio above 1 in each method's category. The frames and the per-operation TTL reset are those of
/// <see cref="ForwardingBenchmarks"/>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Config))]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ForwardingRegressionBenchmarks
{
    private const int Headroom = FrameHeadroom.Required;
    private const int FrameAlignment = 64;

    private static readonly MacAddress DirectorMac = MacAddress.Parse("02:00:00:00:00:02");
    private static readonly MacAddress NextHopMac = MacAddress.Parse("02:00:00:00:00:99");

    private readonly DirectRoutingRewriter _dr = new();
    private readonly NatRewriter _nat = new();
    private readonly FullNatRewriter _fullNat = new();
    private readonly TunnelEncapsulator _tunnel = new(new ForwardingOptions { Mtu = 9000 });
    private readonly Old.DirectRoutingRewriter _oldDr = new();
    private readonly Old.NatRewriter _oldNat = new();
    private readonly Old.FullNatRewriter _oldFullNat = new();
    private readonly Old.TunnelEncapsulator _oldTunnel = new(new Old.ForwardingOptions { Mtu = 9000 });

    private byte[] _buffer = [];
    private int _offset;
    private int _length;
    private ParsedFrame _parsed;
    private int _ttlIndex;
    private byte _ttl;
    private InetEndpoint _realServer;
    private InetEndpoint _local;
    private TunnelRoute _route;
    private Old.TunnelRoute _oldRoute;

    /// <summary>The frame rewritten, as in <see cref="ForwardingBenchmarks"/> (and chosen by <c>LVS_BENCH_FRAMES</c> the same way).</summary>
    [ParamsSource(nameof(Frames))]
    public string Frame { get; set; } = "IPv4 TCP 64";

    /// <summary>The frames of <see cref="ForwardingBenchmarks.Frames"/>.</summary>
    public static IEnumerable<string> Frames => ForwardingBenchmarks.Frames;

    [GlobalSetup]
    public void Setup()
    {
        bool ipv6 = Frame.StartsWith("IPv6", StringComparison.Ordinal);
        int wireLength = Frame.EndsWith("1500", StringComparison.Ordinal) ? 1514 : ipv6 ? 84 : 64;
        var client = IPAddress.Parse(ipv6 ? "2001:db8:1::7" : "198.51.100.7");
        var vip = IPAddress.Parse(ipv6 ? "2001:db8::10" : "192.0.2.10");
        var director = InetAddress.Parse(ipv6 ? "fd00::1" : "10.0.0.1");
        _realServer = new InetEndpoint(InetAddress.Parse(ipv6 ? "fd00::5" : "10.0.0.5"), 8080);
        _local = new InetEndpoint(InetAddress.Parse(ipv6 ? "fd00::100" : "10.0.0.100"), 5001);
        _route = new TunnelRoute(director, _realServer.Address, TunnelType.IpIp);
        _oldRoute = new Old.TunnelRoute(director, _realServer.Address, TunnelType.IpIp);

        int headers = 14 + (ipv6 ? 40 : 20) + 20;
        var tcp = new TcpPacket(43210, 80) { Acknowledgment = true, WindowSize = 64240, PayloadData = new byte[wireLength - headers] };
        IPPacket ip = ipv6 ? new IPv6Packet(client, vip) { HopLimit = 64 } : new IPv4Packet(client, vip) { TimeToLive = 64, FragmentFlags = 2 };
        ip.PayloadPacket = tcp;
        var ethernet = new EthernetPacket(PhysicalAddress.Parse("02-00-00-00-00-01"), PhysicalAddress.Parse("02-00-00-00-00-02"), EthernetType.None) { PayloadPacket = ip };
        ethernet.UpdateCalculatedValues();
        tcp.UpdateTcpChecksum();
        (ip as IPv4Packet)?.UpdateIPChecksum();
        byte[] frame = ethernet.Bytes;
        _length = frame.Length;

        // Pinned, the frame on a 64-byte boundary after the headroom (as in ForwardingBenchmarks).
        _buffer = GC.AllocateArray<byte>(Headroom + FrameAlignment + frame.Length, pinned: true);
        long address = Marshal.UnsafeAddrOfPinnedArrayElement(_buffer, Headroom).ToInt64();
        _offset = Headroom + (int)((FrameAlignment - (address % FrameAlignment)) % FrameAlignment);
        frame.CopyTo(_buffer, _offset);
        if (FrameParser.Parse(_buffer.AsSpan(_offset, _length), out _parsed) != DropReason.None)
        {
            throw new InvalidOperationException("The benchmark frame does not parse.");
        }

        _ttlIndex = _offset + 14 + (ipv6 ? 7 : 8);
        _ttl = _buffer[_ttlIndex];
    }

    /// <summary>DR, the earlier commit.</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("DR")]
    public int Old_DirectRouting()
    {
        // The TTL is reset as for the other methods: DR decrements it since issue 16 (the earlier code did not).
        _buffer[_ttlIndex] = _ttl;
        return Consume(_oldDr.Rewrite(_buffer, _offset, _length, _parsed, DirectorMac, NextHopMac));
    }

    /// <summary>DR, the current code.</summary>
    [Benchmark]
    [BenchmarkCategory("DR")]
    public int New_DirectRouting()
    {
        _buffer[_ttlIndex] = _ttl;
        return Consume(_dr.Rewrite(_buffer, _offset, _length, _parsed, DirectorMac, NextHopMac));
    }

    /// <summary>NAT inbound, the earlier commit.</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("NAT")]
    public int Old_Nat()
    {
        _buffer[_ttlIndex] = _ttl;
        return Consume(_oldNat.RewriteInbound(_buffer, _offset, _length, _parsed, _realServer, DirectorMac, NextHopMac));
    }

    /// <summary>NAT inbound, the current code.</summary>
    [Benchmark]
    [BenchmarkCategory("NAT")]
    public int New_Nat()
    {
        _buffer[_ttlIndex] = _ttl;
        return Consume(_nat.RewriteInbound(_buffer, _offset, _length, _parsed, _realServer, DirectorMac, NextHopMac));
    }

    /// <summary>FULLNAT inbound, the earlier commit.</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("FULLNAT")]
    public int Old_FullNat()
    {
        _buffer[_ttlIndex] = _ttl;
        return Consume(_oldFullNat.RewriteInbound(_buffer, _offset, _length, _parsed, _local, _realServer, DirectorMac, NextHopMac));
    }

    /// <summary>FULLNAT inbound, the current code.</summary>
    [Benchmark]
    [BenchmarkCategory("FULLNAT")]
    public int New_FullNat()
    {
        _buffer[_ttlIndex] = _ttl;
        return Consume(_fullNat.RewriteInbound(_buffer, _offset, _length, _parsed, _local, _realServer, DirectorMac, NextHopMac));
    }

    /// <summary>TUN (IPIP), the earlier commit.</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("TUN")]
    public int Old_Tunnel()
    {
        _buffer[_ttlIndex] = _ttl;
        return Consume(_oldTunnel.Encapsulate(_buffer, _offset, _length, _parsed, _oldRoute, DirectorMac, NextHopMac));
    }

    /// <summary>TUN (IPIP), the current code.</summary>
    [Benchmark]
    [BenchmarkCategory("TUN")]
    public int New_Tunnel()
    {
        _buffer[_ttlIndex] = _ttl;
        return Consume(_tunnel.Encapsulate(_buffer, _offset, _length, _parsed, _route, DirectorMac, NextHopMac));
    }

    private static int Consume(ForwardingVerdict verdict) => (int)verdict.Action + verdict.FrameOffset + verdict.FrameLength;

    private static int Consume(Old.ForwardingVerdict verdict) => (int)verdict.Action + verdict.FrameOffset + verdict.FrameLength;

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            _ = AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(15).WithLaunchCount(1));
            _ = AddColumn(BenchmarkDotNet.Columns.StatisticColumn.Median);
        }
    }
}
#endif
