using static Lvs.Scheduling.Tests.TestServers;

namespace Lvs.Scheduling.Tests;

public class ServerListTests
{
    [Fact]
    public void Add_PutsEachNewServerAtTheHead_AsTheKernelsListAddRcu()
    {
        var servers = WithWeights(1, 1, 1);
        var list = new ServerList();
        list.Add(servers[0]);
        list.Add(servers[1]);
        list.Add(servers[2]);
        Assert.Equal(new[] { servers[2], servers[1], servers[0] }, list.ToArray());
        Assert.Equal(new[] { servers[2], servers[1], servers[0] }, ServerList.InKernelOrder(servers));
        Assert.Equal(new[] { servers[2], servers[1], servers[0] }, new ServerList(servers).ToArray());

        // A collection expression adds in order too, so it lists the servers reversed.
        ServerList fromExpression = [servers[0], servers[1], servers[2]];
        Assert.Equal(new[] { servers[2], servers[1], servers[0] }, fromExpression.ToArray());
    }

    [Fact]
    public void UpdateAndRemove_WorkByEndpoint_AndUpdateKeepsThePosition()
    {
        var servers = WithWeights(1, 1, 1);
        var list = new ServerList(servers);
        var edited = Create(1, 5);
        Assert.True(list.Update(edited));
        Assert.Equal(new[] { servers[2], edited, servers[0] }, list.ToArray());
        Assert.True(list.Remove(servers[2].Endpoint));
        Assert.False(list.Remove(servers[2].Endpoint));
        Assert.False(list.Update(Create(9)));
        Assert.Equal(new[] { edited, servers[0] }, list.ToArray());

        // Re-adding a removed server puts it at the head again, as the kernel restoring a dest from its trash.
        list.Add(servers[2]);
        Assert.Equal(0, list.IndexOf(servers[2].Endpoint));
        Assert.Throws<ArgumentException>(() => list.Add(Create(0)));
    }
}
