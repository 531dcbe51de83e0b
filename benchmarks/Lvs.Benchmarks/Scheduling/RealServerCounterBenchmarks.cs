using BenchmarkDotNet.Attributes;
using Lvs.Core;

namespace Lvs.Benchmarks.Scheduling;

/// <summary>
/// The cost the connection table pays per connection on a real server's counters: one connection bound and unbound
/// (<c>ip_vs_bind_dest</c> / <c>ip_vs_unbind_dest</c>), and one change between active and inactive. The server is one
/// of 1000 given to a wlc scheduler, so its counters live where the least-load scans read them.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class RealServerCounterBenchmarks
{
    private RealServer _server = null!;

    [GlobalSetup]
    public void Setup()
    {
        var servers = new RealServer[1000];
        for (int i = 0; i < servers.Length; i++)
        {
            servers[i] = new RealServer(new InetEndpoint(InetAddress.FromIPv4(10, 1, (byte)(i >> 8), (byte)i), 80), 1 + (i % 4));
        }

        new Lvs.Scheduling.WeightedLeastConnectionScheduler().UpdateServers(servers);
        _server = servers[500];
        _server.AddConnection(active: true);
    }

    /// <summary>One connection added and removed (two interlocked operations and two overload checks).</summary>
    [Benchmark]
    public int AddAndRemoveConnection()
    {
        _server.AddConnection(active: true);
        _server.RemoveConnection(active: true);
        return _server.ActiveConnections;
    }

    /// <summary>One connection becoming inactive and active again (four interlocked operations).</summary>
    [Benchmark]
    public int ChangeConnectionActivityTwice()
    {
        _server.ChangeConnectionActivity(nowActive: false);
        _server.ChangeConnectionActivity(nowActive: true);
        return _server.ActiveConnections;
    }
}
