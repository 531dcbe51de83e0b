using System.Net;
using Lvs.Core;
using Lvs.HealthChecks.Tests.Fixtures;

namespace Lvs.HealthChecks.Tests;

/// <summary>Issue 17, "Defaults and details that differ from keepalived": each default is keepalived 2.x's.</summary>
public sealed class KeepalivedDefaultsTests
{
    private static readonly InetEndpoint Target = InetEndpoint.Parse("127.0.0.1:80");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Default_Warmup_IsDelayLoopAndFollowsIt()
    {
        // check_api.c: a checker's warmup, unless set, is its delay_loop.
        Assert.Equal(TimeSpan.FromSeconds(60), new CheckTiming().Warmup);
        Assert.Equal(TimeSpan.FromSeconds(5), (new CheckTiming() with { DelayLoop = TimeSpan.FromSeconds(5) }).Warmup);
        Assert.Equal(TimeSpan.Zero, new CheckTiming { Warmup = TimeSpan.Zero, DelayLoop = TimeSpan.FromSeconds(5) }.Warmup);
    }

    [Fact]
    public async Task Default_Warmup_FirstCheckAtARandomDelayUpToDelayLoop()
    {
        var clock = FakeClock.Create();
        var checker = new ScriptedChecker(clock, _ => CheckResult.Healthy("ok"));
        var delayLoop = TimeSpan.FromSeconds(10);
        await using var monitor = new HealthMonitor(new RecordingSink(), new HealthMonitorOptions { TimeProvider = clock, Random = new Random(42) });
        monitor.AddRealServer(monitor.AddVirtualService(new(VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.1:80")))), new(InetEndpoint.Parse("10.0.1.1:80"))
        {
            Checks = [new(checker, new CheckTiming { DelayLoop = delayLoop })],
        });
        var expected = TimeSpan.FromTicks((long)(delayLoop.Ticks * new Random(42).NextDouble()));

        monitor.Start();
        Assert.Empty(checker.Runs);
        clock.Advance(expected);

        Assert.Equal(FakeClock.Epoch + expected, Assert.Single(checker.Runs).Time);
    }

    [Fact]
    public void Default_HttpGetAndSslGet_DelayBeforeRetryIs3Seconds()
    {
        using var http = new HttpGetChecker(new CheckConnectionOptions(Target), new HttpGetCheckOptions { Urls = [new("/")] });
        using var https = new HttpGetChecker(new CheckConnectionOptions(Target), new HttpGetCheckOptions { Urls = [new("/")], UseTls = true });

        Assert.Equal((1, TimeSpan.FromSeconds(3)), (CheckTiming.For(http).Retry, CheckTiming.For(http).DelayBeforeRetry));
        Assert.Equal(TimeSpan.FromSeconds(3), CheckTiming.For(https).DelayBeforeRetry);
        Assert.Equal(TimeSpan.FromSeconds(3), new RealServerCheck(http).Timing.DelayBeforeRetry);
    }

    [Fact]
    public void Default_MiscCheck_RetryIs0()
    {
        var misc = new MiscChecker(new MiscCheckOptions { Path = "true" });

        Assert.Equal((0, TimeSpan.FromSeconds(1)), (CheckTiming.For(misc).Retry, CheckTiming.For(misc).DelayBeforeRetry));
        Assert.Equal(0, new RealServerCheck(misc).Timing.Retry);
    }

    [Fact]
    public void Default_DnsCheck_Retry3AndDelayBeforeRetryIsDelayLoop()
    {
        var dns = new DnsChecker(new CheckConnectionOptions(Target), new DnsCheckOptions());
        CheckTiming timing = CheckTiming.For(dns);

        Assert.Equal((3, TimeSpan.FromSeconds(60)), (timing.Retry, timing.DelayBeforeRetry));
        Assert.Equal(TimeSpan.FromSeconds(7), (timing with { DelayLoop = TimeSpan.FromSeconds(7) }).DelayBeforeRetry);
        Assert.Equal(TimeSpan.FromSeconds(2), (timing with { DelayBeforeRetry = TimeSpan.FromSeconds(2) }).DelayBeforeRetry);
    }

    [Fact]
    public void Default_TcpUdpAndSmtpCheck_Retry1DelayBeforeRetry1Second()
    {
        // check_api.c queue_checker: default_retry 1, default_delay_before_retry 1 s; check_smtp.c keeps them.
        CheckTiming tcp = CheckTiming.For(new TcpChecker(new CheckConnectionOptions(Target)));
        CheckTiming udp = CheckTiming.For(new UdpChecker(new CheckConnectionOptions(Target), new UdpCheckOptions()));
        CheckTiming smtp = CheckTiming.For(new SmtpChecker(new CheckConnectionOptions(Target), new SmtpCheckOptions()));

        Assert.Equal((1, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60)), (tcp.Retry, tcp.DelayBeforeRetry, tcp.DelayLoop));
        Assert.Equal(tcp, udp);
        Assert.Equal(tcp, smtp);
    }

    [Fact]
    public async Task Default_HttpRequest_IsHttp10WithKeepAliveClientUserAgent()
    {
        await using var server = await KestrelTestServer.StartAsync();
        using var checker = new HttpGetChecker(new CheckConnectionOptions(server.Endpoint), new HttpGetCheckOptions { Urls = [new("/")] });

        Assert.True((await checker.CheckAsync(Ct)).IsHealthy);
        Assert.Equal(("HTTP/1.0", "KeepAliveClient"), (server.LastProtocol, server.LastUserAgent));
    }

    [Fact]
    public async Task HttpVersion11_StaysAnOption()
    {
        await using var server = await KestrelTestServer.StartAsync();
        using var checker = new HttpGetChecker(new CheckConnectionOptions(server.Endpoint), new HttpGetCheckOptions { Urls = [new("/")], HttpVersion = HttpVersion.Version11 });

        Assert.True((await checker.CheckAsync(Ct)).IsHealthy);
        Assert.Equal(("HTTP/1.1", "KeepAliveClient"), (server.LastProtocol, server.LastUserAgent));
        Assert.Throws<ArgumentException>(() => new HttpGetCheckOptions { Urls = [], HttpVersion = HttpVersion.Version20 });
    }

    [Theory]
    [InlineData(255, true)]
    [InlineData(256, false)]
    public async Task Default_UdpMaxReplyLength_Is255(int replyLength, bool healthy)
    {
        Assert.Equal(255, new UdpCheckOptions().MaxReplyLength);
        using var server = new UdpCheckerTests.UdpTestServer(new byte[replyLength]);
        var checker = new UdpChecker(new CheckConnectionOptions(server.Endpoint), new UdpCheckOptions { RequireReply = true });

        Assert.Equal(healthy, (await checker.CheckAsync(Ct)).IsHealthy);
    }

    [Theory]
    [InlineData("PONG", true)]
    [InlineData("PO", true)]
    [InlineData("PONG and more", true)]
    [InlineData("PXNG", false)]
    [InlineData("PX", false)]
    public async Task UdpExpectedReply_IsComparedOverTheShorterLength(string reply, bool healthy)
    {
        // check_udp.c check_udp_reply: only the lesser of the reply's and the expected data's lengths is compared.
        using var server = new UdpCheckerTests.UdpTestServer(System.Text.Encoding.ASCII.GetBytes(reply));
        var checker = new UdpChecker(new CheckConnectionOptions(server.Endpoint), new UdpCheckOptions { RequireReply = true, ExpectedReply = "PONG"u8.ToArray() });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.Equal(healthy, result.IsHealthy);
    }

    [Fact]
    public async Task UdpWithoutPayload_Sends32FillerBytes()
    {
        using var server = new UdpCheckerTests.UdpTestServer("ok"u8.ToArray());
        var checker = new UdpChecker(new CheckConnectionOptions(server.Endpoint), new UdpCheckOptions { RequireReply = true });

        Assert.True((await checker.CheckAsync(Ct)).IsHealthy);
        Assert.Equal(32, server.LastRequestLength);
    }

    [Fact]
    public void HttpStatusCodes_AreLimitedTo100To599_InParseConstructorsAndExactly()
    {
        Assert.Throws<FormatException>(() => HttpStatusCodeRange.Parse("600"));
        Assert.Throws<FormatException>(() => HttpStatusCodeRange.Parse("200-999"));
        Assert.Throws<FormatException>(() => HttpStatusCodeRange.Parse("99"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HttpStatusCodeRange(99, 200));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HttpStatusCodeRange(200, 600));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HttpStatusCodeRange(300, 200));
        Assert.Throws<ArgumentOutOfRangeException>(() => HttpStatusCodeRange.Exactly(600));
        Assert.Throws<ArgumentOutOfRangeException>(() => HttpStatusCodeRange.Exactly(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => HttpStatusCodeRange.Success with { Last = 700 });
        Assert.Equal(new HttpStatusCodeRange(100, 599), HttpStatusCodeRange.Parse("100-599"));
        // default(HttpStatusCodeRange) escapes the constructor: the checker rejects it.
        Assert.Throws<ArgumentException>(() => new HttpGetChecker(new CheckConnectionOptions(Target), new HttpGetCheckOptions { Urls = [new("/") { StatusCodes = [default] }] }));
    }

    [Theory]
    [InlineData(204, true)]
    [InlineData(302, false)]
    [InlineData(500, false)]
    public async Task HttpStatusCodes_EmptyList_Means200To299(int status, bool healthy)
    {
        await using var server = await KestrelTestServer.StartAsync();
        server.Handler = context =>
        {
            context.Response.StatusCode = status;
            return Task.CompletedTask;
        };
        using var checker = new HttpGetChecker(new CheckConnectionOptions(server.Endpoint), new HttpGetCheckOptions { Urls = [new("/") { StatusCodes = [] }] });

        Assert.Equal(healthy, (await checker.CheckAsync(Ct)).IsHealthy);
    }
}
