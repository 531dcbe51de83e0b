using Lvs.Director;

namespace Lvs.Hosting.Tests;

public class HostAnswersTests
{
    [Fact]
    public void Defaults_EveryAnswerOn_AsAKernelDirectorsHost()
    {
        var options = HostAnswers.TurnOff(new DirectorOptions(), []);
        Assert.True(options.ResetUnmatchedTcp && options.AbortUnmatchedSctp && options.UnreachableUnservedUdp && options.UnreachableUnknownProtocols && options.AnswerEcho);
    }

    [Theory]
    [InlineData("tcp-reset")]
    [InlineData("sctp-abort")]
    [InlineData("udp-unreachable")]
    [InlineData("protocol-unreachable")]
    [InlineData(" ECHO ")]
    public void TurnOff_EachName_TurnsOffItsAnswerAlone(string name)
    {
        var options = HostAnswers.TurnOff(new DirectorOptions { HopLimit = 12 }, [name]);
        var off = new[]
        {
            ("tcp-reset", options.ResetUnmatchedTcp),
            ("sctp-abort", options.AbortUnmatchedSctp),
            ("udp-unreachable", options.UnreachableUnservedUdp),
            ("protocol-unreachable", options.UnreachableUnknownProtocols),
            ("echo", options.AnswerEcho),
        }.Where(answer => !answer.Item2).Select(answer => answer.Item1);
        Assert.Equal([name.Trim().ToLowerInvariant()], off);
        Assert.Equal(12, options.HopLimit);
        Assert.Equal(5, HostAnswers.Names.Count);
    }

    [Fact]
    public void TurnOff_UnknownName_RefusedNamingTheKnownOnes()
    {
        var error = Assert.Throws<FormatException>(() => HostAnswers.TurnOff(new DirectorOptions(), ["tcp-reset", "icmp-timestamp"]));
        Assert.Equal("host answer 'icmp-timestamp': not one the director gives (it gives echo, protocol-unreachable, sctp-abort, tcp-reset, udp-unreachable).", error.Message);
    }

    [Fact]
    public void Validate_UnknownName_IsAnError()
    {
        var options = new LvsDirectorOptions();
        options.Interfaces.Add("eth0");
        options.NoHostAnswers.Add("rst");
        Assert.Contains(options.Validate(), error => error.StartsWith("host answer 'rst':", StringComparison.Ordinal));
    }
}
