using Lvs.Core;

namespace Lvs.Benchmarks.Scheduling;

/// <summary>
/// The server set the scheduling benchmarks pick from: weights 1 to 4 in turn, 50 to 200 active and 0 to 500
/// inactive connections each, drawn from the caller's seeded random source.
/// </summary>
internal static class LoadedServers
{
    /// <param name="count">How many servers.</param>
    /// <param name="random">The source of the loads (the caller may go on drawing from it).</param>
    public static RealServer[] Create(int count, Random random)
    {
        var servers = new RealServer[count];
        for (int i = 0; i < servers.Length; i++)
        {
            var server = new RealServer(new InetEndpoint(InetAddress.FromIPv4(10, 1, (byte)(i >> 8), (byte)i), 80), 1 + (i % 4));
            int active = random.Next(50, 200);
            int inactive = random.Next(0, 500);
            for (int c = 0; c < active; c++)
            {
                server.AddConnection(active: true);
            }

            for (int c = 0; c < inactive; c++)
            {
                server.AddConnection(active: false);
            }

            servers[i] = server;
        }

        return servers;
    }

    /// <summary>
    /// Sets up a pick benchmark: <paramref name="count"/> loaded servers given to <paramref name="scheduler"/>, then
    /// <paramref name="flows"/> filled with random IPv4 clients and ports, each to its own destination, and every flow
    /// picked once (warm tables for lblc and lblcr). The seed is fixed, so every run sees the same servers and flows.
    /// </summary>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="count">How many servers.</param>
    /// <param name="flows">Filled with the flows the benchmark cycles.</param>
    public static void PreparePicks(Lvs.Scheduling.IScheduler scheduler, int count, FlowKey[] flows)
    {
        var random = new Random(42);
        scheduler.UpdateServers(Create(count, random));
        FillFlows(flows, random);
        foreach (var flow in flows)
        {
            _ = scheduler.Pick(flow);
        }
    }

    private static void FillFlows(FlowKey[] flows, Random random)
    {
        for (int i = 0; i < flows.Length; i++)
        {
            flows[i] = new FlowKey(
                L4Protocol.Tcp,
                InetAddress.FromIPv4((uint)random.Next()),
                (ushort)random.Next(1024, 65536),
                InetAddress.FromIPv4(0xC0000200u + (uint)i),
                80);
        }
    }
}
