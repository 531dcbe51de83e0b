using BenchmarkDotNet.Attributes;
using Lvs.Core;
using Lvs.Scheduling;

namespace Lvs.Benchmarks.Scheduling;

/// <summary>
/// Table rebuilds off the hot path: the Maglev table build at (M = 65537, N = 1000) and (M = 4093, N = 100), and a whole
/// add-server update (copy, sort, table build, publish) for sh and mh, alternating between N and N + 1 servers.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class SchedulerRebuildBenchmarks
{
    private RealServer[] _servers = [];
    private RealServer[] _serversPlusOne = [];
    private MaglevHashingScheduler _maglev65537 = null!;
    private MaglevHashingScheduler _maglev4093 = null!;
    private SourceHashingScheduler _sourceHashing = null!;
    private bool _plusOne;

    [GlobalSetup]
    public void Setup()
    {
        _serversPlusOne = [.. Enumerable.Range(0, 1001).Select(i => new RealServer(new InetEndpoint(InetAddress.FromIPv4(10, 2, (byte)(i >> 8), (byte)i), 80)))];
        _servers = _serversPlusOne[..1000];
        _maglev65537 = new MaglevHashingScheduler(new SchedulerOptions { MaglevTableSize = 65537 });
        _maglev4093 = new MaglevHashingScheduler(new SchedulerOptions { MaglevTableSize = 4093 });
        _sourceHashing = new SourceHashingScheduler();
    }

    /// <summary>Maglev table build, M = 65537, N = 1000 (target: under 10 ms).</summary>
    [Benchmark]
    public void MaglevBuild65537x1000() => _maglev65537.UpdateServers(_servers);

    /// <summary>Maglev table build, M = 4093 (the kernel's default), N = 100.</summary>
    [Benchmark]
    public void MaglevBuild4093x100() => _maglev4093.UpdateServers(_servers.AsSpan(0, 100).ToArray());

    /// <summary>mh: add (or remove) one server to 1000, M = 65537.</summary>
    [Benchmark]
    public void MaglevAddServer() => _maglev65537.UpdateServers((_plusOne = !_plusOne) ? _serversPlusOne : _servers);

    /// <summary>sh: add (or remove) one server to 1000, 256 buckets.</summary>
    [Benchmark]
    public void SourceHashingAddServer() => _sourceHashing.UpdateServers((_plusOne = !_plusOne) ? _serversPlusOne : _servers);
}
