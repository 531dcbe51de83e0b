using System.Diagnostics;
using Lvs.Core;

namespace Lvs.Benchmarks.Director;

/// <summary>
/// <see cref="DirectorEngineBenchmarks.Engine_Established"/> and its parts in a plain timing loop, for profiling the
/// engine's per-frame path (BenchmarkDotNet's child processes are hard to attach a profiler to). Prints the time per
/// frame of each, in the order run, every round.
/// </summary>
internal static class DirectorEngineLoop
{
    public static int Run(string[] args)
    {
        var method = LoopArguments.Enum(args, 1, ForwardingMethod.Nat);
        double seconds = LoopArguments.Double(args, 2, 10);
        string only = args.Length > 3 && args[3] != "all" ? args[3] : "";
        int connections = LoopArguments.Int(args, 4, 1_000_000);
        var bench = new DirectorEngineBenchmarks { Forwarding = method, Connections = connections };
        bench.Setup();
        var floor = new ConnectionTracking.MemoryFloorBenchmarks();
        floor.Setup();
        var cases = new (string Name, Func<int> Run)[]
        {
            ("engine", bench.Engine_Established),
            ("reply", method is ForwardingMethod.Nat or ForwardingMethod.FullNat ? bench.Engine_Reply : () => 0),
            ("reply-lookup", method is ForwardingMethod.Nat or ForwardingMethod.FullNat ? bench.Part_ReplyLookup : () => 0),
            ("parse", bench.Part_Parse),
            ("lookup", bench.Part_BatchedLookup),
            ("update", bench.Part_Update),
            ("copy+rewrite", bench.Part_CopyAndRewrite),
            ("floor-bucket-entry", floor.BucketThenEntry),
        };
        if (only.Length > 0)
        {
            cases = [.. cases.Where(c => c.Name == only)];
        }

        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < seconds)
        {
            var line = new System.Text.StringBuilder();
            double parts = 0;
            foreach (var (name, run) in cases)
            {
                const int Ops = 4096;
                var watch = Stopwatch.StartNew();
                for (int i = 0; i < Ops; i++)
                {
                    _ = run();
                }

                double ns = watch.Elapsed.TotalNanoseconds / (Ops * 64.0);
                if (name is not "engine" and not "reply" and not "reply-lookup" and not "floor-bucket-entry")
                {
                    parts += ns;
                }

                _ = line.Append(System.Globalization.CultureInfo.InvariantCulture, $"{name} {ns:F1}  ");
            }

            Console.WriteLine(only.Length > 0 ? line.ToString() : $"{line}parts {parts:F1}");
        }

        bench.Cleanup();
        return 0;
    }
}
