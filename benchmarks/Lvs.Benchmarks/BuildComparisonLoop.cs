using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Lvs.ConnectionTracking;
using Lvs.Core;

namespace Lvs.Benchmarks;

/// <summary>
/// Two builds of Lvs.Core and Lvs.ConnectionTracking in one process, measured in alternating rounds (old, new, then
/// new, old, ...), so that both meet the same state of a shared host; BenchmarkDotNet runs each build minutes apart.
/// <c>build-ab WHAT OLD_DIR [NEW_DIR] [ROUNDS]</c>: WHAT is <c>parse-ipv6</c> or <c>parse-ipv4</c> (the frames of
/// FrameParserBenchmarks, 1 M parses a round), <c>insert-batched</c> (ConnectionTableChurnBenchmarks.InsertBatched:
/// 1 M batched inserts into a table holding 1 M, then their removal, untimed) or <c>lookup-batched</c>
/// (ConnectionTableLookupBenchmarks.LookupHitBatched at 1 M: 1 M hits a round, 4096 a call); the directories hold the
/// builds' Lvs.Core.dll and Lvs.ConnectionTracking.dll (NEW_DIR by default this program's own).
/// </summary>
internal static class BuildComparisonLoop
{
    public static int Run(string[] args)
    {
        if (args.Length < 3 || args[1] is not ("parse-ipv6" or "parse-ipv4" or "insert-batched" or "lookup-batched"))
        {
            Console.Error.WriteLine("usage: build-ab parse-ipv6|parse-ipv4|insert-batched|lookup-batched OLD_DIR [NEW_DIR] [ROUNDS]");
            return 2;
        }

        string what = args[1];
        string newDir = args.Length > 3 && !int.TryParse(args[3], out _) ? args[3] : AppContext.BaseDirectory;
        int rounds = int.TryParse(args[^1], out int r) && args.Length > 3 ? r : what is "insert-batched" or "lookup-batched" ? 30 : 200;
        var work = new[] { Load(args[2], "old"), Load(newDir, "new") }
            .Select(a => a.GetType(typeof(BuildComparisonWork).FullName!)!)
            .ToArray();
        var samples = new[] { new List<double>(), new List<double>() };
        Func<int, double>[] round;
        if (what == "insert-batched")
        {
            var states = work.Select(t => t.GetMethod(nameof(BuildComparisonWork.CreateChurn))!.Invoke(null, null)!).ToArray();
            var insert = work.Select(t => t.GetMethod(nameof(BuildComparisonWork.InsertBatchedRound))!.CreateDelegate<Func<object, double>>()).ToArray();
            round = [_ => insert[0](states[0]), _ => insert[1](states[1])];
            Warm(round, 3);
        }
        else if (what == "lookup-batched")
        {
            var states = work.Select(t => t.GetMethod(nameof(BuildComparisonWork.CreateLookups))!.Invoke(null, null)!).ToArray();
            var lookup = work.Select(t => t.GetMethod(nameof(BuildComparisonWork.LookupBatchedRound))!.CreateDelegate<Func<object, double>>()).ToArray();
            round = [_ => lookup[0](states[0]), _ => lookup[1](states[1])];
            Warm(round, 3);
        }
        else
        {
            string frameMethod = what == "parse-ipv6" ? nameof(BuildComparisonWork.TcpV6) : nameof(BuildComparisonWork.TcpV4);
            var frames = work.Select(t => (byte[])t.GetMethod(frameMethod)!.Invoke(null, null)!).ToArray();
            var parse = work.Select(t => t.GetMethod(nameof(BuildComparisonWork.ParseRound))!.CreateDelegate<Func<byte[], int, double>>()).ToArray();
            round = [n => parse[0](frames[0], n), n => parse[1](frames[1], n)];
            for (int w = 0; w < 30; w++)
            {
                _ = round[0](200_000);
                _ = round[1](200_000);
            }
        }

        for (int i = 0; i < rounds; i++)
        {
            foreach (int k in i % 2 == 0 ? [0, 1] : (int[])[1, 0])
            {
                samples[k].Add(round[k](1_000_000));
            }
        }

        var pairRatios = samples[1].Zip(samples[0], (n, o) => n / o).ToList();
        Console.WriteLine($"{what}, {rounds} rounds each, ns per operation (load average {File.ReadAllText("/proc/loadavg").Trim()})");
        Console.WriteLine($"old p10 {Quantile(samples[0], 0.1):F2} median {Quantile(samples[0], 0.5):F2}; new p10 {Quantile(samples[1], 0.1):F2} median {Quantile(samples[1], 0.5):F2}");
        Console.WriteLine($"new/old: p10 {Quantile(samples[1], 0.1) / Quantile(samples[0], 0.1):F3}, median {Quantile(samples[1], 0.5) / Quantile(samples[0], 0.5):F3}, median of the pairs' ratios {Quantile(pairRatios, 0.5):F3}");
        return 0;
    }

    private static void Warm(Func<int, double>[] round, int count)
    {
        for (int w = 0; w < count; w++)
        {
            _ = round[0](0);
            _ = round[1](0);
        }
    }

    private static double Quantile(List<double> values, double q)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)(q * (sorted.Count - 1))];
    }

    /// <summary>This assembly again, in a context that takes Lvs.Core and Lvs.ConnectionTracking from <paramref name="directory"/>.</summary>
    private static Assembly Load(string directory, string name) =>
        new BuildContext(Path.GetFullPath(directory), name).LoadFromAssemblyPath(typeof(BuildComparisonLoop).Assembly.Location);

    private sealed class BuildContext(string directory, string name) : AssemblyLoadContext(name)
    {
        protected override Assembly? Load(AssemblyName assemblyName)
        {
            string path = Path.Combine(directory, assemblyName.Name + ".dll");
            return assemblyName.Name is "Lvs.Core" or "Lvs.ConnectionTracking" ? LoadFromAssemblyPath(path) : null;
        }
    }
}

/// <summary>What <see cref="BuildComparisonLoop"/> runs in each build's context (public for reflection).</summary>
public static class BuildComparisonWork
{
    private const int Resident = 1_000_000;
    private const int Churn = 1_000_000;

    /// <summary>The IPv6 frame of FrameParserBenchmarks.</summary>
    /// <returns>The frame.</returns>
    public static byte[] TcpV6() => Core.BenchmarkFrames.TcpV6(10);

    /// <summary>The IPv4 frame of FrameParserBenchmarks.</summary>
    /// <returns>The frame.</returns>
    public static byte[] TcpV4() => Core.BenchmarkFrames.TcpV4(10);

    /// <summary>Parses the frame <paramref name="count"/> times, reading the ports as FrameParserBenchmarks does.</summary>
    /// <param name="frame">The frame.</param>
    /// <param name="count">How many parses.</param>
    /// <returns>Nanoseconds per parse.</returns>
    public static double ParseRound(byte[] frame, int count)
    {
        long sum = 0;
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++)
        {
            sum += ParseOne(frame);
        }

        double ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds / count;
        return sum == (long)count * (40000 + 80) ? ns : throw new InvalidOperationException("The frame did not parse.");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int ParseOne(byte[] frame)
    {
        _ = FrameParser.Parse(frame, out var parsed);
        return parsed.Flow.SourcePort + parsed.Flow.DestinationPort;
    }

    /// <summary>The table and new connections of ConnectionTableChurnBenchmarks.</summary>
    /// <returns>The state for <see cref="InsertBatchedRound"/>.</returns>
    public static object CreateChurn()
    {
        var fixture = new ConnectionTracking.ConnectionTableFixture(Resident, Resident + Churn);
        var server = fixture.Registry[0].Endpoint;
        var connections = new NewConnection[Churn];
        for (int i = 0; i < Churn; i++)
        {
            connections[i] = new NewConnection(fixture.Inbound(Resident + i), 0, server, ForwardingMethod.Nat);
        }

        return (fixture.Table, connections, new ConnectionHandle[Churn], new AddConnectionResult[Churn]);
    }

    /// <summary>The table of ConnectionTableLookupBenchmarks at 1 M connections.</summary>
    /// <returns>The state for <see cref="LookupBatchedRound"/>.</returns>
    public static object CreateLookups() => new ConnectionTracking.ConnectionTableFixture(Resident, Resident);

    /// <summary>1 M batched inbound hits, 4096 a call, as ConnectionTableLookupBenchmarks.LookupHitBatched.</summary>
    /// <param name="state">From <see cref="CreateLookups"/>.</param>
    /// <returns>Nanoseconds per lookup.</returns>
    public static double LookupBatchedRound(object state)
    {
        var fixture = (ConnectionTracking.ConnectionTableFixture)state;
        var handles = new ConnectionHandle[4096];
        int cursor = 0;
        int found = 0;
        int calls = Resident / handles.Length;
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < calls; i++)
        {
            found += fixture.ProbeBatched(ref cursor, handles);
        }

        double ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds / (calls * handles.Length);
        return found == calls * handles.Length ? ns : throw new InvalidOperationException("Not every connection was found.");
    }

    /// <summary>Adds the new connections 256 a call, as ConnectionTableChurnBenchmarks.InsertBatched, then removes them (untimed).</summary>
    /// <param name="state">From <see cref="CreateChurn"/>.</param>
    /// <returns>Nanoseconds per insert.</returns>
    public static double InsertBatchedRound(object state)
    {
        var (table, connections, handles, results) = ((ConnectionTable, NewConnection[], ConnectionHandle[], AddConnectionResult[]))state;
        int added = 0;
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < connections.Length; i += 256)
        {
            int n = Math.Min(256, connections.Length - i);
            added += table.TryAddBatch(connections.AsSpan(i, n), handles.AsSpan(i, n), results.AsSpan(i, n));
        }

        double ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds / connections.Length;
        foreach (var h in handles)
        {
            _ = table.Remove(h);
        }

        return added == connections.Length ? ns : throw new InvalidOperationException("Not every connection was added.");
    }
}
