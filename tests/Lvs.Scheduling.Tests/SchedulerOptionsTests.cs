namespace Lvs.Scheduling.Tests;

public class SchedulerOptionsTests
{
    [Theory]
    [InlineData("", SchedulerFlags.None)]
    [InlineData("sh-fallback", SchedulerFlags.Fallback)]
    [InlineData("mh-fallback,mh-port", SchedulerFlags.Fallback | SchedulerFlags.Port)]
    [InlineData("sh-port", SchedulerFlags.Port)]
    [InlineData("flag-1, flag-2,flag-3", SchedulerFlags.Fallback | SchedulerFlags.Port | SchedulerFlags.Flag3)]
    [InlineData("SH-PORT", SchedulerFlags.Port)]
    public void ParseFlags_IpvsadmNames(string text, SchedulerFlags expected)
    {
        Assert.Equal(expected, SchedulerOptions.ParseFlags(text));
    }

    [Fact]
    public void ParseFlags_UnknownName_Throws()
    {
        Assert.Throws<FormatException>(() => SchedulerOptions.ParseFlags("sh-fallback,persistent"));
    }

    [Fact]
    public void Defaults_AreTheDocumentedOnes()
    {
        var options = new SchedulerOptions();
        Assert.Equal(65537, options.MaglevTableSize);
        Assert.Equal(8, options.HashTableBits);
        Assert.Equal(0x4C56534D41474C56UL, options.MaglevSeed);
        Assert.Equal("LVSMAGLV", System.Text.Encoding.ASCII.GetString(BitConverter.GetBytes(options.MaglevSeed).Reverse().ToArray()));
        Assert.Equal(TimeSpan.FromHours(24), options.LocalityExpiration);
        Assert.Same(TimeProvider.System, options.TimeProvider);
        Assert.Same(Random.Shared, options.Random);
        Assert.Equal(0, options.OtherThreadCountsRefreshPicks);
        Assert.False(options.WeightedRoundRobinPositionPerThread);
    }

    [Fact]
    public void OtherThreadCountsRefreshPicks_Negative_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SchedulerOptions { OtherThreadCountsRefreshPicks = -1 });
        Assert.Equal(64, new SchedulerOptions { OtherThreadCountsRefreshPicks = 64 }.OtherThreadCountsRefreshPicks);
    }
}
