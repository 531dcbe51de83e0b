using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Lvs.Core;
using PacketDotNet;

namespace Lvs.Benchmarks.Core;

/// <summary>Parse an Ethernet/IP/TCP frame and extract the flow: Lvs.Core against PacketDotNet in the same run.</summary>
[MemoryDiagnoser]
[MedianColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class FrameParserBenchmarks
{
    private byte[] _v4 = [];
    private byte[] _v6 = [];

    [GlobalSetup]
    public void Setup()
    {
        _v4 = BenchmarkFrames.TcpV4(10);
        _v6 = BenchmarkFrames.TcpV6(10);
    }

    [Benchmark]
    [BenchmarkCategory("IPv4")]
    public int Lvs_ParseIPv4()
    {
        // The parser builds the whole FlowKey; reading its ports is the same work the PacketDotNet column does.
        _ = FrameParser.Parse(_v4, out var parsed);
        return parsed.Flow.SourcePort + parsed.Flow.DestinationPort;
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("IPv4")]
    public int PacketDotNet_ParseIPv4()
    {
        var tcp = Packet.ParsePacket(LinkLayers.Ethernet, _v4).Extract<TcpPacket>();
        return tcp.SourcePort + tcp.DestinationPort;
    }

    [Benchmark]
    [BenchmarkCategory("IPv6")]
    public int Lvs_ParseIPv6()
    {
        // The parser builds the whole FlowKey; reading its ports is the same work the PacketDotNet column does.
        _ = FrameParser.Parse(_v6, out var parsed);
        return parsed.Flow.SourcePort + parsed.Flow.DestinationPort;
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("IPv6")]
    public int PacketDotNet_ParseIPv6()
    {
        var tcp = Packet.ParsePacket(LinkLayers.Ethernet, _v6).Extract<TcpPacket>();
        return tcp.SourcePort + tcp.DestinationPort;
    }
}
