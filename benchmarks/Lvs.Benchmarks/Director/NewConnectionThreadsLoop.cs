using System.Diagnostics;
using Lvs.Core;
using Lvs.Core.Headers;
using Lvs.Director;

namespace Lvs.Benchmarks.Director;

/// <summary>
/// DirectorNewConnectionBenchmarks as a plain timing loop on dedicated threads, with the packet threads' time and
/// housekeeping's time reported apart: <c>newconn-loop nat|dr THREADS [ROUNDS]</c>. A round is 256 batches of 64 SYNs
/// per thread; every 65,536 flows the clock moves on 62 s and housekeeping expires them, as in the benchmark.
/// </summary>
internal static class NewConnectionThreadsLoop
{
    private const int Batch = 64;
    private const int BatchesPerRound = 256;
    private const int Generation = 65536;

    public static int Run(string[] args)
    {
        bool tableOnly = args.Length > 1 && args[1] == "table";
        var method = args.Length > 1 && args[1] == "dr" ? ForwardingMethod.DirectRouting : ForwardingMethod.Nat;
        int threads = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1;
        int rounds = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 400;
        using var fixture = new DirectorFixture(method, capacity: 1 << 19);
        var lanes = Enumerable.Range(0, threads).Select(t => new Lane(fixture, t, tableOnly)).ToArray();
        using var start = new Barrier(threads + 1);
        using var done = new Barrier(threads + 1);
        bool stop = false;
        var workers = lanes.Select(l => new Thread(() =>
        {
            while (true)
            {
                start.SignalAndWait();
                if (Volatile.Read(ref stop))
                {
                    return;
                }

                long cpu = ThreadCpuNanoseconds();
                l.Run(BatchesPerRound);
                l.CpuNanoseconds += ThreadCpuNanoseconds() - cpu;
                done.SignalAndWait();
            }
        }) { IsBackground = true }).ToArray();
        foreach (var w in workers)
        {
            w.Start();
        }

        int sinceExpiry = 0;
        double packetNs = 0;
        double housekeepingNs = 0;
        long ops = 0;
        for (int round = 0; round < rounds + 20; round++)
        {
            long t0 = Stopwatch.GetTimestamp();
            start.SignalAndWait();
            done.SignalAndWait();
            long t1 = Stopwatch.GetTimestamp();
            sinceExpiry += Batch * BatchesPerRound * threads;
            if (sinceExpiry >= Generation)
            {
                sinceExpiry = 0;
                fixture.Clock.Advance(TimeSpan.FromSeconds(62));
                _ = fixture.Engine.Connections.RunHousekeeping();
            }

            long t2 = Stopwatch.GetTimestamp();
            if (round == 19)
            {
                foreach (var l in lanes)
                {
                    l.CpuNanoseconds = 0;
                }
            }

            if (round >= 20)
            {
                packetNs += Stopwatch.GetElapsedTime(t0, t1).TotalNanoseconds;
                housekeepingNs += Stopwatch.GetElapsedTime(t1, t2).TotalNanoseconds;
                ops += Batch * BatchesPerRound;
            }
        }

        Volatile.Write(ref stop, true);
        start.SignalAndWait();
        double perOp = (packetNs + housekeepingNs) / ops;
        Console.WriteLine(
            $"{method} threads {threads}: {perOp:F1} ns per op and thread ({packetNs / ops:F1} packet threads + {housekeepingNs / ops:F1} housekeeping), "
            + $"{threads * 1000 / perOp:F2} M new connections/s; packet threads' CPU time {lanes.Average(l => l.CpuNanoseconds) / ops:F1} ns per op; load {File.ReadAllText("/proc/loadavg").Trim()}");
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

    private sealed class Lane
    {
        private readonly DirectorFixture _fixture;
        private readonly PacketWorker _worker;
        private readonly byte[] _buffer = new byte[Batch * DirectorFixture.Stride];
        private readonly FrameSlot[] _slots = new FrameSlot[Batch];
        private readonly FrameVerdict[] _verdicts = new FrameVerdict[Batch];
        private readonly int _thread;
        private readonly bool _tableOnly;
        private int _flow;

        public long CpuNanoseconds { get; set; }

        public Lane(DirectorFixture fixture, int thread, bool tableOnly)
        {
            _fixture = fixture;
            _thread = thread;
            _tableOnly = tableOnly;
            _worker = fixture.Engine.CreateWorker();
            for (int j = 0; j < Batch; j++)
            {
                _slots[j] = new FrameSlot((j * DirectorFixture.Stride) + DirectorFixture.Headroom, 64, 0);
            }
        }

        public void Run(int batches)
        {
            if (_tableOnly)
            {
                RunTable(batches);
                return;
            }

            for (int b = 0; b < batches; b++)
            {
                for (int j = 0; j < Batch; j++)
                {
                    uint flow = (uint)_flow++;
                    var client = InetAddress.FromIPv4(0x4000_0000u + ((uint)_thread << 26) + (flow >> 4 & 0x3FF_FFFF));
                    _ = DirectorFixture.WriteTcp(_buffer.AsSpan(_slots[j].Offset), DirectorFixture.RouterMac, DirectorFixture.ClientLinkMac, client, (ushort)(1024 + (flow & 15)), _fixture.Vip, 80, TcpFlags.Syn);
                }

                _worker.ProcessBatch(_buffer, _slots, _verdicts);
            }
        }

        /// <summary>The same SYNs' connections added straight into the engine's table, one by one (no parsing, scheduling or rewriting).</summary>
        private void RunTable(int batches)
        {
            var table = _fixture.Engine.Connections;
            var server = new InetEndpoint(InetAddress.Parse("10.1.0.11"), 8080);
            for (int b = 0; b < batches; b++)
            {
                for (int j = 0; j < Batch; j++)
                {
                    uint flow = (uint)_flow++;
                    var client = InetAddress.FromIPv4(0x4000_0000u + ((uint)_thread << 26) + (flow >> 4 & 0x3FF_FFFF));
                    var key = new FlowKey(L4Protocol.Tcp, new InetEndpoint(client, (ushort)(1024 + (flow & 15))), new InetEndpoint(_fixture.Vip, 80));
                    _ = table.TryAdd(new Lvs.ConnectionTracking.NewConnection(key, 0, server, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out _);
                }
            }
        }
    }
}
