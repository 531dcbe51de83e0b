namespace Lvs.Core.Tests;

public class RealServerTests
{
    private static RealServer Server(int upper = 0, int lower = 0) =>
        new(InetEndpoint.Parse("10.0.0.10:80"), 1) { UpperThreshold = upper, LowerThreshold = lower };

    [Fact]
    public void AddConnection_ReachingUpperThreshold_SetsOverloaded()
    {
        var server = Server(upper: 3);
        server.AddConnection(active: true);
        server.AddConnection(active: false);
        Assert.False(server.IsOverloaded);
        server.AddConnection(active: true);
        Assert.True(server.IsOverloaded);
        Assert.False(server.IsSchedulable);
    }

    [Fact]
    public void RemoveConnection_NoLowerThreshold_ClearsBelowThreeQuartersOfUpper()
    {
        // ip_vs_unbind_dest: without -y the flag clears when conns * 4 < upper * 3.
        var server = Server(upper: 4);
        for (int i = 0; i < 4; i++)
        {
            server.AddConnection(active: true);
        }

        Assert.True(server.IsOverloaded);
        server.RemoveConnection(active: true); // 3: 12 < 12 is false
        Assert.True(server.IsOverloaded);
        server.RemoveConnection(active: true); // 2: 8 < 12
        Assert.False(server.IsOverloaded);
    }

    [Fact]
    public void RemoveConnection_LowerThreshold_ClearsOnlyBelowIt()
    {
        var server = Server(upper: 4, lower: 2);
        for (int i = 0; i < 4; i++)
        {
            server.AddConnection(active: false);
        }

        server.RemoveConnection(active: false); // 3
        server.RemoveConnection(active: false); // 2: not below 2
        Assert.True(server.IsOverloaded);
        server.RemoveConnection(active: false); // 1
        Assert.False(server.IsOverloaded);
    }

    [Fact]
    public void Overhead_IsActiveTimes256PlusInactive()
    {
        var server = Server();
        server.AddConnection(active: true);
        server.AddConnection(active: true);
        server.AddConnection(active: false);
        Assert.Equal((2 * 256) + 1, server.Overhead);
        server.ChangeConnectionActivity(nowActive: false);
        Assert.Equal(1, server.ActiveConnections);
        Assert.Equal(2, server.InactiveConnections);
    }

    [Fact]
    public void Weight_Zero_IsQuiescedAndNotSchedulable()
    {
        var server = Server();
        server.Weight = 0;
        Assert.True(server.IsQuiesced);
        Assert.False(server.IsSchedulable);
        Assert.Throws<ArgumentOutOfRangeException>(() => server.Weight = -1);
        Assert.Throws<ArgumentOutOfRangeException>(() => server.Weight = RealServer.MaxWeight + 1);
    }

    [Fact]
    public void Counters_ConcurrentUpdates_EndExact()
    {
        var server = Server();
        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < 100_000; i++)
            {
                server.AddConnection(active: false);
                server.ChangeConnectionActivity(nowActive: true);
                server.AddPersistentConnection();
                server.RemoveConnection(active: true);
                server.RemovePersistentConnection();
            }
        });
        Assert.Equal(0, server.ActiveConnections);
        Assert.Equal(0, server.InactiveConnections);
        Assert.Equal(0, server.PersistentConnections);
    }
}
