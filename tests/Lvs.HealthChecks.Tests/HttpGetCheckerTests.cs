using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Lvs.HealthChecks.Tests.Fixtures;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace Lvs.HealthChecks.Tests;

public sealed class HttpGetCheckerTests
{
    private const string Body = "<html>healthy</html>";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Md5Hex(string text) =>
#pragma warning disable CA5351 // genhash's digest is MD5.
        Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(text)));
#pragma warning restore CA5351

    private static HttpGetChecker Checker(Lvs.Core.InetEndpoint endpoint, HttpUrlCheck url, Func<HttpGetCheckOptions, HttpGetCheckOptions>? configure = null, TimeProvider? clock = null)
    {
        var options = new HttpGetCheckOptions { Urls = [url] };
        return new HttpGetChecker(new CheckConnectionOptions(endpoint) { ConnectTimeout = TimeSpan.FromSeconds(10) }, configure?.Invoke(options) ?? options, clock);
    }

    [Fact]
    public async Task Check_StatusAndDigestMatch_IsHealthy()
    {
        await using var server = await KestrelTestServer.StartAsync();
        server.Handler = context => context.Response.WriteAsync(Body);
        using var checker = Checker(server.Endpoint, new HttpUrlCheck("/health") { Digest = Md5Hex(Body), StatusCodes = [HttpStatusCodeRange.Exactly(200)] });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
    }

    [Fact]
    public async Task Check_WrongStatusCode_IsUnhealthy()
    {
        await using var server = await KestrelTestServer.StartAsync();
        server.Handler = context =>
        {
            context.Response.StatusCode = 503;
            return Task.CompletedTask;
        };
        using var checker = Checker(server.Endpoint, new HttpUrlCheck("/health"));

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.False(result.IsHealthy);
        Assert.Contains("status 503", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_StatusOutsideConfiguredCodes_IsUnhealthy()
    {
        await using var server = await KestrelTestServer.StartAsync();
        using var checker = Checker(server.Endpoint, new HttpUrlCheck("/health") { StatusCodes = [HttpStatusCodeRange.Parse("201-204")] });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.False(result.IsHealthy);
        Assert.Contains("status 200", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_WrongDigest_IsUnhealthy()
    {
        await using var server = await KestrelTestServer.StartAsync();
        server.Handler = context => context.Response.WriteAsync(Body + " changed");
        using var checker = Checker(server.Endpoint, new HttpUrlCheck("/health") { Digest = Md5Hex(Body) });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.False(result.IsHealthy);
        Assert.Contains($"digest {Md5Hex(Body + " changed")}", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_DigestOfLargeBody_IsOfTheWholeBody()
    {
        string large = new('x', 3 << 20);
        await using var server = await KestrelTestServer.StartAsync();
        server.Handler = context => context.Response.WriteAsync(large);
        using var checker = Checker(server.Endpoint, new HttpUrlCheck("/") { Digest = Md5Hex(large).ToUpperInvariant() });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
    }

    [Theory]
    [InlineData("heal+thy", false, true)]
    [InlineData("sick", false, false)]
    [InlineData("sick", true, true)]
    [InlineData("healthy", true, false)]
    public async Task Check_Regex_MatchesBody(string pattern, bool noMatch, bool healthy)
    {
        await using var server = await KestrelTestServer.StartAsync();
        server.Handler = context => context.Response.WriteAsync(Body);
        using var checker = Checker(server.Endpoint, new HttpUrlCheck("/") { Regex = pattern, RegexNoMatch = noMatch });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.Equal(healthy, result.IsHealthy);
    }

    [Fact]
    public async Task Check_SeveralUrls_AllMustPass()
    {
        await using var server = await KestrelTestServer.StartAsync();
        server.Handler = context =>
        {
            context.Response.StatusCode = context.Request.Path == "/bad" ? 500 : 200;
            return Task.CompletedTask;
        };
        using var good = Checker(server.Endpoint, new HttpUrlCheck("/good"));
        using var mixed = new HttpGetChecker(new CheckConnectionOptions(server.Endpoint), new HttpGetCheckOptions { Urls = [new("/good"), new("/bad")] });

        Assert.True((await good.CheckAsync(Ct)).IsHealthy);
        CheckResult result = await mixed.CheckAsync(Ct);
        Assert.False(result.IsHealthy);
        Assert.StartsWith("/bad", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_VirtualHost_IsSentAsHostHeader()
    {
        await using var server = await KestrelTestServer.StartAsync();
        using var checker = Checker(server.Endpoint, new HttpUrlCheck("/"), options => options with { VirtualHost = "www.example.org" });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
        Assert.Equal("www.example.org", server.LastHost);
    }

    [Fact]
    public async Task Check_HttpProtocol10_IsSent()
    {
        await using var server = await KestrelTestServer.StartAsync();
        using var checker = Checker(server.Endpoint, new HttpUrlCheck("/"), options => options with { HttpVersion = HttpVersion.Version10 });

        Assert.True((await checker.CheckAsync(Ct)).IsHealthy);
        Assert.Equal("HTTP/1.0", server.LastProtocol);
    }

    [Fact]
    public async Task Check_ConnectPortOverride_ChecksThatPort()
    {
        await using var server = await KestrelTestServer.StartAsync();
        var connection = new CheckConnectionOptions(new Lvs.Core.InetEndpoint(Lvs.Core.InetAddress.FromIPv4(127, 0, 0, 1), 1)) { ConnectPort = (ushort)server.Port };
        using var checker = new HttpGetChecker(connection, new HttpGetCheckOptions { Urls = [new("/")] });

        Assert.True((await checker.CheckAsync(Ct)).IsHealthy);
        Assert.Equal(1, server.Requests);
    }

    [Fact]
    public async Task Check_BindTo_ConnectsFromThatAddress()
    {
        await using var server = await KestrelTestServer.StartAsync();
        var connection = new CheckConnectionOptions(server.Endpoint) { BindTo = Lvs.Core.InetAddress.FromIPv4(127, 0, 0, 3) };
        using var checker = new HttpGetChecker(connection, new HttpGetCheckOptions { Urls = [new("/")] });

        Assert.True((await checker.CheckAsync(Ct)).IsHealthy);
        Assert.Equal(IPAddress.Parse("127.0.0.3"), server.LastRemoteAddress);
    }

    [Fact]
    public async Task Check_IPv6Target_Works()
    {
        using var listener = new TcpListener(IPAddress.IPv6Loopback, 0);
        listener.Start();
        var endpoint = new Lvs.Core.InetEndpoint(Lvs.Core.InetAddress.Parse("::1"), (ushort)((IPEndPoint)listener.LocalEndpoint).Port);
        using var checker = new HttpGetChecker(new CheckConnectionOptions(endpoint), new HttpGetCheckOptions { Urls = [new("/x")] });

        Task<CheckResult> check = checker.CheckAsync(Ct).AsTask();
        using Socket accepted = await listener.AcceptSocketAsync(Ct);
        byte[] request = new byte[4096];
        int read = await accepted.ReceiveAsync(request, SocketFlags.None, Ct);
        Assert.Contains("Host: [::1]:", Encoding.ASCII.GetString(request, 0, read), StringComparison.Ordinal);
        await accepted.SendAsync("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"u8.ToArray(), SocketFlags.None, Ct);

        CheckResult result = await check.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.True(result.IsHealthy, result.Reason);
    }

    [Fact]
    public async Task Check_ServerDown_IsUnhealthy()
    {
        // Port 1 on loopback: closed, and below the ephemeral range, so no other test can have taken it.
        using var checker = Checker(Lvs.Core.InetEndpoint.Parse("127.0.0.1:1"), new HttpUrlCheck("/"));

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.False(result.IsHealthy);
        Assert.Contains("ConnectionRefused", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_ServerAcceptsButNeverAnswers_TimesOutOnTheClock()
    {
        // A server that accepts and reads the request but never writes a byte.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var clock = new FakeTimeProvider(FakeClock.Epoch);
        var endpoint = new Lvs.Core.InetEndpoint(Lvs.Core.InetAddress.FromIPv4(127, 0, 0, 1), (ushort)((IPEndPoint)listener.LocalEndpoint).Port);
        using var checker = new HttpGetChecker(new CheckConnectionOptions(endpoint) { ConnectTimeout = TimeSpan.FromSeconds(3) }, new HttpGetCheckOptions { Urls = [new("/")] }, clock);

        Task<CheckResult> check = checker.CheckAsync(Ct).AsTask();
        using Socket accepted = await listener.AcceptSocketAsync(Ct);
        byte[] request = new byte[4096];
        int read = await accepted.ReceiveAsync(request, SocketFlags.None, Ct);
        Assert.StartsWith("GET / HTTP/1.0", Encoding.ASCII.GetString(request, 0, read), StringComparison.Ordinal);
        Assert.False(check.IsCompleted);

        clock.Advance(TimeSpan.FromSeconds(2.9));
        await Task.Delay(50, Ct);
        Assert.False(check.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(0.2));
        CheckResult result = await check.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.False(result.IsHealthy);
        Assert.Contains("timed out after 3s", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_Https_WithoutVerification_AcceptsSelfSignedCertificate()
    {
        await using var server = await KestrelTestServer.StartAsync(https: true);
        using var checker = Checker(server.Endpoint, new HttpUrlCheck("/"), options => options with { UseTls = true });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
        Assert.True(string.IsNullOrEmpty(server.LastServerName), "no SNI without enable_sni");
    }

    [Fact]
    public async Task Check_HttpsWithSni_SendsVirtualHostAsServerName()
    {
        await using var server = await KestrelTestServer.StartAsync(https: true);
        using var checker = Checker(server.Endpoint, new HttpUrlCheck("/"), options => options with { UseTls = true, EnableSni = true, VirtualHost = "real.example" });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
        Assert.Equal("real.example", server.LastServerName);
        Assert.Equal("real.example", server.LastHost);
    }

    [Fact]
    public async Task Check_HttpsWithVerification_RejectsUntrustedCertificate()
    {
        await using var server = await KestrelTestServer.StartAsync(https: true);
        using var checker = Checker(server.Endpoint, new HttpUrlCheck("/"), options => options with { UseTls = true, EnableSni = true, VirtualHost = "real.example", VerifyCertificate = true });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.False(result.IsHealthy);
        Assert.Contains("TLS", result.Reason, StringComparison.Ordinal);
        Assert.Equal(0, server.Requests);
    }

    [Fact]
    public async Task Check_HttpToHttpsServer_IsUnhealthy()
    {
        await using var server = await KestrelTestServer.StartAsync(https: true);
        using var checker = Checker(server.Endpoint, new HttpUrlCheck("/"));

        Assert.False((await checker.CheckAsync(Ct)).IsHealthy);
    }

    [Fact]
    public void Constructor_BadDigest_Throws()
    {
        var endpoint = new Lvs.Core.InetEndpoint(Lvs.Core.InetAddress.FromIPv4(127, 0, 0, 1), 80);
        Assert.Throws<ArgumentException>(() => Checker(endpoint, new HttpUrlCheck("/") { Digest = "xyz" }));
        Assert.Throws<ArgumentException>(() => Checker(endpoint, new HttpUrlCheck("health")));
    }

    [Fact]
    public async Task Check_NoDigestNoRegex_BodyShorterThanPromisedAndStalled_FailsWithReadTimeout()
    {
        // keepalived's HTTP_GET reads the response to its end even without digest or regex: a server that promises
        // 100 bytes, sends 10 and stalls fails at connect_timeout.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var clock = new FakeTimeProvider(FakeClock.Epoch);
        var endpoint = new Lvs.Core.InetEndpoint(Lvs.Core.InetAddress.FromIPv4(127, 0, 0, 1), (ushort)((IPEndPoint)listener.LocalEndpoint).Port);
        using var checker = new HttpGetChecker(new CheckConnectionOptions(endpoint) { ConnectTimeout = TimeSpan.FromSeconds(3) }, new HttpGetCheckOptions { Urls = [new("/")] }, clock);

        Task<CheckResult> check = checker.CheckAsync(Ct).AsTask();
        using Socket accepted = await listener.AcceptSocketAsync(Ct);
        byte[] request = new byte[4096];
        _ = await accepted.ReceiveAsync(request, SocketFlags.None, Ct);
        await accepted.SendAsync("HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"u8.ToArray(), SocketFlags.None, Ct);
        await Task.Delay(200, Ct);
        Assert.False(check.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(3));
        CheckResult result = await check.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.False(result.IsHealthy);
        Assert.Contains("timed out after 3s", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_NoDigestNoRegex_WholeBodyArrives_IsHealthy()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var endpoint = new Lvs.Core.InetEndpoint(Lvs.Core.InetAddress.FromIPv4(127, 0, 0, 1), (ushort)((IPEndPoint)listener.LocalEndpoint).Port);
        using var checker = new HttpGetChecker(new CheckConnectionOptions(endpoint) { ConnectTimeout = TimeSpan.FromSeconds(10) }, new HttpGetCheckOptions { Urls = [new("/")] });

        Task<CheckResult> check = checker.CheckAsync(Ct).AsTask();
        using Socket accepted = await listener.AcceptSocketAsync(Ct);
        byte[] request = new byte[4096];
        _ = await accepted.ReceiveAsync(request, SocketFlags.None, Ct);
        await accepted.SendAsync("HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\n0123"u8.ToArray(), SocketFlags.None, Ct);
        await Task.Delay(100, Ct);
        await accepted.SendAsync("456789"u8.ToArray(), SocketFlags.None, Ct);
        CheckResult result = await check.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.True(result.IsHealthy, result.Reason);
    }
}
