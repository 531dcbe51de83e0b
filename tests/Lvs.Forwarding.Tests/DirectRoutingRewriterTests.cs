using Lvs.Core;
using PacketDotNet;

namespace Lvs.Forwarding.Tests;

public class DirectRoutingRewriterTests
{
    [Theory]
    [InlineData("198.51.100.7", "192.0.2.10", ProtocolType.Tcp)]
    [InlineData("2001:db8:1::7", "2001:db8::10", ProtocolType.Udp)]
    public void Rewrite_DecrementHopLimitOff_ChangesOnlyTheMacAddresses(string client, string vip, ProtocolType protocol)
    {
        var input = new FrameSpec { Source = client, Destination = vip, Protocol = protocol, PayloadLength = 50 };
        var expected = input with { SourceMac = "02:00:00:00:00:02", DestinationMac = "02:00:00:00:00:99" };
        var rewriter = new DirectRoutingRewriter(new ForwardingOptions { DecrementHopLimit = false });

        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            rewriter.Rewrite(b, o, l, p, PacketFactory.DirectorMac, PacketFactory.NextHopMac));

        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(FrameHeadroom.Required, verdict.FrameOffset);
        RewriteHarness.AssertGolden(PacketFactory.Build(expected), output);
    }

    [Fact]
    public void Rewrite_LinkPadding_IsTrimmed()
    {
        byte[] frame = PacketFactory.Build(new FrameSpec { PayloadLength = 0 });
        byte[] padded = [.. frame, .. new byte[60 - frame.Length + 4]];
        var (verdict, output) = RewriteHarness.Run(padded, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new DirectRoutingRewriter(new ForwardingOptions { DecrementHopLimit = false }).Rewrite(b, o, l, p, PacketFactory.DirectorMac, PacketFactory.NextHopMac));
        Assert.Equal(frame.Length, verdict.FrameLength);
        Assert.Equal(frame[12..], output[12..]);
    }

    [Fact]
    public void Rewrite_IpOptionsWithDropPolicy_DropsElseForwards()
    {
        byte[] frame = FrameMutations.WithIPv4Options(PacketFactory.Build(new FrameSpec()));
        var forward = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new DirectRoutingRewriter().Rewrite(b, o, l, p, PacketFactory.DirectorMac, PacketFactory.NextHopMac));
        var drop = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new DirectRoutingRewriter(new ForwardingOptions { IpOptions = IpOptionsPolicy.Drop }).Rewrite(b, o, l, p, PacketFactory.DirectorMac, PacketFactory.NextHopMac));
        Assert.Equal(ForwardingAction.Transmit, forward.Verdict.Action);
        Assert.Equal(DropReason.IpOptions, drop.Verdict.Reason);
    }

    [Fact]
    public void Rewrite_NonFirstFragment_DroppedByDefaultForwardedByPolicy()
    {
        byte[] frame = FrameMutations.AsNonFirstFragment(PacketFactory.Build(new FrameSpec { PayloadLength = 64 }));
        var drop = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new DirectRoutingRewriter().Rewrite(b, o, l, p, PacketFactory.DirectorMac, PacketFactory.NextHopMac));
        var forward = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new DirectRoutingRewriter(new ForwardingOptions { NonFirstFragments = FragmentPolicy.Forward }).Rewrite(b, o, l, p, PacketFactory.DirectorMac, PacketFactory.NextHopMac));
        Assert.Equal(DropReason.NonFirstFragment, drop.Verdict.Reason);
        Assert.Equal(ForwardingAction.Transmit, forward.Verdict.Action);
        Assert.Equal(ForwardingNotes.NonFirstFragment, forward.Verdict.Notes);
    }
}
