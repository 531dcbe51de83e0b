using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Lvs.ConnectionTracking;

namespace Lvs.Benchmarks.ConnectionTracking;

/// <summary>
/// IPv6 lookups in a full table of 1 M established IPv6 connections, random keys: one key at a time and batched
/// (4096 keys a call), inbound. Each operation is one lookup; compare with the IPv4 figures of
/// <see cref="ConnectionTableLookupBenchmarks"/>.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class ConnectionTableIPv6LookupBenchmarks
{
    private const int Batch = 4096;
    private ConnectionTableFixture _fixture = null!;
    private int _cursor;
    private readonly ConnectionHandle[] _handles = new ConnectionHandle[Batch];

    /// <summary>The number of live IPv6 connections.</summary>
    [Params(1_000_000)]
    public int Connections { get; set; }

    [GlobalSetup]
    public void Setup() => _fixture = new ConnectionTableFixture(Connections, Connections, ipv6: true);

    [Benchmark(OperationsPerInvoke = Batch, Baseline = true)]
    public int LookupHit() => _fixture.Probe(_fixture.Hits, outbound: false, ref _cursor, Batch);

    /// <summary>The same hits through <see cref="ConnectionTable.TryGetInboundBatch"/> (time per key).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int LookupHitBatched() => _fixture.ProbeBatched(ref _cursor, _handles);
}
