using Lvs.Core;

namespace Lvs.Forwarding.Tests;

public class ForwardingVerdictTests
{
    [Fact]
    public void GetFrame_SingleFrameVerdicts_GiveTheFrameOrNothing()
    {
        var transmit = ForwardingVerdict.Transmit(10, 100);
        Assert.Equal(1, transmit.FrameCount);
        Assert.Equal((10, 100), transmit.GetFrame(0));
        Assert.Equal(1, ForwardingVerdict.IcmpError(DropReason.HopLimitExceeded, 4, 70).FrameCount);
        Assert.Equal(0, ForwardingVerdict.Drop(DropReason.Truncated).FrameCount);
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => transmit.GetFrame(1));
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => ForwardingVerdict.Drop(DropReason.Truncated).GetFrame(0));
    }

    [Fact]
    public void GetFrame_Fragments_LieBackToBackWithTheRestInTheLast()
    {
        var verdict = ForwardingVerdict.TransmitFragments(200, 1514 + 1514 + 100, 3, 1514);
        Assert.Equal(ForwardingAction.TransmitFragments, verdict.Action);
        Assert.Equal(DropReason.ExceedsMtu, verdict.Reason);
        Assert.True(verdict.ShouldSend);
        Assert.Equal(3, verdict.FrameCount);
        Assert.Equal((200, 1514), verdict.GetFrame(0));
        Assert.Equal((1714, 1514), verdict.GetFrame(1));
        Assert.Equal((3228, 100), verdict.GetFrame(2));
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => verdict.GetFrame(3));
    }

    [Fact]
    public void TransmitFragments_InconsistentArguments_Throw()
    {
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => ForwardingVerdict.TransmitFragments(0, 100, 1, 50));
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => ForwardingVerdict.TransmitFragments(0, 100, 3, 50));
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => ForwardingVerdict.TransmitFragments(0, 100, 2, 0));
    }
}
