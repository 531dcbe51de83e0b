using Lvs.Core;

namespace Lvs.HealthChecks.Tests;

/// <summary>Issue 17, "Reject at construction" and "negative or zero timings": each bad value throws where it is set, naming the option.</summary>
public sealed class OptionValidationTests
{
    private static readonly InetEndpoint Target = InetEndpoint.Parse("127.0.0.1:80");

    private static void AssertRejected(Action build, string option)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(build);
        Assert.Equal(option, e.ParamName);
        Assert.Contains(option, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void DelayLoop_ZeroOrNegative_IsRejected(int seconds) =>
        AssertRejected(() => _ = new CheckTiming { DelayLoop = TimeSpan.FromSeconds(seconds) }, "DelayLoop");

    [Fact]
    public void DelayBeforeRetry_Negative_IsRejected_ZeroAllowed()
    {
        AssertRejected(() => _ = new CheckTiming { DelayBeforeRetry = TimeSpan.FromSeconds(-1) }, "DelayBeforeRetry");
        Assert.Equal(TimeSpan.Zero, new CheckTiming { DelayBeforeRetry = TimeSpan.Zero }.DelayBeforeRetry);
    }

    [Fact]
    public void Warmup_Negative_IsRejected() =>
        AssertRejected(() => _ = new CheckTiming { Warmup = TimeSpan.FromSeconds(-1) }, "Warmup");

    [Fact]
    public void Delays_LongerThanATimerCanWait_AreRejected()
    {
        // ITimer.Change throws beyond 2^32 - 2 ms: such a delay used to kill the check loop from inside the timer.
        AssertRejected(() => _ = new CheckTiming { DelayLoop = TimeSpan.FromDays(60) }, "DelayLoop");
        AssertRejected(() => _ = new CheckTiming { DelayBeforeRetry = TimeSpan.FromDays(60) }, "DelayBeforeRetry");
        AssertRejected(() => _ = new CheckTiming { Warmup = TimeSpan.FromDays(60) }, "Warmup");
    }

    [Fact]
    public void ConnectTimeout_Negative_IsRejectedNotClampedToOneSecond() =>
        AssertRejected(() => _ = new CheckConnectionOptions(Target) { ConnectTimeout = TimeSpan.FromSeconds(-3) }, "ConnectTimeout");

    [Fact]
    public void MaxBodyBytes_Negative_IsRejected() =>
        AssertRejected(() => _ = new HttpGetCheckOptions { Urls = [new("/")], MaxBodyBytes = -1 }, "MaxBodyBytes");

    [Fact]
    public void UdpLengths_NegativeOrAbove65535_AreRejected()
    {
        AssertRejected(() => _ = new UdpCheckOptions { MinReplyLength = -1 }, "MinReplyLength");
        AssertRejected(() => _ = new UdpCheckOptions { MaxReplyLength = -1 }, "MaxReplyLength");
        AssertRejected(() => _ = new UdpCheckOptions { MaxReplyLength = 65536 }, "MaxReplyLength");
    }

    [Fact]
    public void UdpMinimumAboveMaximum_IsRejectedByTheChecker()
    {
        var e = Assert.Throws<ArgumentException>(() => new UdpChecker(new CheckConnectionOptions(Target), new UdpCheckOptions { MinReplyLength = 10, MaxReplyLength = 5 }));

        Assert.Contains("MinReplyLength", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Quorum_Zero_IsRejected() =>
        AssertRejected(() => _ = new VirtualServiceHealthOptions(VirtualServiceKey.ForAddress(L4Protocol.Tcp, Target)) { Quorum = 0 }, "Quorum");

    [Fact]
    public void MiscTimeout_Negative_IsRejected() =>
        AssertRejected(() => _ = new MiscCheckOptions { Path = "true", Timeout = TimeSpan.FromSeconds(-1) }, "Timeout");

    [Fact]
    public void MaxConcurrentMiscChecks_Zero_IsRejected() =>
        AssertRejected(() => _ = new HealthMonitorOptions { MaxConcurrentMiscChecks = 0 }, "MaxConcurrentMiscChecks");
}
