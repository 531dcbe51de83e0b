using BenchmarkDotNet.Attributes;
using Lvs.Core;
using Lvs.Scheduling;

namespace Lvs.Benchmarks.Scheduling;

/// <summary>
/// The least-load scans alone over the load block of 1000 servers (the loads of <see cref="SchedulerPickBenchmarks"/>):
/// the dispatching scan a pick runs (AVX2 where available) and the scalar scan of the block it falls back to.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class LoadBlockScanBenchmarks
{
    private RealServerLoadBlock _block = null!;

    /// <summary>The number of real servers.</summary>
    [Params(1000)]
    public int Servers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var servers = LoadedServers.Create(Servers, new Random(42));

        _block = RealServerLoadBlock.Attach(servers);
    }

    [Benchmark]
    public int LeastConnection() => LoadBlockScan.LeastConnection(_block);

    [Benchmark]
    public int LeastConnectionScalar() => LoadBlockScan.LeastConnectionScalar(_block.Slots, _block.Count);

    [Benchmark]
    public int WeightedLeastConnection() => LoadBlockScan.WeightedLeastConnection(_block);

    [Benchmark]
    public int WeightedLeastConnectionScalar() =>
        LoadBlockScan.WeightedScalar(_block.Slots, _block.Count, expectedDelay: false, idleWins: false);

    [Benchmark]
    public int ShortestExpectedDelay() => LoadBlockScan.ShortestExpectedDelay(_block, idleWins: false);

    [Benchmark]
    public int NeverQueue() => LoadBlockScan.ShortestExpectedDelay(_block, idleWins: true);

    [Benchmark]
    public int WeightedOverflow() => LoadBlockScan.WeightedOverflow(_block);

    [Benchmark]
    public bool AnyBelowHalfWeight() => LoadBlockScan.AnyBelowHalfWeight(_block);
}
