using BenchmarkDotNet.Attributes;
using Lvs.ConnectionTracking;

namespace Lvs.Benchmarks.ConnectionTracking;

/// <summary>
/// What the host's memory allows a lookup among 1 M connections, with no table code at all: the floor that
/// <see cref="Director.DirectorEngineBenchmarks"/>' batched lookup (and so the engine's per-frame cost) cannot go
/// below. The arrays have the sizes of the engine benchmark's table (64 MiB of 64-byte entries for 1 M connections,
/// about 10 MiB of 64-byte index buckets for a capacity of 2 M) and ask for transparent huge pages as the table does;
/// lines are picked at random from a pool of 16,384, 64 per operation, as that benchmark picks its frames' connections
/// (so in both, once warm, most lines come from the shared L3 cache rather than DRAM).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>DependentLine</c>: one line after another, each address read from the previous line (a pointer chase
/// through all 64 MiB): the latency of one DRAM read.</item>
/// <item><c>IndependentLine</c>: 64 lines prefetched at once, then read: one DRAM line with all the memory-level
/// parallelism the core offers.</item>
/// <item><c>BucketThenEntry</c>: the batched lookup's two dependent lines per packet, with group prefetching (every
/// bucket of the group prefetched, then each bucket read for its entry's index and the entry prefetched, then every
/// entry read): the floor of <c>Part_BatchedLookup</c>.</item>
/// </list>
/// </remarks>
[Config(typeof(MedianJobConfig))]
public class MemoryFloorBenchmarks
{
    private const int Group = 64;
    private const int LineInts = 16;
    private const int Entries = 1 << 20;
    private const int Buckets = (2 << 20) / 13;
    private const int Pool = 16384;

    private int[] _entries = [];
    private int[] _buckets = [];
    private int[] _bucketOf = [];
    private int[] _entryOf = [];
    private int _chase;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        _entries = HugePages.AllocatePinned<int>(Entries * LineInts);
        _buckets = HugePages.AllocatePinned<int>(Buckets * LineInts);
        Array.Clear(_buckets);

        // The chase: one random cycle through every entry line (Sattolo's shuffle), so no line is visited twice in a row.
        var order = Enumerable.Range(0, Entries).ToArray();
        for (int i = Entries - 1; i > 0; i--)
        {
            int j = random.Next(i);
            (order[i], order[j]) = (order[j], order[i]);
        }

        for (int i = 0; i < Entries; i++)
        {
            _entries[order[i] * LineInts] = order[(i + 1) % Entries];
        }

        // Each bucket holds the index of a random entry, as a cell of the inbound index does.
        for (int b = 0; b < Buckets; b++)
        {
            _buckets[b * LineInts] = random.Next(Entries);
        }

        _bucketOf = [.. Enumerable.Range(0, Pool).Select(_ => random.Next(Buckets))];
        _entryOf = [.. Enumerable.Range(0, Pool).Select(_ => random.Next(Entries))];
    }

    /// <summary>A dependent DRAM read: the next line's index is in this one.</summary>
    [Benchmark(OperationsPerInvoke = Group)]
    public int DependentLine()
    {
        int at = _chase;
        for (int i = 0; i < Group; i++)
        {
            at = _entries[at * LineInts];
        }

        _chase = at;
        return at;
    }

    /// <summary>A DRAM line among 64 read at once: all prefetched, then all read.</summary>
    [Benchmark(OperationsPerInvoke = Group)]
    public int IndependentLine()
    {
        var entries = _entryOf.AsSpan(NextGroup(), Group);
        for (int i = 0; i < entries.Length; i++)
        {
            MemoryPrefetch.Line(ref _entries[entries[i] * LineInts]);
        }

        int sum = 0;
        for (int i = 0; i < entries.Length; i++)
        {
            sum += _entries[entries[i] * LineInts];
        }

        return sum;
    }

    /// <summary>A bucket line, then the entry line it names, for 64 packets at once (the batched lookup's stages).</summary>
    [Benchmark(OperationsPerInvoke = Group)]
    public int BucketThenEntry()
    {
        var buckets = _bucketOf.AsSpan(NextGroup(), Group);
        Span<int> entries = stackalloc int[Group];
        for (int i = 0; i < buckets.Length; i++)
        {
            MemoryPrefetch.Line(ref _buckets[buckets[i] * LineInts]);
        }

        for (int i = 0; i < buckets.Length; i++)
        {
            int entry = _buckets[buckets[i] * LineInts];
            entries[i] = entry;
            MemoryPrefetch.Line(ref _entries[entry * LineInts]);
        }

        int sum = 0;
        for (int i = 0; i < entries.Length; i++)
        {
            sum += _entries[entries[i] * LineInts];
        }

        return sum;
    }

    private int NextGroup()
    {
        int first = _next;
        _next = first + Group == Pool ? 0 : first + Group;
        return first;
    }
}
