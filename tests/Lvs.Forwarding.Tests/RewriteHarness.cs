using Lvs.Core;

namespace Lvs.Forwarding.Tests;

public delegate ForwardingVerdict FrameRewrite(Span<byte> buffer, int offset, int length, in ParsedFrame parsed);

public static class RewriteHarness
{
    /// <summary>Puts the frame behind headroom, parses it with Core's parser, rewrites, and returns the verdict and the output frame.</summary>
    public static (ForwardingVerdict Verdict, byte[] Output) Run(byte[] frame, FrameRewrite rewrite, int headroom = FrameHeadroom.Required)
    {
        byte[] buffer = PacketFactory.InBuffer(frame, headroom);
        var parsed = PacketFactory.Parse(buffer, headroom, frame.Length);
        var verdict = rewrite(buffer, headroom, frame.Length, parsed);
        return (verdict, verdict.ShouldSend ? PacketFactory.Output(buffer, verdict) : []);
    }

    /// <summary>Rewrites the frame built from <paramref name="input"/> and asserts a transmit of exactly the frame built from <paramref name="expected"/>.</summary>
    public static ForwardingVerdict AssertRewritesTo(FrameSpec input, FrameSpec expected, FrameRewrite rewrite)
    {
        var (verdict, output) = Run(PacketFactory.Build(input), rewrite);
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        AssertGolden(PacketFactory.Build(expected), output);
        return verdict;
    }

    public static void AssertGolden(byte[] expected, byte[] actual)
    {
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(actual));
    }
}
