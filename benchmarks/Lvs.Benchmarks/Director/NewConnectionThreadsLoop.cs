using System.Diagnostics;
using Lvs.Core;

namespace Lvs.Benchmarks.Director;

/// <summary>
/// DirectorNewConnectionBenchmarks as a plain timing loop on its packet threads (<see cref="PacketThreads"/>: lane 0 on
/// the calling thread, which also runs housekeeping between rounds), with the packet threads' time and
/// housekeeping's time reported apart: <c>newconn-loop nat|dr|table THREADS [ROUNDS] [separate|unsteered]</c>. A round is 256 batches of
/// 64 SYNs per thread; every 65,536 flows the clock moves on 62 s and housekeeping expires them, as in the benchmark.
/// </summary>
/// <remarks>
/// <c>separate</c> gives every packet thread an engine of its own (its own service, scheduler, real servers and
/// connection table), whose housekeeping runs on that thread after its round: nothing is shared between the threads,
/// so the figure is what this host allows two threads of new connections at most, the ceiling against which the
/// shared engine's figure is judged. The shared engine's table has a partition per thread and steered flows
/// (<c>ConnectionTableOptions.SteeredFlows</c>, as <c>lvs-director --partition-connections</c> sets them);
/// <c>unsteered</c> keeps the partitions but looks for every miss in the other threads' partitions too.
/// </remarks>
internal static class NewConnectionThreadsLoop
{
    private const int Batch = NewConnectionLane.Batch;
    private const int BatchesPerRound = 256;
    private const int Generation = 65536;

    public static int Run(string[] args)
    {
        bool tableOnly = args.Length > 1 && args[1] == "table";
        var method = args.Length > 1 && args[1] == "dr" ? ForwardingMethod.DirectRouting : ForwardingMethod.Nat;
        int threads = LoopArguments.Int(args, 2, 1);
        int rounds = LoopArguments.Int(args, 3, 400);
        bool separate = args.Length > 4 && args[4] == "separate";
        bool unsteered = args.Length > 4 && args[4] == "unsteered";
        using var fixture = new DirectorFixture(method, capacity: 1 << 19, packetThreads: separate ? 1 : threads, steered: !unsteered);
        var fixtures = Enumerable.Range(0, threads).Select(t => separate && t > 0 ? new DirectorFixture(method, capacity: 1 << 19) : fixture).ToArray();
        var lanes = Enumerable.Range(0, threads).Select(t => new NewConnectionLane(fixtures[t], t)).ToArray();
        bool expireInLanes = false;
        var cpuNanoseconds = new long[threads];
        using var packetThreads = new PacketThreads(threads);
        void RunLane(int lane)
        {
            long cpu = ThreadCpuNanoseconds();
            if (tableOnly)
            {
                lanes[lane].RunTable(BatchesPerRound);
            }
            else
            {
                lanes[lane].Run(BatchesPerRound);
            }

            cpuNanoseconds[lane] += ThreadCpuNanoseconds() - cpu;
            if (expireInLanes)
            {
                fixtures[lane].Clock.Advance(TimeSpan.FromSeconds(62));
                _ = fixtures[lane].Engine.Connections.RunHousekeeping();
            }
        }

        int sinceExpiry = 0;
        double packetNs = 0;
        double housekeepingNs = 0;
        long ops = 0;
        for (int round = 0; round < rounds + 20; round++)
        {
            long t0 = Stopwatch.GetTimestamp();
            sinceExpiry += Batch * BatchesPerRound * threads;
            expireInLanes = separate && sinceExpiry >= Generation;
            packetThreads.Run(RunLane);
            long t1 = Stopwatch.GetTimestamp();
            if (expireInLanes)
            {
                sinceExpiry = 0;
            }
            else if (sinceExpiry >= Generation)
            {
                sinceExpiry = 0;
                fixture.Clock.Advance(TimeSpan.FromSeconds(62));
                _ = fixture.Engine.Connections.RunHousekeeping();
            }

            long t2 = Stopwatch.GetTimestamp();
            if (round == 19)
            {
                Array.Clear(cpuNanoseconds);
            }

            if (round >= 20)
            {
                packetNs += Stopwatch.GetElapsedTime(t0, t1).TotalNanoseconds;
                housekeepingNs += Stopwatch.GetElapsedTime(t1, t2).TotalNanoseconds;
                ops += Batch * BatchesPerRound;
            }
        }

        double perOp = (packetNs + housekeepingNs) / ops;
        Console.WriteLine(
            $"{method} threads {threads}{(separate ? " (separate engines)" : "")}: {perOp:F1} ns per op and thread ({packetNs / ops:F1} packet threads + {housekeepingNs / ops:F1} housekeeping), "
            + $"{threads * 1000 / perOp:F2} M new connections/s; packet threads' CPU time {cpuNanoseconds.Average() / ops:F1} ns per op; load {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }

    /// <summary>The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which preemption by other processes does not inflate.</summary>
    private static long ThreadCpuNanoseconds() =>
        ClockGetTime(3, out var time) == 0 ? (time.Seconds * 1_000_000_000L) + time.Nanoseconds : 0;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    [System.Runtime.InteropServices.DefaultDllImportSearchPaths(System.Runtime.InteropServices.DllImportSearchPath.SafeDirectories)]
    private static extern int ClockGetTime(int clock, out Timespec time);

    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
