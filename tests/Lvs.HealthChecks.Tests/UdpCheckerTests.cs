using System.Net;
using System.Net.Sockets;
using System.Text;
using Lvs.Core;
using Lvs.HealthChecks.Tests.Fixtures;

namespace Lvs.HealthChecks.Tests;

public sealed class UdpCheckerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A UDP socket on 127.0.0.1 that answers each datagram with a fixed reply (or not at all).</summary>
    internal sealed class UdpTestServer : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

        public UdpTestServer(byte[]? reply)
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            if (reply is not null)
            {
                _ = AnswerAsync(reply);
            }
        }

        public InetEndpoint Endpoint => new(InetAddress.FromIPv4(127, 0, 0, 1), (ushort)((IPEndPoint)_socket.LocalEndPoint!).Port);

        public string? LastRequest { get; private set; }

        public int LastRequestLength { get; private set; }

        public IPAddress? LastRemoteAddress { get; private set; }

        public void Dispose() => _socket.Dispose();

        private async Task AnswerAsync(byte[] reply)
        {
            byte[] buffer = new byte[2048];
            try
            {
                while (true)
                {
                    SocketReceiveFromResult received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0));
                    LastRequest = Encoding.ASCII.GetString(buffer, 0, received.ReceivedBytes);
                    LastRequestLength = received.ReceivedBytes;
                    LastRemoteAddress = ((IPEndPoint)received.RemoteEndPoint).Address;
                    await _socket.SendToAsync(reply, SocketFlags.None, received.RemoteEndPoint);
                }
            }
            catch (ObjectDisposedException)
            {
            }
            catch (SocketException)
            {
            }
        }
    }

    private static UdpChecker Checker(InetEndpoint endpoint, UdpCheckOptions options, TimeProvider? clock = null) =>
        new(new CheckConnectionOptions(endpoint) { ConnectTimeout = TimeSpan.FromSeconds(2) }, options, clock);

    [Fact]
    public async Task Check_ReplyExpectedAndReceived_IsHealthy()
    {
        using var server = new UdpTestServer("PONG v1"u8.ToArray());
        var checker = Checker(server.Endpoint, new UdpCheckOptions { Payload = "PING"u8.ToArray(), RequireReply = true, ExpectedReply = "PONG"u8.ToArray() });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
        Assert.Equal("PING", server.LastRequest);
    }

    [Fact]
    public async Task Check_BindTo_SendsFromThatAddress()
    {
        using var server = new UdpTestServer("PONG"u8.ToArray());
        var connection = new CheckConnectionOptions(server.Endpoint) { BindTo = InetAddress.FromIPv4(127, 0, 0, 4) };
        var checker = new UdpChecker(connection, new UdpCheckOptions { RequireReply = true });

        Assert.True((await checker.CheckAsync(Ct)).IsHealthy);
        Assert.Equal(IPAddress.Parse("127.0.0.4"), server.LastRemoteAddress);
    }

    [Fact]
    public async Task Check_ReplyDoesNotMatch_IsUnhealthy()
    {
        using var server = new UdpTestServer("ERR"u8.ToArray());
        var checker = Checker(server.Endpoint, new UdpCheckOptions { RequireReply = true, ExpectedReply = "PONG"u8.ToArray() });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.Equal(CheckResult.Unhealthy("reply does not match"), result);
    }

    [Fact]
    public async Task Check_ReplyTooLong_IsUnhealthy()
    {
        using var server = new UdpTestServer("abcdef"u8.ToArray());
        var checker = Checker(server.Endpoint, new UdpCheckOptions { RequireReply = true, MaxReplyLength = 5 });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.Equal(CheckResult.Unhealthy("reply of 6 bytes, expected 0 to 5"), result);
    }

    [Fact]
    public async Task Check_ReplyTooShort_IsUnhealthy()
    {
        using var server = new UdpTestServer("ab"u8.ToArray());
        var checker = Checker(server.Endpoint, new UdpCheckOptions { RequireReply = true, MinReplyLength = 3 });

        Assert.False((await checker.CheckAsync(Ct)).IsHealthy);
    }

    [Fact]
    public async Task Check_PortClosed_IsUnhealthyFromIcmp()
    {
        // Port 1: closed, and below the ephemeral range so the checker cannot end up connected to itself.
        var checker = Checker(InetEndpoint.Parse("127.0.0.1:1"), new UdpCheckOptions { Payload = "x"u8.ToArray() });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.Equal(CheckResult.Unhealthy("port unreachable"), result);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task Check_ServerSilent_TimesOutOnTheClock(bool requireReply, bool healthy)
    {
        using var server = new UdpTestServer(null);
        var clock = FakeClock.Create();
        var checker = Checker(server.Endpoint, new UdpCheckOptions { Payload = "x"u8.ToArray(), RequireReply = requireReply }, clock);

        Task<CheckResult> check = checker.CheckAsync(Ct).AsTask();
        await Task.Delay(50, Ct);
        Assert.False(check.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(2));
        CheckResult result = await check.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(healthy, result.IsHealthy);
    }

    [Fact]
    public async Task Check_DeadPort_FailsAtOnceFromIcmpNotAtTheTimeout()
    {
        // The fake clock never moves: only the ICMP port unreachable can end the check.
        var clock = FakeClock.Create();
        var checker = Checker(InetEndpoint.Parse("127.0.0.1:1"), new UdpCheckOptions { RequireReply = true }, clock);

        CheckResult result = await checker.CheckAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(2), Ct);

        Assert.Equal(CheckResult.Unhealthy("port unreachable"), result);
    }
}
