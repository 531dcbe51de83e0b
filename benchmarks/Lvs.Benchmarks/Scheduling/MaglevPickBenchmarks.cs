using BenchmarkDotNet.Attributes;
using Lvs.Core;
using Lvs.Scheduling;

namespace Lvs.Benchmarks.Scheduling;

/// <summary>
/// One mh pick with the kernel's own table and hash (<see cref="SchedulerOptions.MaglevKernelCompatible"/>: SipHash-1-3
/// of 4 bytes and a division, M = 4093) against the default portable one (multiply-and-mix, M = 65537) as the peer in
/// the same run; 1024 IPv4 clients cycled, servers as in <see cref="SchedulerPickBenchmarks"/>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MedianJobConfig))]
public class MaglevPickBenchmarks
{
    private const int FlowCount = 1024;
    private readonly FlowKey[] _flows = new FlowKey[FlowCount];
    private MaglevHashingScheduler _scheduler = null!;
    private int _next;

    /// <summary>True for the kernel's table and hash.</summary>
    [Params(false, true)]
    public bool KernelCompatible { get; set; }

    /// <summary>The number of real servers.</summary>
    [Params(8, 1000)]
    public int Servers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _scheduler = new MaglevHashingScheduler(new SchedulerOptions { MaglevKernelCompatible = KernelCompatible });
        LoadedServers.PreparePicks(_scheduler, Servers, _flows);
    }

    [Benchmark]
    public RealServer? Pick() => _scheduler.Pick(in _flows[_next++ & (FlowCount - 1)]);
}
