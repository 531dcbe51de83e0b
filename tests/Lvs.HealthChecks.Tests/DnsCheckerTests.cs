using Lvs.HealthChecks.Tests.Fixtures;

namespace Lvs.HealthChecks.Tests;

public sealed class DnsCheckerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DnsChecker Checker(DnsTestServer server, TimeProvider? clock = null, bool requireAnswer = false) =>
        new(new CheckConnectionOptions(server.Endpoint) { ConnectTimeout = TimeSpan.FromSeconds(2) }, new DnsCheckOptions { Name = "www.example.org", Type = "A", RequireAnswer = requireAnswer }, clock);

    [Fact]
    public async Task Check_Answer_IsHealthy()
    {
        using var server = new DnsTestServer();

        CheckResult result = await Checker(server).CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
        Assert.Equal("www.example.org", server.LastQuestion);
        Assert.Equal(1, server.LastType);
    }

    [Theory]
    [InlineData(DnsTestServer.Mode.NoAnswer, false, true)]
    [InlineData(DnsTestServer.Mode.NoAnswer, true, false)]
    [InlineData(DnsTestServer.Mode.NameError, false, false)]
    [InlineData(DnsTestServer.Mode.Answer, true, true)]
    public async Task Check_ResponseCodeAndAnswers_AsKeepalived(DnsTestServer.Mode mode, bool requireAnswer, bool healthy)
    {
        using var server = new DnsTestServer { Behaviour = mode };

        CheckResult result = await Checker(server, requireAnswer: requireAnswer).CheckAsync(Ct);

        Assert.Equal(healthy, result.IsHealthy);
    }

    [Fact]
    public async Task Check_ServerSilent_TimesOutOnTheClock()
    {
        using var server = new DnsTestServer { Behaviour = DnsTestServer.Mode.Silent };
        var clock = FakeClock.Create();

        Task<CheckResult> check = Checker(server, clock).CheckAsync(Ct).AsTask();
        await TcpCheckerTests.WaitForAsync(() => server.Queries == 1);
        Assert.False(check.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(2));
        CheckResult result = await check.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(CheckResult.Unhealthy("no DNS answer within 2s"), result);
    }

    [Fact]
    public void Defaults_AreKeepalivedsRootSoa()
    {
        var options = new DnsCheckOptions();

        Assert.Equal((".", "SOA"), (options.Name, options.Type));
    }

    [Fact]
    public void Constructor_BadTypeOrName_Throws()
    {
        var connection = new CheckConnectionOptions(Lvs.Core.InetEndpoint.Parse("127.0.0.1:53"));
        Assert.Throws<ArgumentException>(() => new DnsChecker(connection, new DnsCheckOptions { Type = "BOGUS" }));
        Assert.Throws<ArgumentException>(() => new DnsChecker(connection, new DnsCheckOptions { Name = "www..example.org" }));
        Assert.Throws<ArgumentException>(() => new DnsChecker(connection, new DnsCheckOptions { Name = new string('a', 64) + ".org" }));
    }

    [Fact]
    public async Task Check_BindTo_QueriesFromThatAddress()
    {
        // keepalived's bindto works for DNS_CHECK too (it was rejected while the query went through DnsClient).
        using var server = new DnsTestServer();
        var checker = new DnsChecker(new CheckConnectionOptions(server.Endpoint) { BindTo = Lvs.Core.InetAddress.FromIPv4(127, 0, 0, 2) }, new DnsCheckOptions { Name = "www.example.org", Type = "A" });

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
        Assert.Equal(System.Net.IPAddress.Parse("127.0.0.2"), server.LastRemoteAddress);
    }

    [Fact]
    public async Task Check_RootSoaDefaults_SendKeepalivedsQuestion()
    {
        using var server = new DnsTestServer();
        var checker = new DnsChecker(new CheckConnectionOptions(server.Endpoint), new DnsCheckOptions());

        Assert.True((await checker.CheckAsync(Ct)).IsHealthy);
        Assert.Equal(string.Empty, server.LastQuestion);
        Assert.Equal(6, server.LastType);
    }

    [Fact]
    public async Task Check_ReplyWithForeignTransactionId_IsSkippedAndTheRightReplyCounts()
    {
        using var server = new DnsTestServer { Behaviour = DnsTestServer.Mode.ForeignIdThenAnswer };

        CheckResult result = await Checker(server).CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
    }

    [Fact]
    public async Task Check_OnlyForeignTransactionIds_TimesOutWithoutThrowing()
    {
        using var server = new DnsTestServer { Behaviour = DnsTestServer.Mode.ForeignIdOnly };
        var clock = FakeClock.Create();

        Task<CheckResult> check = Checker(server, clock).CheckAsync(Ct).AsTask();
        await TcpCheckerTests.WaitForAsync(() => server.Queries == 1);
        await Task.Delay(100, Ct);
        Assert.False(check.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(2));
        CheckResult result = await check.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(CheckResult.Unhealthy("no DNS answer within 2s"), result);
    }

    [Fact]
    public async Task Check_DeadPort_FailsAtOnceFromIcmpNotAtTheTimeout()
    {
        // Port 1 on loopback: closed. The fake clock never moves: only the ICMP port unreachable can end the check.
        var clock = FakeClock.Create();
        var checker = new DnsChecker(new CheckConnectionOptions(Lvs.Core.InetEndpoint.Parse("127.0.0.1:1")) { ConnectTimeout = TimeSpan.FromSeconds(5) }, new DnsCheckOptions(), clock);

        CheckResult result = await checker.CheckAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(2), Ct);

        Assert.Equal(CheckResult.Unhealthy("port unreachable"), result);
    }
}
