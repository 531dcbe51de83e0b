using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Benchmarks.ConnectionTracking;

/// <summary>
/// A SYN flood's inserts into a full table: the table (1 Mi slots, so 16 writer shards) is full of half-open
/// connections (SYN_RECV, what a flood of spoofed SYNs leaves), and every insert of a new one must shed one of them
/// (flood defence, the kernel's ip_vs_random_dropentry), one by one (<c>TryAdd</c>) or batched (<c>TryAddBatch</c>).
/// Per insert.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 8, invocationCount: 1)]
public class ConnectionTableFloodBenchmarks
{
    private const int Capacity = 1 << 20;
    private const int Flood = 1 << 20;
    private ConnectionTable _table = null!;
    private NewConnection[] _flood = null!;
    private ConnectionHandle[] _added = null!;
    private AddConnectionResult[] _results = null!;
    private int _round;

    [GlobalSetup]
    public void Setup()
    {
        var registry = new RealServerRegistry();
        var server = new InetEndpoint(InetAddress.FromIPv4(0xAC10_0001), 8080);
        _ = registry.Register(new RealServer(server, 1, ForwardingMethod.Nat));
        _table = new ConnectionTable(new ConnectionTableOptions { Capacity = Capacity, IPv6Capacity = 1024 }, registry, new ManualClock());
        _flood = new NewConnection[Flood];
        _added = new ConnectionHandle[Flood];
        _results = new AddConnectionResult[Flood];

        // The table filled with half-open connections, from clients never used again (round 1's).
        NextRound();
        _ = InsertBatchedIntoFullTable();
        if (_table.Count != Capacity)
        {
            throw new InvalidOperationException($"The table holds {_table.Count} connections, not {Capacity}.");
        }
    }

    [IterationSetup]
    public void NextRound()
    {
        _round++;
        var server = new InetEndpoint(InetAddress.FromIPv4(0xAC10_0001), 8080);
        var vip = new InetEndpoint(InetAddress.FromIPv4(0xC000_020A), 80);
        for (int i = 0; i < Flood; i++)
        {
            var client = new InetEndpoint(InetAddress.FromIPv4((uint)((_round << 24) + (i >> 4))), (ushort)(1024 + (i & 15)));
            _flood[i] = new NewConnection(new FlowKey(L4Protocol.Tcp, client, vip), 0, server, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn };
        }
    }

    /// <summary>One insert at a time, each shedding a half-open connection.</summary>
    /// <returns>How many were added.</returns>
    [Benchmark(OperationsPerInvoke = Flood)]
    public int InsertIntoFullTable()
    {
        int added = 0;
        for (int i = 0; i < _flood.Length; i++)
        {
            added += _table.TryAdd(_flood[i], out _added[i]) == AddConnectionResult.Added ? 1 : 0;
        }

        return Checked(added);
    }

    /// <summary>Batches of 64, as a packet worker adds a batch's new connections.</summary>
    /// <returns>How many were added.</returns>
    [Benchmark(OperationsPerInvoke = Flood)]
    public int InsertBatchedIntoFullTable()
    {
        int added = 0;
        for (int i = 0; i < _flood.Length; i += 64)
        {
            added += _table.TryAddBatch(_flood.AsSpan(i, 64), _added.AsSpan(i, 64), _results.AsSpan(i, 64));
        }

        return Checked(added);
    }

    private static int Checked(int added) =>
        added == Flood ? added : throw new InvalidOperationException($"Only {added} of {Flood} half-open connections were added: flood defence shed too few.");
}
