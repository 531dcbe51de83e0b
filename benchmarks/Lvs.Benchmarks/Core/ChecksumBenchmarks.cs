using System.Net;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Lvs.Core;
using Lvs.Core.Headers;
using PacketDotNet;

namespace Lvs.Benchmarks.Core;

/// <summary>
/// A NAT-style change (new destination address and port) with incremental checksum updates against
/// PacketDotNet setting the same fields and recomputing its checksums; and the full RFC 1071 sum.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ChecksumBenchmarks
{
    private static readonly InetAddress[] Targets = [InetAddress.Parse("10.1.0.5"), InetAddress.Parse("10.1.0.6")];
    private static readonly IPAddress[] TargetObjects = [IPAddress.Parse("10.1.0.5"), IPAddress.Parse("10.1.0.6")];
    private byte[] _frame = [];
    private byte[] _data64 = [];
    private byte[] _data1500 = [];
    private int _flip;

    [GlobalSetup]
    public void Setup()
    {
        _frame = BenchmarkFrames.TcpV4(10);
        _data64 = new byte[64];
        _data1500 = new byte[1500];
        new Random(1).NextBytes(_data64);
        new Random(2).NextBytes(_data1500);
    }

    [Benchmark]
    [BenchmarkCategory("NatRewrite")]
    public ushort Lvs_IncrementalNatRewrite()
    {
        // Offsets come from the parser in the director; here they are the fixed Ethernet/IPv4/TCP ones.
        Span<byte> frame = _frame;
        _ = Ipv4Header.TryCreate(frame[14..], out var ip);
        _ = TcpHeader.TryCreate(frame[34..], out var tcp);
        var target = Targets[_flip ^= 1];
        var old = ip.Destination;
        ip.SetDestinationAndUpdateChecksum(target.IPv4Value);
        ushort port = (ushort)(8080 + _flip);
        tcp.Checksum = Checksum.ApplyDelta(tcp.Checksum, Checksum.Add(Checksum.DeltaAddress(old, target), Checksum.Delta16(tcp.DestinationPort, port)));
        tcp.DestinationPort = port;
        return tcp.Checksum;
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("NatRewrite")]
    public ushort PacketDotNet_NatRewrite()
    {
        var packet = Packet.ParsePacket(LinkLayers.Ethernet, _frame);
        var ip = packet.Extract<IPv4Packet>();
        var tcp = packet.Extract<TcpPacket>();
        ip.DestinationAddress = TargetObjects[_flip ^= 1];
        tcp.DestinationPort = (ushort)(8080 + _flip);
        tcp.UpdateTcpChecksum();
        ip.UpdateIPChecksum();
        return tcp.Checksum;
    }

    [Benchmark]
    [BenchmarkCategory("FullSum")]
    public ushort Lvs_FullChecksum64() => Checksum.Compute(_data64);

    [Benchmark]
    [BenchmarkCategory("FullSum")]
    public ushort Lvs_FullChecksum1500() => Checksum.Compute(_data1500);
}
