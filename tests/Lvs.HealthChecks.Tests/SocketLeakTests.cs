using Lvs.HealthChecks.Tests.Fixtures;

namespace Lvs.HealthChecks.Tests;

/// <summary>Thousands of checks against real servers leave no socket open behind them (counted in /proc/self/fd).</summary>
public sealed class SocketLeakTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static int OpenSockets() =>
        Directory.GetFiles("/proc/self/fd").Count(fd =>
        {
            try
            {
                return new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true;
            }
            catch (IOException)
            {
                return false; // The descriptor closed while listing.
            }
        });

    private static async Task RunAsync(IHealthChecker checker, int count, bool expectHealthy)
    {
        for (int done = 0; done < count; done += 50)
        {
            CheckResult[] results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => checker.CheckAsync(Ct).AsTask()));
            Assert.All(results, result => Assert.Equal(expectHealthy, result.IsHealthy));
        }
    }

    [Fact]
    public async Task ThousandsOfChecks_LeaveNoSocketOpen()
    {
        using var tcp = new TcpTestServer();
        using var closed = new TcpTestServer();
        closed.Stop();
        await using var http = await KestrelTestServer.StartAsync();
        var tcpChecker = new TcpChecker(new CheckConnectionOptions(tcp.Endpoint));
        var refusedChecker = new TcpChecker(new CheckConnectionOptions(closed.Endpoint));
        using var httpChecker = new HttpGetChecker(new CheckConnectionOptions(http.Endpoint), new HttpGetCheckOptions { Urls = [new("/")] });
        var udpChecker = new UdpChecker(new CheckConnectionOptions(closed.Endpoint), new UdpCheckOptions());

        // Warm up: first use creates the runtime's own descriptors (epoll, the HTTP handler's).
        await RunAsync(tcpChecker, 50, true);
        await RunAsync(httpChecker, 50, true);
        await RunAsync(udpChecker, 50, false);
        await TcpCheckerTests.WaitForAsync(() => tcp.Accepted == 50);
        int before = OpenSockets();

        await RunAsync(tcpChecker, 2000, true);
        await RunAsync(refusedChecker, 1000, false);
        await RunAsync(httpChecker, 1000, true);
        await RunAsync(udpChecker, 1000, false);
        await TcpCheckerTests.WaitForAsync(() => tcp.Accepted == 2050);
        // Kestrel closes its side of each connection on its own schedule: wait for the count to settle.
        await TcpCheckerTests.WaitForAsync(() => OpenSockets() <= before);

        Assert.InRange(OpenSockets(), 0, before);
    }
}
