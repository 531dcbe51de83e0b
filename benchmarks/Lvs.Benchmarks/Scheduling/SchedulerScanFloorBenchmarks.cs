using BenchmarkDotNet.Attributes;
using Lvs.Core;

namespace Lvs.Benchmarks.Scheduling;

/// <summary>
/// The floor of every scanning scheduler (lc, wlc, sed, nq, ovf, and the kernel's own loops): reading the live
/// overhead of 1000 real servers once, with no comparison. Measured next to the picks so that the noise of the shared
/// machine shows in both.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class SchedulerScanFloorBenchmarks
{
    private RealServer[] _servers = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        _servers = new RealServer[1000];
        for (int i = 0; i < _servers.Length; i++)
        {
            var server = new RealServer(new InetEndpoint(InetAddress.FromIPv4(10, 1, (byte)(i >> 8), (byte)i), 80), 1 + (i % 4));
            for (int c = random.Next(50, 200); c > 0; c--)
            {
                server.AddConnection(active: true);
            }

            _servers[i] = server;
        }
    }

    /// <summary>Sum of the overheads of 1000 servers.</summary>
    [Benchmark]
    public long ReadOverheadOf1000Servers()
    {
        long sum = 0;
        foreach (var server in _servers)
        {
            sum += server.Overhead;
        }

        return sum;
    }
}
