namespace Lvs.HealthChecks.Tests;

public sealed class QuorumStateTests
{
    [Fact]
    public void Update_Hysteresis_KeepsStateBetweenThresholds()
    {
        // keepalived: quorum 10, hysteresis 2: up from 12, down below 8.
        var state = new QuorumState(10, 2, initialLiveWeight: 11);
        Assert.False(state.HasQuorum);

        Assert.False(state.Update(11));
        Assert.True(state.Update(12));
        Assert.Equal(8, state.Threshold);
        Assert.False(state.Update(8));
        Assert.True(state.HasQuorum);
        Assert.True(state.Update(7));
        Assert.False(state.HasQuorum);
        Assert.Equal(12, state.Threshold);
        Assert.False(state.Update(11));
    }

    [Fact]
    public void Update_ZeroLiveWeight_LosesQuorumEvenWithQuorumZero()
    {
        var state = new QuorumState(0, 0, initialLiveWeight: 3);
        Assert.True(state.HasQuorum);

        Assert.True(state.Update(0));
        Assert.False(state.HasQuorum);
    }

    /// <summary>For any walk of live weights, the state is exactly what keepalived's two thresholds say.</summary>
    [FsCheck.Xunit.Property]
    public bool Update_AnyWalk_FollowsThresholds(byte quorumByte, byte hysteresisByte, byte[] weights)
    {
        long quorum = quorumByte % 20, hysteresis = hysteresisByte % 5;
        var state = new QuorumState(quorum, hysteresis, 0);
        bool expected = 0 >= quorum + hysteresis;
        if (state.HasQuorum != expected)
        {
            return false;
        }

        foreach (byte b in weights)
        {
            long live = b % 30;
            bool before = expected;
            if (!expected && live >= quorum + hysteresis)
            {
                expected = true;
            }
            else if (expected && (live == 0 || live < quorum - hysteresis))
            {
                expected = false;
            }

            if (state.Update(live) != (before != expected) || state.HasQuorum != expected)
            {
                return false;
            }
        }

        return true;
    }
}
