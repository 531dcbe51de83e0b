using Lvs.Devices.Neighbors;

namespace Lvs.Devices.Tests.Neighbors;

public class NeighborParametersTests
{
    [Fact]
    public void Default_KernelArpTableValues()
    {
        var p = NeighborParameters.Default;
        Assert.Equal(3, p.MulticastProbes);
        Assert.Equal(3, p.UnicastProbes);
        Assert.Equal(TimeSpan.FromSeconds(1), p.RetransmitTime);
        Assert.Equal(TimeSpan.FromSeconds(30), p.BaseReachableTime);
        Assert.Equal(TimeSpan.FromSeconds(60), p.GcStaleTime);
        Assert.Equal(101, p.UnresolvedQueueLength);
    }

    [Fact]
    public void RandomReachableTime_BetweenHalfAndOneAndAHalfBase()
    {
        var random = new Random(7);
        for (int i = 0; i < 1000; i++)
        {
            var t = NeighborParameters.Default.RandomReachableTime(random);
            Assert.InRange(t, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(45) - TimeSpan.FromTicks(1));
        }
    }
}
