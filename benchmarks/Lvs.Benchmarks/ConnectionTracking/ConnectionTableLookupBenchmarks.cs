using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Benchmarks.ConnectionTracking;

/// <summary>
/// Lookups in a full table of established connections, random keys: hit from the client side, hit from the server
/// side (NAT reply), miss, the per-packet update, and hits on two threads at once. Each operation is one lookup.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class ConnectionTableLookupBenchmarks
{
    private const int Batch = 4096;
    private ConnectionTableFixture _fixture = null!;
    private int _cursor;
    private Dictionary<FlowKey, int> _dictionary = null!;
    private readonly ConnectionHandle[] _handles = new ConnectionHandle[Batch];
    private readonly ConnectionHandle[][] _threadHandles = [new ConnectionHandle[Batch], new ConnectionHandle[Batch]];

    /// <summary>The number of live connections (10 000: the table fits in cache, which shows the cost of the code rather than of memory).</summary>
    [ParamsSource(nameof(ConnectionCounts))]
    public int Connections { get; set; }

    /// <summary>
    /// 10 000, 1 M and 10 M; or the sizes listed, comma-separated, in the <c>LVS_BENCH_CONNECTIONS</c> environment
    /// variable (BenchmarkDotNet's child processes inherit it), so one size can be measured in a run of seconds:
    /// on a shared host a short run can fall inside one quiet spell where a run of minutes cannot.
    /// </summary>
    public static IEnumerable<int> ConnectionCounts =>
        Environment.GetEnvironmentVariable("LVS_BENCH_CONNECTIONS") is { Length: > 0 } sizes
            ? sizes.Split(',').Select(size => int.Parse(size, System.Globalization.CultureInfo.InvariantCulture))
            : [10_000, 1_000_000, 10_000_000];

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new ConnectionTableFixture(Connections, Connections);
        _dictionary = new Dictionary<FlowKey, int>(Connections);
        for (int i = 0; i < Connections; i++)
        {
            _dictionary[_fixture.Inbound(i)] = i;
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int LookupHit() => _fixture.Probe(_fixture.Hits, outbound: false, ref _cursor, Batch);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int LookupOutboundHit() => _fixture.Probe(_fixture.Replies, outbound: true, ref _cursor, Batch);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int LookupMiss() => _fixture.Probe(_fixture.Misses, outbound: false, ref _cursor, Batch);

    /// <summary>The same hits through <see cref="ConnectionTable.TryGetInboundBatch"/>, a batch of 4096 keys per call (time per key).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int LookupHitBatched() => _fixture.ProbeBatched(ref _cursor, _handles);

    /// <summary>The NAT replies through <see cref="ConnectionTable.TryGetOutboundBatch"/>, a batch of 4096 keys per call (time per key).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int LookupOutboundHitBatched()
    {
        int c = _cursor & (ConnectionTableFixture.SampleSize - 1) & ~(Batch - 1);
        _cursor += Batch;
        return _fixture.Table.TryGetOutboundBatch(_fixture.Replies.AsSpan(c, Batch), _handles);
    }

    /// <summary>The peer: the BCL dictionary keyed by <see cref="FlowKey"/> (seeded XxHash3), same connections and keys.</summary>
    [Benchmark(OperationsPerInvoke = Batch, Baseline = true)]
    public int DictionaryLookupHit()
    {
        var keys = _fixture.Hits;
        var dictionary = _dictionary;
        int found = 0;
        int c = _cursor;
        for (int i = 0; i < Batch; i++)
        {
            found += dictionary.TryGetValue(keys[(c + i) & (ConnectionTableFixture.SampleSize - 1)], out _) ? 1 : 0;
        }

        _cursor = c + Batch;
        return found;
    }

    /// <summary>The per-packet work after a hit: an ACK on an established connection (state machine, counters, timer).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int UpdateEstablished()
    {
        var handles = _fixture.Handles;
        var table = _fixture.Table;
        int ok = 0;
        int c = _cursor;
        for (int i = 0; i < Batch; i++)
        {
            ok += table.Update(handles[(c + i) & (ConnectionTableFixture.SampleSize - 1)], PacketDirection.Inbound, TcpFlags.Ack) ? 1 : 0;
        }

        _cursor = c + Batch;
        return ok;
    }

    /// <summary>Batched hits on two threads at once (4096 keys a call, each thread its own half of the sample); the time is per lookup, so perfect scaling halves <see cref="LookupHitBatched"/>.</summary>
    [Benchmark(OperationsPerInvoke = 2 * Batch * 16)]
    public int LookupHitBatchedTwoThreads()
    {
        int total = 0;
        _ = Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, part =>
        {
            var handles = _threadHandles[part];
            var table = _fixture.Table;
            int found = 0;
            int start = part * (ConnectionTableFixture.SampleSize / 2);
            for (int i = 0; i < 16; i++)
            {
                found += table.TryGetInboundBatch(_fixture.Hits.AsSpan((start + (i * Batch)) & (ConnectionTableFixture.SampleSize - 1), Batch), handles);
            }

            _ = Interlocked.Add(ref total, found);
        });
        return total;
    }

    /// <summary>Hits on two threads at once; the time is per lookup, so perfect scaling halves <see cref="LookupHit"/>.</summary>
    [Benchmark(OperationsPerInvoke = 2 * Batch * 16)]
    public int LookupHitTwoThreads()
    {
        int total = 0;
        _ = Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, part =>
        {
            var keys = _fixture.Hits;
            var table = _fixture.Table;
            int found = 0;
            int start = part * (ConnectionTableFixture.SampleSize / 2);
            for (int i = 0; i < Batch * 16; i++)
            {
                found += table.TryGetInbound(keys[(start + i) & (ConnectionTableFixture.SampleSize - 1)], out _) ? 1 : 0;
            }

            _ = Interlocked.Add(ref total, found);
        });
        return total;
    }
}
