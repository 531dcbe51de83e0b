#if LVS_FORWARDING_BASELINE
using System.Diagnostics;

namespace Lvs.Benchmarks.Forwarding;

/// <summary>
/// The A/B of <see cref="ForwardingRegressionBenchmarks"/> as one timing loop that alternates old and new code every
/// few milliseconds, for a host too loaded for BenchmarkDotNet's sequential cases to see the same conditions: each
/// round times a batch of the old rewrite, then a batch of the new one, and the figures are the 10th percentile and
/// the median of the rounds' ns/op (the low percentile is the least disturbed by other processes).
/// </summary>
/// <remarks>Run: <c>LvsForwardingBaseline=DIR dotnet run -c Release --project benchmarks/Lvs.Benchmarks -- forwarding-ab [rounds]</c>.</remarks>
internal static class ForwardingRegressionLoop
{
    public static int Run(string[] args)
    {
        int rounds = LoopArguments.Int(args, 1, 400);
        const int Batch = 20_000;
        Console.WriteLine($"{"frame",-14} {"method",-8} {"old p10",9} {"new p10",9} {"p10 ratio",9} {"old p50",9} {"new p50",9} {"p50 ratio",9}");
        foreach (string frame in ForwardingRegressionBenchmarks.Frames)
        {
            var bench = new ForwardingRegressionBenchmarks { Frame = frame };
            bench.Setup();
            (string Name, Func<int> Old, Func<int> New)[] pairs =
            [
                ("DR", bench.Old_DirectRouting, bench.New_DirectRouting),
                ("NAT", bench.Old_Nat, bench.New_Nat),
                ("FULLNAT", bench.Old_FullNat, bench.New_FullNat),
                ("TUN", bench.Old_Tunnel, bench.New_Tunnel),
            ];
            foreach (var (name, oldCase, newCase) in pairs)
            {
                // Warm up both through tiering (and dynamic PGO) before measuring.
                for (int i = 0; i < 50; i++)
                {
                    _ = Time(oldCase, Batch);
                    _ = Time(newCase, Batch);
                }

                var oldTimes = new double[rounds];
                var newTimes = new double[rounds];
                for (int r = 0; r < rounds; r++)
                {
                    if ((r & 1) == 0)
                    {
                        oldTimes[r] = Time(oldCase, Batch);
                        newTimes[r] = Time(newCase, Batch);
                    }
                    else
                    {
                        newTimes[r] = Time(newCase, Batch);
                        oldTimes[r] = Time(oldCase, Batch);
                    }
                }

                Array.Sort(oldTimes);
                Array.Sort(newTimes);
                double oldP10 = oldTimes[rounds / 10], newP10 = newTimes[rounds / 10];
                double oldP50 = oldTimes[rounds / 2], newP50 = newTimes[rounds / 2];
                Console.WriteLine($"{frame,-14} {name,-8} {oldP10,9:F2} {newP10,9:F2} {newP10 / oldP10,9:F3} {oldP50,9:F2} {newP50,9:F2} {newP50 / oldP50,9:F3}");
            }
        }

        return 0;
    }

    private static double Time(Func<int> body, int count)
    {
        int sink = 0;
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++)
        {
            sink += body();
        }

        long elapsed = Stopwatch.GetTimestamp() - start;
        GC.KeepAlive(sink);
        return elapsed * (1e9 / Stopwatch.Frequency) / count;
    }
}
#endif
