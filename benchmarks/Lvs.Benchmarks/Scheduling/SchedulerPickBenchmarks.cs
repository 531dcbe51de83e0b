using BenchmarkDotNet.Attributes;
using Lvs.Core;
using Lvs.Scheduling;

namespace Lvs.Benchmarks.Scheduling;

/// <summary>
/// The cost of one pick (a new connection) for every built-in scheduler at 8, 64 and 1000 servers. Servers have
/// weights 1 to 4 and a spread of active and inactive connections; 1024 different clients and destinations are cycled
/// so that the hashing schedulers do not read one slot only, and lblc/lblcr run on warm tables (cache hits).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class SchedulerPickBenchmarks
{
    private const int FlowCount = 1024;
    private readonly FlowKey[] _flows = new FlowKey[FlowCount];
    private IScheduler _scheduler = null!;
    private int _next;

    /// <summary>The scheduler's ipvsadm name.</summary>
    [Params("rr", "wrr", "lc", "wlc", "sed", "nq", "lblc", "lblcr", "dh", "sh", "mh", "fo", "ovf", "twos")]
    public string Scheduler { get; set; } = "rr";

    /// <summary>The number of real servers.</summary>
    [Params(8, 64, 1000)]
    public int Servers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _scheduler = new SchedulerRegistry().Create(Scheduler);
        LoadedServers.PreparePicks(_scheduler, Servers, _flows);
    }

    [GlobalCleanup]
    public void Cleanup() => (_scheduler as IDisposable)?.Dispose();

    [Benchmark]
    public RealServer? Pick() => _scheduler.Pick(in _flows[_next++ & (FlowCount - 1)]);
}
