using System.Diagnostics;
using Lvs.Core;

namespace Lvs.Benchmarks.Director;

/// <summary>
/// <see cref="DirectorEstablishedThreadsBenchmarks"/> in a plain timing loop, for a profiler: <c>established-loop
/// Nat|DirectRouting THREADS [SECONDS]</c> prints the time per frame and thread of each second's operations.
/// </summary>
internal static class EstablishedThreadsLoop
{
    public static int Run(string[] args)
    {
        var method = LoopArguments.Enum(args, 1, ForwardingMethod.Nat);
        int threads = LoopArguments.Int(args, 2, 2);
        double seconds = LoopArguments.Double(args, 3, 10);
        var bench = new DirectorEstablishedThreadsBenchmarks { Forwarding = method, Threads = threads };
        bench.Setup();
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < seconds)
        {
            var watch = Stopwatch.StartNew();
            int operations = 0;
            while (watch.ElapsedMilliseconds < 1000)
            {
                _ = bench.EstablishedFrames();
                operations++;
            }

            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{method} threads {threads}: {watch.Elapsed.TotalNanoseconds / (operations * 64.0 * 256):F1} ns per frame and thread"));
        }

        bench.Cleanup();
        return 0;
    }
}
