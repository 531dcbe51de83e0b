using Lvs.Core;
using Lvs.Core.Headers;
using Microsoft.Extensions.Time.Testing;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

public class MemoryDefaultsTests
{
    [Fact]
    public void DefaultOptions_IPv6MemoryReservedOnlyByFirstIPv6Entry()
    {
        var registry = new RealServerRegistry();
        var server = new RealServer(Server(0), 1, ForwardingMethod.Nat);
        var server6 = new RealServer(InetEndpoint.Parse("[2001:db8:1::10]:8080"), 1, ForwardingMethod.Nat);
        _ = registry.Register(server);
        _ = registry.Register(server6);

        // With the IPv6 capacity left to its default, building the table allocates about as much as with the smallest one
        // (reserving the default 8192 IPv6 slots at once would take a megabyte more).
        long a0 = GC.GetAllocatedBytesForCurrentThread();
        var smallest = new ConnectionTable(new ConnectionTableOptions { Capacity = 65536, IPv6Capacity = 1 }, registry);
        long a1 = GC.GetAllocatedBytesForCurrentThread();
        var table = new ConnectionTable(new ConnectionTableOptions { Capacity = 65536 }, registry, new FakeTimeProvider());
        long a2 = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(a2 - a1 <= a1 - a0 + 65536, $"default {a2 - a1} B, smallest IPv6 {a1 - a0} B");
        Assert.False(table.IsIPv6Reserved);
        Assert.Equal(8192, table.IPv6Capacity);
        GC.KeepAlive(smallest);

        // IPv4 traffic and IPv6 lookups leave it unreserved.
        _ = table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, server.Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out _);
        var flow6 = Tcp(InetEndpoint.Parse("[2001:db8:2::5]:40000"), InetEndpoint.Parse("[2001:db8:ffff::1]:80"));
        Assert.False(table.TryGetInbound(flow6, out _));
        Assert.Equal(0, table.TryGetInboundBatch([flow6], new ConnectionHandle[1]));
        _ = table.RunHousekeeping();
        Assert.False(table.IsIPv6Reserved);

        // The first IPv6 entry reserves it, with the full default capacity.
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(flow6, 1, server6.Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var h6));
        Assert.True(table.IsIPv6Reserved);
        Assert.True(table.TryGetInbound(flow6, out var found));
        Assert.Equal(h6, found);
        Assert.Equal(2, table.Count);
        Assert.Equal(2, table.Enumerate().Count());
    }

    [Fact]
    public void DefaultOptions_FirstIPv6EntryInBatchOrTemplate_ReservesIPv6()
    {
        var (_, registry, _, _) = NewTable();
        var server6 = new RealServer(InetEndpoint.Parse("[2001:db8:1::10]:8080"), 1, ForwardingMethod.Nat);
        int index = registry.Register(server6);
        var flow6 = Tcp(InetEndpoint.Parse("[2001:db8:2::5]:40000"), InetEndpoint.Parse("[2001:db8:ffff::1]:80"));

        var batched = new ConnectionTable(new ConnectionTableOptions { Capacity = 1024 }, registry, new FakeTimeProvider());
        var results = new AddConnectionResult[2];
        var handles = new ConnectionHandle[2];
        Assert.Equal(2, batched.TryAddBatch([new NewConnection(Tcp(Client(1), Virtual()), 0, Server(0), ForwardingMethod.Nat), new NewConnection(flow6, index, server6.Endpoint, ForwardingMethod.Nat)], handles, results));
        Assert.True(batched.IsIPv6Reserved);
        Assert.True(batched.TryGetInbound(flow6, out var found));
        Assert.Equal(handles[1], found);

        var templated = new ConnectionTable(new ConnectionTableOptions { Capacity = 1024 }, registry, new FakeTimeProvider());
        var key = PersistenceKey.Create(VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("[2001:db8:ffff::1]:80")), flow6, 64);
        Assert.Equal(AddConnectionResult.Added, templated.TryAddTemplate(key, index, server6.Endpoint, 300, out _));
        Assert.True(templated.IsIPv6Reserved);
        Assert.True(templated.TryGetTemplate(key, out _, out _));
    }
}
