using System.Net;
using Lvs.Core;
using Lvs.HealthChecks.Tests.Fixtures;

namespace Lvs.HealthChecks.Tests;

public sealed class TcpCheckerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Check_Listening_IsHealthy()
    {
        using var server = new TcpTestServer();
        var checker = new TcpChecker(new CheckConnectionOptions(server.Endpoint));

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
    }

    [Fact]
    public async Task Check_Stopped_IsUnhealthyWithConnectionRefused()
    {
        using var server = new TcpTestServer();
        server.Stop();
        var checker = new TcpChecker(new CheckConnectionOptions(server.Endpoint));

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.False(result.IsHealthy);
        Assert.Equal("connect failed: ConnectionRefused", result.Reason);
    }

    [Fact]
    public async Task Check_ConnectIpAndPort_OverrideTheRealServer()
    {
        using var server = new TcpTestServer();
        var connection = new CheckConnectionOptions(InetEndpoint.Parse("192.0.2.1:1")) { ConnectIp = InetAddress.FromIPv4(127, 0, 0, 1), ConnectPort = (ushort)server.Port };
        var checker = new TcpChecker(connection);

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
        Assert.Equal(server.Endpoint, connection.Target);
    }

    [Fact]
    public async Task Check_BindTo_ConnectsFromThatAddress()
    {
        using var server = new TcpTestServer();
        // Linux routes all of 127.0.0.0/8 to lo, so 127.0.0.2 is a local address to bind to.
        var checker = new TcpChecker(new CheckConnectionOptions(server.Endpoint) { BindTo = InetAddress.FromIPv4(127, 0, 0, 2) });

        CheckResult result = await checker.CheckAsync(Ct);
        await WaitForAsync(() => server.Accepted == 1);

        Assert.True(result.IsHealthy, result.Reason);
        Assert.Equal(IPAddress.Parse("127.0.0.2"), server.LastRemote!.Address);
    }

    [Fact]
    public async Task Check_BindToOfAnotherFamily_IsUnhealthyNotAnException()
    {
        using var server = new TcpTestServer();
        var checker = new TcpChecker(new CheckConnectionOptions(server.Endpoint) { BindTo = InetAddress.Parse("::1") });

        CheckResult result = await checker.CheckAsync(Ct);

        // The kernel refuses the bind (the socket is IPv4): a result, not an exception escaping the checker.
        Assert.False(result.IsHealthy);
        Assert.StartsWith("connect failed: ", result.Reason, StringComparison.Ordinal);
        Assert.Equal(0, server.Accepted);
    }

    [Fact]
    public void ConnectTimeout_Zero_IsRaisedToOneSecond()
    {
        var connection = new CheckConnectionOptions(InetEndpoint.Parse("127.0.0.1:80")) { ConnectTimeout = TimeSpan.Zero };

        Assert.Equal(TimeSpan.FromSeconds(1), connection.ConnectTimeout);
        Assert.Null(connection.GetLocalEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Any, 4000), (connection with { BindPort = 4000 }).GetLocalEndPoint());
    }

    internal static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 30 s");
            await Task.Delay(1, Ct);
        }
    }
}
