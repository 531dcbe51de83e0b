using System.Net;
using System.Net.Sockets;
using Lvs.HealthChecks.Tests.Fixtures;

namespace Lvs.HealthChecks.Tests;

/// <summary>
/// Thousands of checks against real servers leave no socket open behind them (counted in /proc/self/fd). Runs
/// alone: the other tests' sockets would move the count.
/// </summary>
[Collection(nameof(SocketLeakTests))]
[CollectionDefinition(nameof(SocketLeakTests), DisableParallelization = true)]
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
            Assert.All(results, result => Assert.True(result.IsHealthy == expectHealthy, result.Reason));
        }
    }

    [Fact]
    public async Task ThousandsOfChecks_LeaveNoSocketOpen()
    {
        using var tcp = new TcpTestServer();
        // Bound but not listening: connects are refused, and the port stays ours for the whole test.
        using var closedSocket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closedSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var closed = new Lvs.Core.InetEndpoint(Lvs.Core.InetAddress.FromIPv4(127, 0, 0, 1), (ushort)((IPEndPoint)closedSocket.LocalEndPoint!).Port);
        await using var http = await KestrelTestServer.StartAsync();
        var tcpChecker = new TcpChecker(new CheckConnectionOptions(tcp.Endpoint));
        var refusedChecker = new TcpChecker(new CheckConnectionOptions(closed));
        using var httpChecker = new HttpGetChecker(new CheckConnectionOptions(http.Endpoint), new HttpGetCheckOptions { Urls = [new("/")] });
        // UDP port 1 on loopback: closed, and below the ephemeral range, so a checker's own source port can never
        // equal it (a UDP socket connected to itself would read its own datagram back).
        var udpChecker = new UdpChecker(new CheckConnectionOptions(Lvs.Core.InetEndpoint.Parse("127.0.0.1:1")), new UdpCheckOptions());

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
