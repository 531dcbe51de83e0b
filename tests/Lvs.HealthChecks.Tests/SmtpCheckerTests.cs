using Lvs.Core;
using Lvs.HealthChecks.Tests.Fixtures;

namespace Lvs.HealthChecks.Tests;

public sealed class SmtpCheckerTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static SmtpChecker Checker(SmtpTestServer server, TimeProvider? clock = null, string? heloName = null) =>
        new(
            new CheckConnectionOptions(server.Endpoint) { ConnectTimeout = Timeout },
            heloName is null ? new SmtpCheckOptions() : new SmtpCheckOptions { HeloName = heloName },
            clock);

    [Fact]
    public async Task Check_Healthy_SendsHeloWithKeepalivedsDefaultNameThenQuitAndCloses()
    {
        using var server = new SmtpTestServer();

        CheckResult result = await Checker(server).CheckAsync(Ct);
        await TcpCheckerTests.WaitForAsync(() => server.Finished == 1);

        Assert.Equal(CheckResult.Healthy("HELO accepted"), result);
        Assert.Equal(["HELO smtpchecker.keepalived.org\r\n", "QUIT\r\n"], server.Received);
    }

    [Fact]
    public async Task Check_HeloName_IsTheNameSent()
    {
        using var server = new SmtpTestServer();

        CheckResult result = await Checker(server, heloName: "lvs1.example.net").CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
        Assert.Equal("HELO lvs1.example.net\r\n", server.Received[0]);
    }

    [Theory]
    [InlineData("554 5.3.2 no service\r\n", "greeting: reply '554 5.3.2 no service', expected 220")]
    [InlineData("250 mail.example.org\r\n", "greeting: reply '250 mail.example.org', expected 220")]
    [InlineData("421 busy\r\n", "greeting: reply '421 busy', expected 220")]
    [InlineData("2200 mail\r\n", "greeting: reply '2200 mail', expected 220")]
    [InlineData("mail.example.org ESMTP\r\n", "greeting: reply 'mail.example.org ESMTP', expected 220")]
    [InlineData("220-first\r\n554 second\r\n", "greeting: reply '554 second', expected 220")]
    public async Task Check_GreetingOtherThan220_FailsWithoutSendingHelo(string greeting, string reason)
    {
        using var server = new SmtpTestServer { Greeting = greeting };

        CheckResult result = await Checker(server).CheckAsync(Ct);
        await TcpCheckerTests.WaitForAsync(() => server.Finished == 1);

        Assert.Equal(CheckResult.Unhealthy(reason), result);
        Assert.Empty(server.Received);
    }

    [Theory]
    [InlineData("220 mail.example.org ESMTP\r\n")]
    [InlineData("220\r\n")]
    [InlineData("220 mail.example.org ESMTP\n")]
    [InlineData("220-mail.example.org ESMTP\r\n220-no UCE\r\n220 ready\r\n")]
    public async Task Check_Greeting220_SingleMultiLineOrBare_IsAccepted(string greeting)
    {
        using var server = new SmtpTestServer { Greeting = greeting };

        CheckResult result = await Checker(server).CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
        Assert.Equal(["HELO smtpchecker.keepalived.org\r\n", "QUIT\r\n"], server.Received);
    }

    [Theory]
    [InlineData("501 5.5.4 syntax\r\n", "HELO: reply '501 5.5.4 syntax', expected 250")]
    [InlineData("220 again\r\n", "HELO: reply '220 again', expected 250")]
    [InlineData("251 close\r\n", "HELO: reply '251 close', expected 250")]
    [InlineData("250-first\r\n550 second\r\n", "HELO: reply '550 second', expected 250")]
    public async Task Check_HeloReplyOtherThan250_FailsWithoutQuit(string reply, string reason)
    {
        using var server = new SmtpTestServer { HeloReply = reply };

        CheckResult result = await Checker(server).CheckAsync(Ct);
        await TcpCheckerTests.WaitForAsync(() => server.Finished == 1);

        Assert.Equal(CheckResult.Unhealthy(reason), result);
        Assert.Equal(["HELO smtpchecker.keepalived.org\r\n"], server.Received);
    }

    [Fact]
    public async Task Check_MultiLineHeloReply_IsReadToItsEnd()
    {
        using var server = new SmtpTestServer { HeloReply = "250-mail.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n" };

        CheckResult result = await Checker(server).CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
        Assert.Equal("QUIT\r\n", server.Received[^1]);
    }

    [Fact]
    public async Task Check_RepliesInOneByteSegments_AreAssembledIntoLines()
    {
        using var server = new SmtpTestServer { Trickle = true };

        CheckResult result = await Checker(server).CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
    }

    [Fact]
    public async Task Check_LongGreetingLine_IsJudgedByItsCode()
    {
        using var server = new SmtpTestServer { Greeting = "220 " + new string('x', 3000) + "\r\n" };

        CheckResult result = await Checker(server).CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
    }

    [Theory]
    [InlineData(0, "greeting: connection closed before the reply")]
    [InlineData(1, "HELO: connection closed before the reply")]
    [InlineData(2, "QUIT: connection closed before the reply")]
    public async Task Check_ServerClosesEarly_Fails(int step, string reason)
    {
        // check_smtp.c: a read that ends the connection before a line is a failure, even after QUIT.
        using var server = new SmtpTestServer();
        switch (step)
        {
            case 0:
                server.Greeting = null;
                break;
            case 1:
                server.HeloReply = null;
                break;
            default:
                server.QuitReply = null;
                break;
        }

        CheckResult result = await Checker(server).CheckAsync(Ct);

        Assert.Equal(CheckResult.Unhealthy(reason), result);
    }

    [Fact]
    public async Task Check_PartialLineThenClose_Fails()
    {
        using var server = new SmtpTestServer { Greeting = "220 no line end", CloseAfterGreeting = true };

        CheckResult result = await Checker(server).CheckAsync(Ct);

        Assert.Equal(CheckResult.Unhealthy("greeting: connection closed before the reply"), result);
    }

    [Theory]
    [InlineData(0, "greeting: timed out after 2s")]
    [InlineData(1, "HELO: timed out after 2s")]
    [InlineData(2, "QUIT: timed out after 2s")]
    public async Task Check_ServerSilent_TimesOutOnTheClock(int step, string reason)
    {
        using var server = new SmtpTestServer();
        switch (step)
        {
            case 0:
                server.Greeting = string.Empty;
                break;
            case 1:
                server.HeloReply = string.Empty;
                break;
            default:
                server.QuitReply = string.Empty;
                break;
        }

        var clock = FakeClock.Create();

        Task<CheckResult> check = Checker(server, clock).CheckAsync(Ct).AsTask();
        await TcpCheckerTests.WaitForAsync(() => server.Accepted == 1 && server.Received.Count == step);
        await Task.Delay(100, Ct);
        Assert.False(check.IsCompleted);
        clock.Advance(Timeout);
        CheckResult result = await check.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        await TcpCheckerTests.WaitForAsync(() => server.Finished == 1);

        Assert.Equal(CheckResult.Unhealthy(reason), result);
    }

    [Fact]
    public async Task Check_Timeout_AppliesToEachStepAgain()
    {
        // keepalived arms connect_timeout for each read and write, not once for the whole conversation.
        using var server = new SmtpTestServer
        {
            GreetingGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously),
            HeloReply = string.Empty,
        };
        var clock = FakeClock.Create();

        Task<CheckResult> check = Checker(server, clock).CheckAsync(Ct).AsTask();
        await TcpCheckerTests.WaitForAsync(() => server.Accepted == 1);
        await Task.Delay(100, Ct);
        clock.Advance(TimeSpan.FromSeconds(1.5));
        server.GreetingGate.SetResult();
        await TcpCheckerTests.WaitForAsync(() => server.Received.Count == 1);
        await Task.Delay(100, Ct);
        clock.Advance(TimeSpan.FromSeconds(1.5));
        await Task.Delay(100, Ct);
        Assert.False(check.IsCompleted, "3 s in all, but only 1.5 s of this step");
        clock.Advance(TimeSpan.FromSeconds(0.5));
        CheckResult result = await check.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(CheckResult.Unhealthy("HELO: timed out after 2s"), result);
    }

    [Fact]
    public async Task Check_Refused_FailsAtConnect()
    {
        var server = new SmtpTestServer();
        var checker = Checker(server);
        server.Dispose();

        CheckResult result = await checker.CheckAsync(Ct);

        Assert.Equal(CheckResult.Unhealthy("connect failed: ConnectionRefused"), result);
    }

    [Fact]
    public void Target_RealServerPortOrConnectPort_Else25()
    {
        var options = new SmtpCheckOptions();

        Assert.Equal(InetEndpoint.Parse("10.0.0.1:2525"), new SmtpChecker(new CheckConnectionOptions(InetEndpoint.Parse("10.0.0.1:2525")), options).Target);
        Assert.Equal(InetEndpoint.Parse("10.0.0.1:25"), new SmtpChecker(new CheckConnectionOptions(InetEndpoint.Parse("10.0.0.1:0")), options).Target);
        Assert.Equal(
            InetEndpoint.Parse("10.0.0.9:587"),
            new SmtpChecker(new CheckConnectionOptions(InetEndpoint.Parse("10.0.0.1:0")) { ConnectIp = InetAddress.Parse("10.0.0.9"), ConnectPort = 587 }, options).Target);
    }

    [Fact]
    public void HeloName_DefaultAndValidation()
    {
        Assert.Equal("smtpchecker.keepalived.org", new SmtpCheckOptions().HeloName);
        Assert.Equal(505, new SmtpCheckOptions { HeloName = new string('a', 505) }.HeloName.Length);
        Assert.Equal("my checker", new SmtpCheckOptions { HeloName = "my checker" }.HeloName);
        foreach (string bad in new[] { string.Empty, "   ", "a\r\nMAIL FROM:<x@y>", "tab\there", "h\u00e9lo", new string('a', 506) })
        {
            Assert.Throws<ArgumentException>(() => new SmtpCheckOptions { HeloName = bad });
        }

        Assert.Throws<ArgumentNullException>(() => new SmtpCheckOptions { HeloName = null! });
    }
}
