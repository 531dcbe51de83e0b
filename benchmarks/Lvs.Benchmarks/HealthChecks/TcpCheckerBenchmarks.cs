using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Lvs.Core;
using Lvs.HealthChecks;

namespace Lvs.Benchmarks.HealthChecks;

/// <summary>The cost of one TCP_CHECK against a loopback listener (connect and close), and of the rule that counts its result.</summary>
[MemoryDiagnoser]
[MedianColumn]
public class TcpCheckerBenchmarks
{
    private TcpListener _listener = null!;
    private TcpChecker _checker = null!;
    private CheckStateMachine _machine = null!;
    private bool _healthy;

    [GlobalSetup]
    public void Setup()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(4096);
        _ = HealthCheckCpuLoad.AcceptAsync(_listener);
        var endpoint = new InetEndpoint(InetAddress.FromIPv4(127, 0, 0, 1), (ushort)((IPEndPoint)_listener.LocalEndpoint).Port);
        _checker = new TcpChecker(new CheckConnectionOptions(endpoint));
        _machine = new CheckStateMachine(new CheckTiming { Retry = 1 });
    }

    [GlobalCleanup]
    public void Cleanup() => _listener.Stop();

    [Benchmark]
    public async Task<bool> TcpConnectCheck() => (await _checker.CheckAsync(CancellationToken.None).ConfigureAwait(false)).IsHealthy;

    [Benchmark]
    public TimeSpan ApplyResult()
    {
        _healthy = !_healthy;
        _machine.Apply(_healthy, out TimeSpan next);
        return next;
    }
}
