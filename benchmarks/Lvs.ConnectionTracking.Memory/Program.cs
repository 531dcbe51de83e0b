using System.Globalization;
using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Core.Headers;

// Fills a connection table to capacity and reports the managed heap it holds per live connection (entries and both
// hash indexes included), and the bytes allocated per lookup, update and insert (one by one and batched) after warm-up.
// Usage: dotnet run -c Release --project benchmarks/Lvs.ConnectionTracking.Memory [-- 1000000 10000000]
int[] sizes = args.Length > 0 ? args.Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [1_000_000, 10_000_000];
Console.WriteLine("family  connections   heap MiB   bytes/conn   alloc/op (lookup, update, insert, batched lookup, batched insert)");
foreach (int n in sizes)
{
    MeasureDefaults(n);
}

foreach (bool ipv6 in new[] { false, true })
{
    foreach (int n in sizes)
    {
        Measure(n, ipv6);
    }
}

static void Measure(int n, bool ipv6)
{
    var registry = new RealServerRegistry();
    var server = new RealServer(new InetEndpoint(ipv6 ? InetAddress.Parse("2001:db8:1::1") : InetAddress.Parse("172.16.0.1"), 8080), 1, ForwardingMethod.Nat);
    _ = registry.Register(server);
    var vip = new InetEndpoint(ipv6 ? InetAddress.Parse("2001:db8:ffff::1") : InetAddress.Parse("192.0.2.10"), 80);

    long before = Heap();
    var table = new ConnectionTable(new ConnectionTableOptions { Capacity = ipv6 ? 16 : n, IPv6Capacity = ipv6 ? n : 16 }, registry);
    for (int i = 0; i < n; i++)
    {
        _ = table.TryAdd(new NewConnection(Key(i, ipv6, vip), 0, server.Endpoint, ForwardingMethod.Nat), out var h);
        _ = table.Update(h, PacketDirection.Inbound, TcpFlags.Syn);
    }

    long after = Heap();
    double perConnection = (after - before) / (double)table.Count;

    // Allocation per operation after warm-up: the same work again, counted by the allocator of this thread.
    const int Ops = 200_000;
    long a0 = GC.GetAllocatedBytesForCurrentThread();
    for (int i = 0; i < Ops; i++)
    {
        _ = table.TryGetInbound(Key(i, ipv6, vip), out _);
    }

    long a1 = GC.GetAllocatedBytesForCurrentThread();
    _ = table.TryGetInbound(Key(0, ipv6, vip), out var handle);
    for (int i = 0; i < Ops; i++)
    {
        _ = table.Update(handle, PacketDirection.Inbound, TcpFlags.Ack);
    }

    long a2 = GC.GetAllocatedBytesForCurrentThread();
    for (int i = 0; i < Ops; i++)
    {
        _ = table.TryGetInbound(Key(i, ipv6, vip), out var h);
        _ = table.Remove(h);
        _ = table.TryAdd(new NewConnection(Key(i, ipv6, vip), 0, server.Endpoint, ForwardingMethod.Nat), out _);
    }

    long a3 = GC.GetAllocatedBytesForCurrentThread();

    // The batched forms, 256 at a time, with their buffers allocated before counting.
    const int Batch = 256;
    var keys = new FlowKey[Batch];
    var connections = new NewConnection[Batch];
    var handles = new ConnectionHandle[Batch];
    var results = new AddConnectionResult[Batch];
    long a4 = 0, a5 = 0;
    for (int i = 0; i < Ops; i += Batch)
    {
        for (int j = 0; j < Batch; j++)
        {
            keys[j] = Key(i + j, ipv6, vip);
            connections[j] = new NewConnection(keys[j], 0, server.Endpoint, ForwardingMethod.Nat);
        }

        long b0 = GC.GetAllocatedBytesForCurrentThread();
        _ = table.TryGetInboundBatch(keys, handles);
        long b1 = GC.GetAllocatedBytesForCurrentThread();
        foreach (var h in handles)
        {
            _ = table.Remove(h);
        }

        long b2 = GC.GetAllocatedBytesForCurrentThread();
        _ = table.TryAddBatch(connections, handles, results);
        a4 += b1 - b0;
        a5 += GC.GetAllocatedBytesForCurrentThread() - b2;
    }

    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"{(ipv6 ? "IPv6" : "IPv4"),-7} {table.Count,11:N0} {(after - before) / 1048576.0,10:F1} {perConnection,12:F1}   {(a1 - a0) / (double)Ops:F3}, {(a2 - a1) / (double)Ops:F3}, {(a3 - a2) / (double)Ops:F3}, {a4 / (double)Ops:F3}, {a5 / (double)Ops:F3}"));
    GC.KeepAlive(table);
}

// The default options (IPv6 capacity left unset): an IPv4-only table, then the IPv6 memory its first IPv6 entry reserves.
static void MeasureDefaults(int n)
{
    var registry = new RealServerRegistry();
    var server = new RealServer(new InetEndpoint(InetAddress.Parse("172.16.0.1"), 8080), 1, ForwardingMethod.Nat);
    var server6 = new RealServer(new InetEndpoint(InetAddress.Parse("2001:db8:1::1"), 8080), 1, ForwardingMethod.Nat);
    _ = registry.Register(server);
    _ = registry.Register(server6);
    var vip = new InetEndpoint(InetAddress.Parse("192.0.2.10"), 80);
    var vip6 = new InetEndpoint(InetAddress.Parse("2001:db8:ffff::1"), 80);
    long before = Heap();
    var table = new ConnectionTable(new ConnectionTableOptions { Capacity = n }, registry);
    for (int i = 0; i < n; i++)
    {
        _ = table.TryAdd(new NewConnection(Key(i, false, vip), 0, server.Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out _);
    }

    long after = Heap();
    _ = table.TryAdd(new NewConnection(Key(0, true, vip6), 1, server6.Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out _);
    long withIPv6 = Heap();
    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"defaults, IPv4 only: {n:N0} connections, {(after - before) / 1048576.0:F1} MiB, {(after - before) / (double)n:F1} bytes/conn; the first IPv6 entry reserves {(withIPv6 - after) / 1048576.0:F1} MiB for {table.IPv6Capacity:N0} IPv6 entries ({(withIPv6 - before) / (double)n:F1} bytes per IPv4 connection then)"));
    GC.KeepAlive(table);
}

static long Heap()
{
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    GC.WaitForPendingFinalizers();
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    return GC.GetTotalMemory(forceFullCollection: true);
}

static FlowKey Key(int n, bool ipv6, InetEndpoint vip)
{
    var client = ipv6 ? new InetAddress(0x2001_0db8_0000_0000UL, (ulong)(n >> 6) + 1) : InetAddress.FromIPv4(0x0A00_0000u + (uint)(n >> 6));
    return new FlowKey(L4Protocol.Tcp, new InetEndpoint(client, (ushort)(1024 + (n & 63))), vip);
}
