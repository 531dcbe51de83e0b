using Lvs.Core;

namespace Lvs.Scheduling.Tests;

/// <summary>Builds real servers and flows for the scheduler tests.</summary>
internal static class TestServers
{
    /// <summary>Server number <paramref name="index"/> at 10.0.x.y:80.</summary>
    public static RealServer Create(int index, int weight = 1) =>
        new(new InetEndpoint(InetAddress.FromIPv4(10, (byte)(index >> 16), (byte)(index >> 8), (byte)index), 80), weight);

    /// <summary>One server per weight, numbered from 0.</summary>
    public static RealServer[] WithWeights(params int[] weights) =>
        [.. weights.Select((w, i) => Create(i, w))];

    /// <summary>A TCP flow from a client to the VIP 192.0.2.1:80.</summary>
    public static FlowKey Flow(uint client, ushort clientPort = 40000, uint destination = 0xC0000201) =>
        new(L4Protocol.Tcp, InetAddress.FromIPv4(client), clientPort, InetAddress.FromIPv4(destination), 80);

    /// <summary>Gives a server connections.</summary>
    public static RealServer WithConnections(this RealServer server, int active, int inactive)
    {
        for (int i = 0; i < active; i++)
        {
            server.AddConnection(active: true);
        }

        for (int i = 0; i < inactive; i++)
        {
            server.AddConnection(active: false);
        }

        return server;
    }

    /// <summary>Flags a server overloaded (its upper threshold reached), adding one inactive connection if it has none.</summary>
    public static RealServer Overloaded(this RealServer server)
    {
        if (server.ActiveConnections + server.InactiveConnections == 0)
        {
            server.AddConnection(active: false);
        }

        server.UpperThreshold = server.ActiveConnections + server.InactiveConnections;
        return server;
    }

    /// <summary>Names of a pick sequence: the index of each server in <paramref name="servers"/>, as letters.</summary>
    public static string Letters(IReadOnlyList<RealServer> servers, IEnumerable<RealServer?> picks) =>
        string.Concat(picks.Select(p => p is null ? '-' : (char)('A' + servers.ToList().IndexOf(p))));

    /// <summary>Picks <paramref name="count"/> times with one flow.</summary>
    public static RealServer?[] PickMany(this IScheduler scheduler, int count, FlowKey flow = default) =>
        [.. Enumerable.Range(0, count).Select(_ => scheduler.Pick(flow))];
}
