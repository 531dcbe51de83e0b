using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Lvs.Core;
using Lvs.HealthChecks;

namespace Lvs.Benchmarks.HealthChecks;

/// <summary>
/// The health-check scale figure: N real servers TCP-checked every second (keepalived's delay_loop 1) against
/// loopback listeners for a while, reporting the monitor process's CPU time per wall-clock second. The listeners
/// run in a child process so that their accept cost is reported apart from the checker's.
/// </summary>
/// <remarks>
/// Run: <c>dotnet run -c Release --project benchmarks/Lvs.Benchmarks -- health-cpu [servers=1000] [seconds=30]</c>.
/// Not a BenchmarkDotNet class: the quantity is a steady-state CPU share, not a per-call time.
/// </remarks>
public static class HealthCheckCpuLoad
{
    private const int ListenerCount = 20;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args is ["health-cpu-listeners", ..])
        {
            return await RunListenersAsync().ConfigureAwait(false);
        }

        int servers = LoopArguments.Int(args, 1, 1000);
        int seconds = LoopArguments.Int(args, 2, 30);
        using Process listeners = StartListenerProcess(out int[] ports);
        var sink = new CountingSink();
        var checks = new CountingChecks();
        var monitor = new HealthMonitor(sink);
        await using (monitor.ConfigureAwait(false))
        {
            MonitoredVirtualService service = monitor.AddVirtualService(new(VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.1:80"))));
            var timing = new CheckTiming { DelayLoop = TimeSpan.FromSeconds(1), Retry = 1, DelayBeforeRetry = TimeSpan.FromSeconds(1), Warmup = TimeSpan.FromSeconds(1) };
            for (int i = 0; i < servers; i++)
            {
                var endpoint = new InetEndpoint(InetAddress.FromIPv4(127, 0, 0, 1), (ushort)ports[i % ports.Length]);
                var checker = new TcpChecker(new CheckConnectionOptions(endpoint) { ConnectTimeout = TimeSpan.FromSeconds(3) });
                monitor.AddRealServer(service, new(endpoint) { Checks = [new(checks.Wrap(checker), timing)] });
            }

            monitor.Start();
            await Task.Delay(TimeSpan.FromSeconds(5)).ConfigureAwait(false); // warm-up: JIT, tiered compilation, connection spread
            Process self = Process.GetCurrentProcess();
            self.Refresh();
            listeners.Refresh();
            TimeSpan cpu0 = self.TotalProcessorTime, listenerCpu0 = listeners.TotalProcessorTime;
            long checks0 = checks.Count, failed0 = checks.Failed;
            int gen0 = GC.CollectionCount(0), gen2 = GC.CollectionCount(2);
            long allocated0 = GC.GetTotalAllocatedBytes();
            var wall = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
            wall.Stop();
            self.Refresh();
            listeners.Refresh();
            double elapsed = wall.Elapsed.TotalSeconds;
            double cpu = (self.TotalProcessorTime - cpu0).TotalSeconds;
            double listenerCpu = (listeners.TotalProcessorTime - listenerCpu0).TotalSeconds;
            long done = checks.Count - checks0;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"servers {servers}, delay_loop 1 s, {elapsed:0.0} s measured"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"checks/s {done / elapsed:0}, failed {checks.Failed - failed0}, state changes {sink.Changes}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"monitor CPU {cpu / elapsed * 1000:0} ms/s ({cpu / elapsed * 100:0.0}% of one core), {cpu / done * 1e6:0} us CPU/check"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"listener process CPU {listenerCpu / elapsed * 1000:0} ms/s"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"allocated {(GC.GetTotalAllocatedBytes() - allocated0) / (double)done:0} B/check, gen0 GCs {GC.CollectionCount(0) - gen0}, gen2 GCs {GC.CollectionCount(2) - gen2}, threads {self.Threads.Count}"));
        }

        listeners.StandardInput.Close();
        await listeners.WaitForExitAsync().ConfigureAwait(false);
        return 0;
    }

    private static Process StartListenerProcess(out int[] ports)
    {
        string host = Environment.ProcessPath!;
        var start = new ProcessStartInfo(host) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(typeof(HealthCheckCpuLoad).Assembly.Location);
        }

        start.ArgumentList.Add("health-cpu-listeners");
        Process process = Process.Start(start)!;
        ports = [.. process.StandardOutput.ReadLine()!.Split(' ').Select(port => int.Parse(port, CultureInfo.InvariantCulture))];
        return process;
    }

    private static async Task<int> RunListenersAsync()
    {
        var listeners = Enumerable.Range(0, ListenerCount).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        foreach (TcpListener listener in listeners)
        {
            listener.Start(4096);
            _ = AcceptAsync(listener);
        }

        Console.WriteLine(string.Join(' ', listeners.Select(listener => ((IPEndPoint)listener.LocalEndpoint).Port)));
        await Console.In.ReadToEndAsync().ConfigureAwait(false); // until the parent closes our stdin
        listeners.ForEach(listener => listener.Stop());
        return 0;
    }

    /// <summary>Accepts and closes connections until the listener stops.</summary>
    internal static async Task AcceptAsync(TcpListener listener)
    {
        try
        {
            while (true)
            {
                using Socket socket = await listener.AcceptSocketAsync().ConfigureAwait(false);
            }
        }
        catch (ObjectDisposedException)
        {
        }
        catch (SocketException)
        {
        }
    }

    private sealed class CountingSink : IRealServerHealthSink
    {
        private int _changes;

        public int Changes => Volatile.Read(ref _changes);

        public void OnRealServerStateChanged(RealServerStateChange change)
        {
            if (change.Reason != "initial state")
            {
                Interlocked.Increment(ref _changes);
            }
        }

        public void OnQuorumStateChanged(QuorumStateChange change)
        {
        }
    }

    private sealed class CountingChecks
    {
        private long _count;
        private long _failed;

        public long Count => Interlocked.Read(ref _count);

        public long Failed => Interlocked.Read(ref _failed);

        public DelegateChecker Wrap(TcpChecker inner) => new DelegateChecker(async cancellationToken =>
        {
            CheckResult result = await inner.CheckAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _count);
            if (!result.IsHealthy)
            {
                Interlocked.Increment(ref _failed);
            }

            return result;
        });
    }
}
