using BenchmarkDotNet.Attributes;
using Lvs.Core;

namespace Lvs.Benchmarks.Director;

/// <summary>
/// New connections through the whole engine: each operation is a SYN of a flow never seen (scheduler pick, insert with
/// the first packet's state, rewrite), 64 per batch; every 65,536 flows the clock moves on 62 s and housekeeping expires
/// them (SYN_RECV lasts 60 s), inside the measured time, so the figure includes each connection's end. Per thread:
/// <see cref="Threads"/> workers run at once on as many threads, each on its own flows.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MedianJobConfig))]
public class DirectorNewConnectionBenchmarks
{
    private const int Batch = NewConnectionLane.Batch;
    private const int BatchesPerThread = 256;
    private const int Generation = 65536;

    private DirectorFixture _fixture = null!;
    private NewConnectionLane[] _lanes = [];
    private PacketThreads _threads = null!;
    private Action<int> _runLane = static _ => { };
    private int _flowsSinceExpiry;

    /// <summary>The forwarding method.</summary>
    [Params(ForwardingMethod.Nat, ForwardingMethod.DirectRouting)]
    public ForwardingMethod Forwarding { get; set; }

    /// <summary>Packet threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new DirectorFixture(Forwarding, capacity: 1 << 19, packetThreads: Threads, steered: true);
        _lanes = [.. Enumerable.Range(0, Threads).Select(t => new NewConnectionLane(_fixture, t))];
        _runLane = lane => _lanes[lane].Run(BatchesPerThread);
        _threads = new PacketThreads(Threads);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _threads.Dispose();
        _fixture.Dispose();
    }

    /// <summary>64 x 256 new connections per thread.</summary>
    [Benchmark(OperationsPerInvoke = Batch * BatchesPerThread)]
    public int NewConnections()
    {
        _threads.Run(_runLane);

        _flowsSinceExpiry += Batch * BatchesPerThread * _lanes.Length;
        if (_flowsSinceExpiry >= Generation)
        {
            _flowsSinceExpiry = 0;
            _fixture.Clock.Advance(TimeSpan.FromSeconds(62));
            _ = _fixture.Engine.Connections.RunHousekeeping();
        }

        return _fixture.Engine.Connections.Count;
    }
}
