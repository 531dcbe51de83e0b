using Lvs.Core;
using Microsoft.Extensions.Time.Testing;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>The addresses, servers and tables the tests share: clients in 10.0.0.0/8, VIPs in 192.0.2.0/24, servers in 172.16.0.0/16.</summary>
internal static class TestNetwork
{
    public static readonly InetAddress Vip = InetAddress.Parse("192.0.2.10");

    public static InetEndpoint Client(int i, ushort port = 40000) => new(InetAddress.FromIPv4(0x0A00_0000u + (uint)i), port);

    public static InetEndpoint Virtual(int i = 0, ushort port = 80) => new(InetAddress.FromIPv4(0xC000_020Au + (uint)i), port);

    public static InetEndpoint Server(int i, ushort port = 8080) => new(InetAddress.FromIPv4(0xAC10_0000u + (uint)i), port);

    public static FlowKey Tcp(InetEndpoint client, InetEndpoint @virtual) => new(L4Protocol.Tcp, client, @virtual);

    public static FlowKey Udp(InetEndpoint client, InetEndpoint @virtual) => new(L4Protocol.Udp, client, @virtual);

    public static (ConnectionTable Table, RealServerRegistry Registry, FakeTimeProvider Clock, RealServer[] Servers) NewTable(
        int capacity = 1024, int servers = 2, Action<ConnectionTimeouts>? timeouts = null, bool expireNoDest = false, bool expireQuiescent = false, int reuseMode = 1, int inboundCells = 15, IConnectionEndObserver? observer = null, int writerShards = 0, int indexPartitions = 1, bool steeredFlows = false)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var registry = new RealServerRegistry();
        var list = new RealServer[servers];
        for (int i = 0; i < servers; i++)
        {
            list[i] = new RealServer(Server(i), 1, ForwardingMethod.Nat);
            Assert.Equal(i, registry.Register(list[i]));
        }

        var t = new ConnectionTimeouts();
        timeouts?.Invoke(t);
        var options = new ConnectionTableOptions
        {
            Capacity = capacity,
            IPv6Capacity = capacity,
            Timeouts = t,
            ExpireNoDestinationConnections = expireNoDest,
            ExpireQuiescentTemplate = expireQuiescent,
            ConnectionReuseMode = reuseMode,
            RandomSeed = 12345,
            InboundCellsPerBucket = inboundCells,
            EndObserver = observer,
            WriterShards = writerShards,
            IndexPartitions = indexPartitions,
            SteeredFlows = steeredFlows,
        };
        return (new ConnectionTable(options, registry, clock), registry, clock, list);
    }

    /// <summary>
    /// For models: removes from <paramref name="model"/> the keys whose connection has left the table, asserting that
    /// none left before its time (<paramref name="now"/> past its expiry).
    /// </summary>
    public static void ForgetEnded<T>(this ConnectionTable table, Dictionary<int, T> model, long now, Func<T, (ConnectionHandle Handle, long Expires)> live)
    {
        foreach (var (key, value) in model.ToArray())
        {
            var (handle, expires) = live(value);
            if (!table.TryGetInfo(handle, out _))
            {
                Assert.True(now > expires, $"connection {key} expired at {now}, due after {expires}");
                model.Remove(key);
            }
        }
    }

    public static void Tick(this ConnectionTable table, FakeTimeProvider clock, int seconds)
    {
        clock.Advance(TimeSpan.FromSeconds(seconds));
        _ = table.RunHousekeeping();
    }
}
