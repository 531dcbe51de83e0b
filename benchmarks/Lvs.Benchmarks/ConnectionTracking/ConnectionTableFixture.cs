using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Benchmarks.ConnectionTracking;

/// <summary>Builds a table filled with established NAT connections from distinct clients, and the keys to probe it with.</summary>
internal sealed class ConnectionTableFixture
{
    public const int SampleSize = 1 << 16;

    public ConnectionTableFixture(int connections, int capacity, bool ipv6 = false)
    {
        Clock = new ManualClock();
        Registry = new RealServerRegistry();
        for (int i = 0; i < 16; i++)
        {
            _ = Registry.Register(new RealServer(ServerEndpoint(i, ipv6), 1, ForwardingMethod.Nat));
        }

        Table = new ConnectionTable(
            new ConnectionTableOptions { Capacity = ipv6 ? 1024 : capacity, IPv6Capacity = ipv6 ? capacity : 1024 },
            Registry,
            Clock);
        Ipv6 = ipv6;
        for (int i = 0; i < connections; i++)
        {
            var key = Inbound(i);
            _ = Table.TryAdd(new NewConnection(key, i & 15, ServerEndpoint(i & 15, ipv6), ForwardingMethod.Nat), out var h);
            _ = Table.Update(h, PacketDirection.Inbound, TcpFlags.Syn);
            _ = Table.Update(h, PacketDirection.Inbound, TcpFlags.Ack);
        }

        var random = new Random(7);
        Hits = new FlowKey[SampleSize];
        Replies = new FlowKey[SampleSize];
        Misses = new FlowKey[SampleSize];
        Handles = new ConnectionHandle[SampleSize];
        for (int i = 0; i < SampleSize; i++)
        {
            int n = random.Next(connections);
            Hits[i] = Inbound(n);
            Replies[i] = new FlowKey(L4Protocol.Tcp, ServerEndpoint(n & 15, ipv6), Hits[i].Source);
            Misses[i] = Inbound(connections + random.Next(int.MaxValue - connections));
            _ = Table.TryGetInbound(Hits[i], out Handles[i]);
        }
    }

    public ManualClock Clock { get; }

    public RealServerRegistry Registry { get; }

    public ConnectionTable Table { get; }

    public bool Ipv6 { get; }

    public FlowKey[] Hits { get; }

    public FlowKey[] Replies { get; }

    public FlowKey[] Misses { get; }

    public ConnectionHandle[] Handles { get; }

    /// <summary>Looks up <paramref name="count"/> keys of the sample one at a time from <paramref name="cursor"/> (which moves on), inbound or as replies; returns how many were found.</summary>
    public int Probe(FlowKey[] keys, bool outbound, ref int cursor, int count)
    {
        var table = Table;
        int found = 0;
        int c = cursor;
        for (int i = 0; i < count; i++)
        {
            ref readonly var key = ref keys[(c + i) & (SampleSize - 1)];
            found += (outbound ? table.TryGetOutbound(key, out _) : table.TryGetInbound(key, out _)) ? 1 : 0;
        }

        cursor = c + count;
        return found;
    }

    /// <summary>Looks up the next <paramref name="handles"/>.Length hits of the sample in one batch from <paramref name="cursor"/> (which moves on); returns how many were found.</summary>
    public int ProbeBatched(ref int cursor, ConnectionHandle[] handles)
    {
        int c = cursor & (SampleSize - 1) & ~(handles.Length - 1);
        cursor += handles.Length;
        return Table.TryGetInboundBatch(Hits.AsSpan(c, handles.Length), handles);
    }

    /// <summary>The n-th client's first packet: distinct address per 64 clients, ports 1024 + n % 64.</summary>
    public FlowKey Inbound(int n)
    {
        var client = Ipv6
            ? new InetAddress(0x2001_0db8_0000_0000UL, (ulong)(n >> 6) + 1)
            : InetAddress.FromIPv4(0x0A00_0000u + (uint)(n >> 6));
        var vip = Ipv6 ? new InetAddress(0x2001_0db8_ffff_0000UL, 1) : InetAddress.FromIPv4(0xC000_020A);
        return new FlowKey(L4Protocol.Tcp, new InetEndpoint(client, (ushort)(1024 + (n & 63))), new InetEndpoint(vip, 80));
    }

    private static InetEndpoint ServerEndpoint(int i, bool ipv6) =>
        new(ipv6 ? new InetAddress(0x2001_0db8_0001_0000UL, (ulong)i + 1) : InetAddress.FromIPv4(0xAC10_0000u + (uint)i), 8080);
}
