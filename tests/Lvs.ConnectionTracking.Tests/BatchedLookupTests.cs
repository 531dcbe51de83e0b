using FsCheck.Xunit;
using Lvs.Core;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>
/// Batched lookups answer exactly as one-by-one lookups on tables built to confuse their chain stages: few client
/// endpoints shared by many connections (same client, other VIP, port or protocol), templates whose key has the
/// same client endpoint (port 0), full-NAT local endpoints equal to other connections' clients, long chains from a
/// small table, removals, and misses.
/// </summary>
public class BatchedLookupTests
{
    private static readonly ForwardingMethod[] Methods = [ForwardingMethod.Nat, ForwardingMethod.FullNat, ForwardingMethod.DirectRouting, ForwardingMethod.Tunnel];

    [Property(MaxTest = 300)]
    public void Batches_OnCollidingKeys_SameAsOneByOne(
        (byte Client, byte Vip, byte Port, bool Udp, byte Method, byte Local, bool V6)[] connections,
        byte[] removals,
        (byte Client, byte Vip, byte Port, bool Udp, byte Server, bool V6)[] probes)
    {
        var (table, _, _, servers) = NewTable(capacity: 64);
        var handles = new List<ConnectionHandle>();
        foreach (var c in connections)
        {
            var key = Key(c.Client, c.Vip, c.Port, c.Udp, c.V6);
            var server = ServerEndpoint(servers, c.Client & 1, c.V6);
            if (c.Method % 5 == 4)
            {
                var service = VirtualServiceKey.ForAddress(key.Protocol, key.Destination);
                _ = table.TryAddTemplate(PersistenceKey.Create(service, key, c.V6 ? 128 : 32), c.Client & 1, server, 300, out var template);
                handles.Add(template);
                continue;
            }

            // A full-NAT local endpoint is drawn from the clients' own endpoints, so outbound chains hold both kinds.
            var connection = new NewConnection(key, c.Client & 1, server, Methods[c.Method % 4]) { Local = ClientEndpoint(c.Local, c.V6) };
            if (table.TryAdd(connection, out var handle) == AddConnectionResult.Added)
            {
                handles.Add(handle);
            }
        }

        foreach (byte r in removals)
        {
            if (handles.Count > 0)
            {
                _ = table.Remove(handles[r % handles.Count]);
            }
        }

        // Mixed batches: IPv4 and IPv6 keys whose addresses have the same low 32 bits, so a packet looked up among
        // the other family's connections could be taken for one of them.
        var inbound = probes.Select(p => Key(p.Client, p.Vip, p.Port, p.Udp, p.V6)).ToArray();
        var outbound = probes.Select(p => new FlowKey(p.Udp ? L4Protocol.Udp : L4Protocol.Tcp, ServerEndpoint(servers, p.Server & 1, p.V6), ClientEndpoint(p.Client, p.V6))).ToArray();
        _ = AssertSameAsOneByOne(inbound, table.TryGetInboundBatch, table.TryGetInbound);
        _ = AssertSameAsOneByOne(outbound, table.TryGetOutboundBatch, table.TryGetOutbound);
    }

    [Fact]
    public void Batches_MixedFamilies_EachFoundInItsOwnFamily()
    {
        var (table, _, _, servers) = NewTable(capacity: 256);
        var keys = new List<FlowKey>();
        var expected = new List<ConnectionHandle>();
        for (int i = 0; i < 150; i++)
        {
            // Distinct clients, a third of them IPv6: no key's counterpart in the other family is in the table.
            bool v6 = i % 3 == 0;
            var key = Tcp(InFamily(Client(i), v6), InFamily(Virtual(), v6));
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(key, 0, ServerEndpoint(servers, 0, v6), ForwardingMethod.Nat), out var handle));
            keys.Add(key);
            expected.Add(handle);
        }

        // The same keys in the other family (the same low 32 bits) are misses.
        var probes = keys.Concat(keys.Select(OtherFamily)).ToArray();
        var handles = new ConnectionHandle[probes.Length];
        Assert.Equal(keys.Count, table.TryGetInboundBatch(probes, handles));
        Assert.Equal(expected, handles.Take(keys.Count));
        Assert.All(handles.Skip(keys.Count), h => Assert.False(h.IsSome));
        Assert.Contains(expected, h => h.IsIPv6);
        Assert.Contains(expected, h => !h.IsIPv6);
    }

    [Fact]
    public void Batches_FullTableLongChainsHitsAndMisses_SameAsOneByOne()
    {
        // A full table: two slots per outbound bucket and one per inbound bucket on average, so many chains are
        // longer than the batched stages look ahead, and misses walk whole chains.
        var (table, _, _, servers) = NewTable(capacity: 4096);
        for (int i = 0; i < 4096; i++)
        {
            var method = i % 3 == 0 ? ForwardingMethod.FullNat : ForwardingMethod.Nat;
            var connection = new NewConnection(Tcp(Client(i, (ushort)(1000 + (i % 7))), Virtual(i % 2)), 0, servers[0].Endpoint, method) { Local = Client(i + 10_000, 2000) };
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(connection, out _));
        }

        var inbound = new List<FlowKey>();
        var outbound = new List<FlowKey>();
        for (int i = 0; i < 8192; i++)
        {
            // Half hits, half misses that share the client endpoint of a connection but not its VIP or server.
            inbound.Add(Tcp(Client(i % 4096, (ushort)(1000 + (i % 4096 % 7))), Virtual(i < 4096 ? i % 2 : 1 - (i % 2))));
            var peer = i % 4096 % 3 == 0 ? Client((i % 4096) + 10_000, 2000) : Client(i % 4096, (ushort)(1000 + (i % 4096 % 7)));
            outbound.Add(Tcp(i < 4096 ? servers[0].Endpoint : servers[1].Endpoint, i < 6144 ? peer : Client(i + 20_000, 3000)));
        }

        Assert.Equal(4096, AssertSameAsOneByOne([.. inbound], table.TryGetInboundBatch, table.TryGetInbound));
        Assert.Equal(4096, AssertSameAsOneByOne([.. outbound], table.TryGetOutboundBatch, table.TryGetOutbound));
    }

    [Fact]
    public void Batches_ExpireNoDestination_DropConnectionsOfUnavailableServer()
    {
        // The batch decides hits in line unless the table must check servers; with the option on, a connection of an
        // unavailable server is removed and not found, inbound and outbound, and the counters follow.
        var (table, _, _, servers) = NewTable(capacity: 256, expireNoDest: true);
        var inbound = new FlowKey[200];
        for (int i = 0; i < inbound.Length; i++)
        {
            inbound[i] = Tcp(Client(i, 1000), Virtual());
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(inbound[i], i & 1, servers[i & 1].Endpoint, ForwardingMethod.Nat), out _));
        }

        var handles = new ConnectionHandle[inbound.Length];
        Assert.Equal(200, table.TryGetInboundBatch(inbound, handles));
        servers[1].IsAvailable = false;
        Assert.Equal(100, table.TryGetInboundBatch(inbound, handles));
        for (int i = 0; i < inbound.Length; i++)
        {
            Assert.Equal((i & 1) == 0, handles[i].IsSome);
        }

        Assert.Equal(100, table.Count);
        Assert.Equal(0, servers[1].InactiveConnections + servers[1].ActiveConnections);
        Assert.Equal(100, servers[0].InactiveConnections);
        var replies = inbound.Select(k => new FlowKey(L4Protocol.Tcp, servers[0].Endpoint, k.Source)).ToArray();
        Assert.Equal(100, table.TryGetOutboundBatch(replies, handles));
    }

    internal delegate bool OneLookup(in FlowKey key, out ConnectionHandle handle);

    internal delegate int BatchLookup(ReadOnlySpan<FlowKey> keys, Span<ConnectionHandle> handles);

    /// <summary>Asserts that a batched lookup gives every key the handle a one-by-one lookup gives; returns how many were found.</summary>
    internal static int AssertSameAsOneByOne(FlowKey[] keys, BatchLookup batch, OneLookup one)
    {
        var handles = new ConnectionHandle[keys.Length];
        int found = batch(keys, handles);
        int expected = 0;
        for (int i = 0; i < keys.Length; i++)
        {
            bool hit = one(keys[i], out var handle);
            expected += hit ? 1 : 0;
            Assert.Equal(hit ? handle : ConnectionHandle.None, handles[i]);
        }

        Assert.Equal(expected, found);
        return found;
    }

    private static FlowKey Key(byte client, byte vip, byte port, bool udp, bool v6 = false) =>
        new(udp ? L4Protocol.Udp : L4Protocol.Tcp, ClientEndpoint(client, v6), InFamily(Virtual(vip % 3, (ushort)(80 + (port % 2))), v6));

    // Eight client addresses, ports 0 to 3: 32 endpoints, so many connections share one.
    private static InetEndpoint ClientEndpoint(byte n, bool v6 = false) => InFamily(Client(n % 8, (ushort)((n >> 3) % 4)), v6);

    private static InetEndpoint ServerEndpoint(RealServer[] servers, int i, bool v6) => InFamily(servers[i].Endpoint, v6);

    /// <summary>The IPv4 endpoint itself, or an IPv6 endpoint whose address ends in the same 32 bits.</summary>
    private static InetEndpoint InFamily(InetEndpoint endpoint, bool v6) =>
        v6 ? new InetEndpoint(new InetAddress(0x2001_0db8_0000_0000UL, endpoint.Address.Low & 0xFFFF_FFFFUL), endpoint.Port) : endpoint;

    private static FlowKey OtherFamily(FlowKey key) =>
        key.SourceAddress.IsIPv6
            ? new FlowKey(key.Protocol, new InetEndpoint(InetAddress.FromIPv4((uint)key.SourceAddress.Low), key.SourcePort), new InetEndpoint(InetAddress.FromIPv4((uint)key.DestinationAddress.Low), key.DestinationPort))
            : new FlowKey(key.Protocol, InFamily(key.Source, true), InFamily(key.Destination, true));
}
