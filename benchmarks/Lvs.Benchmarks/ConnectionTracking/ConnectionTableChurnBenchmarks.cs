using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Benchmarks.ConnectionTracking;

/// <summary>
/// Insert (one by one and batched) and expire, per connection, into a table already holding 1 M connections: each iteration inserts 1 M new
/// connections (insert), or expires 1 M connections that are due at the same tick (expire).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 8, invocationCount: 1)]
public class ConnectionTableChurnBenchmarks
{
    private const int Resident = 1_000_000;
    private const int Churn = 1_000_000;
    private ConnectionTableFixture _fixture = null!;
    private NewConnection[] _new = null!;
    private NewConnection[] _newWithSyn = null!;
    private ConnectionHandle[] _added = null!;
    private AddConnectionResult[] _results = null!;
    private int[]? _removalOrder;

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new ConnectionTableFixture(Resident, Resident + Churn);
        _new = new NewConnection[Churn];
        _newWithSyn = new NewConnection[Churn];
        _added = new ConnectionHandle[Churn];
        _results = new AddConnectionResult[Churn];
        var server = _fixture.Registry[0].Endpoint;
        for (int i = 0; i < Churn; i++)
        {
            _new[i] = new NewConnection(_fixture.Inbound(Resident + i), 0, server, ForwardingMethod.Nat);
            _newWithSyn[i] = _new[i] with { FirstPacket = TcpFlags.Syn };
        }
    }

    [IterationCleanup(Targets = [nameof(Insert), nameof(InsertBatched), nameof(InsertBatchedFirstPacket)])]
    public void RemoveInserted()
    {
        foreach (var h in _added)
        {
            _ = _fixture.Table.Remove(h);
        }
    }

    /// <summary>
    /// Removes the inserted connections in a random order, as connections end in a live table, so that the LIFO free
    /// list hands their slots out again in a random order: the next inserts take cold, scattered slots, and each pop
    /// of the list reads such a slot to find the next. <see cref="RemoveInserted"/> frees them in the order they were
    /// added, and the inserts after it take nearly consecutive slots, the most recently freed (still cached) first,
    /// as a director does that reuses slots its housekeeping has just freed. This is the pessimistic case.
    /// </summary>
    [IterationCleanup(Target = nameof(InsertBatchedAfterRandomRemovals))]
    public void RemoveInsertedInRandomOrder()
    {
        _removalOrder ??= ShuffledIndexes(_added.Length, seed: 11);
        foreach (int i in _removalOrder)
        {
            _ = _fixture.Table.Remove(_added[i]);
        }
    }

    [Benchmark(OperationsPerInvoke = Churn)]
    public int Insert()
    {
        var table = _fixture.Table;
        int added = 0;
        for (int i = 0; i < _new.Length; i++)
        {
            added += table.TryAdd(_new[i], out _added[i]) == AddConnectionResult.Added ? 1 : 0;
        }

        return added;
    }

    /// <summary>The same inserts through <see cref="ConnectionTable.TryAddBatch"/>, 256 a call (the new connections of a receive batch).</summary>
    [Benchmark(OperationsPerInvoke = Churn)]
    public int InsertBatched()
    {
        var table = _fixture.Table;
        int added = 0;
        for (int i = 0; i < _new.Length; i += 256)
        {
            int n = Math.Min(256, _new.Length - i);
            added += table.TryAddBatch(_new.AsSpan(i, n), _added.AsSpan(i, n), _results.AsSpan(i, n));
        }

        return added;
    }

    /// <summary>
    /// <see cref="InsertBatched"/> with each connection's first packet (a SYN) applied by the insert
    /// (<see cref="NewConnection.FirstPacket"/>): the connections start in SYN_RECV, counted active, in one call.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Churn)]
    public int InsertBatchedFirstPacket()
    {
        var table = _fixture.Table;
        int added = 0;
        for (int i = 0; i < _newWithSyn.Length; i += 256)
        {
            int n = Math.Min(256, _newWithSyn.Length - i);
            added += table.TryAddBatch(_newWithSyn.AsSpan(i, n), _added.AsSpan(i, n), _results.AsSpan(i, n));
        }

        return added;
    }

    /// <summary><see cref="InsertBatched"/> after <see cref="RemoveInsertedInRandomOrder"/>: the new connections land in scattered, cold free slots.</summary>
    [Benchmark(OperationsPerInvoke = Churn)]
    public int InsertBatchedAfterRandomRemovals() => InsertBatched();

    private static int[] ShuffledIndexes(int count, int seed)
    {
        int[] order = [.. Enumerable.Range(0, count)];
        new Random(seed).Shuffle(order);
        return order;
    }

    [IterationSetup(Target = nameof(Expire))]
    public void AddDue()
    {
        // Housekeeping first, so the resident connections' timers are filed far ahead and only the new ones are due.
        _ = _fixture.Table.RunHousekeeping();
        foreach (var c in _new)
        {
            _ = _fixture.Table.TryAdd(c, out _);
        }

        _fixture.Clock.Advance(TimeSpan.FromSeconds(3));
    }

    [Benchmark(OperationsPerInvoke = Churn)]
    public int Expire() => _fixture.Table.RunHousekeeping();
}
