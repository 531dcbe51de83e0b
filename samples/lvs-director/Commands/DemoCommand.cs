using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Lvs.Director.Configuration;
using Lvs.Director.Simulation;
using Lvs.Samples.Director.Lab;

namespace Lvs.Samples.Director.Commands;

/// <summary>
/// <c>lvs-director demo</c>: as root on Linux, a throwaway lab of network namespaces (a client, three real servers with
/// an HTTP responder each, the director on TAP devices) carries real HTTP requests from the client's kernel through
/// each method in turn, and prints each one's distribution and <c>ipvsadm -L -n --stats</c> table; everything is removed
/// after, also on Ctrl-C. Otherwise the same scenario runs through the engine in-process, said to be a simulation.
/// </summary>
internal static class DemoCommand
{
    private static readonly (int Index, int Weight)[] Weights = [(0, 1), (1, 2), (2, 3)];

    public static Command Create()
    {
        var requests = new Option<int>("--requests") { Description = "New connections per method", DefaultValueFactory = _ => 60, HelpName = "N" };
        requests.Validators.Add(result => { if (result.GetValueOrDefault<int>() < 1) { result.AddError("--requests must be at least 1."); } });
        var simulate = new Option<bool>("--simulate") { Description = "Run the in-process simulation even as root" };
        var command = new Command("demo", "Show the director carrying real HTTP through NAT, FULLNAT, DR and TUN in a throwaway namespace lab (root on Linux; a simulation otherwise).")
        {
            requests,
            simulate,
        };
        command.SetAction(async (parse, _) =>
        {
            var output = parse.InvocationConfiguration.Output;
            int count = parse.GetValue(requests);
            if (parse.GetValue(simulate) || !OperatingSystem.IsLinux() || geteuid() != 0)
            {
                return Simulate(output, count, parse.GetValue(simulate));
            }

            // Ctrl-C and SIGTERM stop the traffic; the lab is removed on the way out.
            using var stop = new CancellationTokenSource();
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.Cancel(); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });
            try
            {
                foreach (var method in (LabMethod[])[LabMethod.Nat, LabMethod.FullNat, LabMethod.DirectRouting, LabMethod.Tunnel])
                {
                    await RunMethodAsync(method, count, output, stop.Token);
                }

                output.WriteLine("Every namespace the demo created is gone.");
                return 0;
            }
            catch (OperationCanceledException)
            {
                output.WriteLine();
                output.WriteLine("Interrupted: the lab was removed.");
                return 130;
            }
        });
        return command;
    }

    private static async Task RunMethodAsync(LabMethod method, int count, TextWriter output, CancellationToken cancellation)
    {
        await using var lab = LoadBalancerLab.Create(method, tap: true);
        output.WriteLine($"== {method}: lab {lab.Network.Prefix} (client, director on TAP, three real servers) ==");
        var conf = Path.Combine(Path.GetTempPath(), $"{lab.Network.Prefix}-keepalived.conf");
        var agents = new List<Process>();
        Process? director = null;
        var directorOutput = new StringBuilder();
        try
        {
            KeepalivedFile.Write(lab, conf, Weights);
            if (method == LabMethod.Tunnel)
            {
                var agentOutput = new StringBuilder();
                foreach (var server in lab.Servers)
                {
                    agents.Add(Drain(lab.Network.Start(server, "dotnet", SiblingAssembly("lvs-tunnel-agent"), "--interface", "eth0", "--tun", "lvstun0"), agentOutput));
                }

                // Until an agent has claimed the tunnel protocols (its first line), its server's kernel answers tunnel
                // packets with "protocol unreachable", which the director relays to the client as the kernel's does.
                await WaitForLinesAsync(agentOutput, "lvs-tunnel-agent: eth0", lab.Servers.Length, cancellation);
            }

            List<string> arguments = [typeof(DemoCommand).Assembly.Location, "run", "--keepalived", conf, "--stats-interval", "1", .. lab.LinkArguments()];
            if (method == LabMethod.FullNat)
            {
                arguments.AddRange(["--local-address", LoadBalancerLab.LocalAddress]);
            }

            director = Drain(lab.Network.Start(lab.Director, "dotnet", [.. arguments]), directorOutput);
            await lab.AttachTapsAsync(TimeSpan.FromSeconds(30));
            using var http = new LabClient(lab.Client, TimeSpan.FromSeconds(5));
            await WaitUntilServedAsync(http, director, directorOutput, cancellation);

            bool progress = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
            var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
            for (int i = 1; i <= count; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                string name = await http.WhoAmIAsync(LoadBalancerLab.Service);
                counts[name] = counts.GetValueOrDefault(name) + 1;
                if (progress)
                {
                    // On a terminal the line counts up in place.
                    output.Write(string.Create(CultureInfo.InvariantCulture, $"\r  {i}/{count} requests from the client's kernel to {LoadBalancerLab.Service}"));
                }
                else if (i == 1 || i == count || i % Math.Max(count / 10, 1) == 0)
                {
                    // In a log or a pipe, a line for the first request and each tenth of them.
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {i}/{count} requests from the client's kernel to {LoadBalancerLab.Service}"));
                }
            }

            if (progress)
            {
                output.WriteLine();
            }

            output.WriteLine("  Real server            Weight  Requests  Share   Expected (wrr)");
            for (int i = 0; i < Weights.Length; i++)
            {
                string name = $"rs{i + 1}";
                int got = counts.GetValueOrDefault(name);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name} {lab.ServerAddress(i),-16} {Weights[i].Weight,6}  {got,8}  {(double)got / count,6:P1}  {Weights[i].Weight / 6.0,6:P1}"));
            }

            // The director prints its ipvsadm -L -n --stats table every second: show the one after the traffic.
            await Task.Delay(1500, cancellation);
            output.WriteLine(LastStatistics(directorOutput));
        }
        finally
        {
            if (director is not null && !director.HasExited)
            {
                _ = kill(director.Id, 15);
                _ = director.WaitForExit(10_000);
            }

            foreach (var agent in agents.Where(a => !a.HasExited))
            {
                _ = kill(agent.Id, 15);
                _ = agent.WaitForExit(5_000);
            }

            File.Delete(conf);
        }
    }

    private static async Task WaitUntilServedAsync(LabClient http, Process director, StringBuilder directorOutput, CancellationToken cancellation)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            try
            {
                _ = await http.WhoAmIAsync(LoadBalancerLab.Service);
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                if (DateTime.UtcNow > deadline || director.HasExited)
                {
                    throw new InvalidOperationException($"The director did not start serving: {e.Message}\n{Snapshot(directorOutput)}", e);
                }

                await Task.Delay(200, cancellation);
            }
        }
    }

    /// <summary>The same scenario through the engine in-process (not root, or not Linux).</summary>
    private static int Simulate(TextWriter output, int count, bool asked)
    {
        output.WriteLine(asked
            ? "SIMULATION (--simulate): no network namespaces; the flows below go through the real engine in-process."
            : "SIMULATION: not root on Linux, so no network namespaces; the flows below go through the real engine in-process.");
        output.WriteLine("For the real lab run: sudo dotnet run --project samples/lvs-director -- demo");
        foreach (var (method, flag) in (ReadOnlySpan<(string, string)>)[("NAT", "-m"), ("FULLNAT", "--fullnat"), ("DR", "-g"), ("TUN", "-i")])
        {
            var text = new StringBuilder("-A -t 10.0.0.100:80 -s wrr\n");
            foreach (var (index, weight) in Weights)
            {
                _ = text.Append(CultureInfo.InvariantCulture, $"-a -t 10.0.0.100:80 -r 10.1.0.{11 + index}:80 {flag} -w {weight}\n");
            }

            if (method == "FULLNAT")
            {
                _ = text.Append("-P -t 10.0.0.100:80 -z 10.1.0.100\n");
            }

            using var simulator = FlowSimulator.FromRules(IpvsadmRulesParser.Parse(text.ToString(), $"demo-{method}"));
            var decisions = simulator.Send(FlowSimulator.GenerateFlows(simulator.Table.Snapshot, count, 50, seed: 1));
            output.WriteLine();
            output.WriteLine($"== {method} (simulated) ==");
            SimulateCommand.WriteDistribution(output, simulator.Summarize(decisions));
            output.Write(IpvsadmListing.List(simulator.Engine, new IpvsadmListFormat { Stats = true }));
        }

        return 0;
    }

    private static string LastStatistics(StringBuilder directorOutput)
    {
        string text = Snapshot(directorOutput);
        int start = text.LastIndexOf("IP Virtual Server version", StringComparison.Ordinal);
        return start < 0 ? "  (the director printed no statistics)" : text[start..].TrimEnd();
    }

    private static string Snapshot(StringBuilder buffer)
    {
        lock (buffer)
        {
            return buffer.ToString();
        }
    }

    /// <summary>Waits until <paramref name="output"/> holds <paramref name="count"/> lines that start with <paramref name="prefix"/> (at most 30 s).</summary>
    private static async Task WaitForLinesAsync(StringBuilder output, string prefix, int count, CancellationToken cancellation)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            string text = Snapshot(output);
            if (text.Split('\n').Count(line => line.StartsWith(prefix, StringComparison.Ordinal)) >= count)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"The tunnel agents did not start:\n{text}");
            }

            await Task.Delay(100, cancellation);
        }
    }

    /// <summary>Reads a child's output as it comes (into <paramref name="into"/>, or away) so its pipes never fill.</summary>
    private static Process Drain(Process process, StringBuilder? into)
    {
        DataReceivedEventHandler append = (_, e) =>
        {
            if (into is not null && e.Data is not null)
            {
                lock (into)
                {
                    _ = into.AppendLine(e.Data);
                }
            }
        };
        process.OutputDataReceived += append;
        process.ErrorDataReceived += append;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static string SiblingAssembly(string name)
    {
        // samples/lvs-director/bin/CONFIG/net10.0/ -> samples/NAME/bin/CONFIG/net10.0/NAME.dll (built with this project).
        var here = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));
        string path = Path.Combine(here.Parent!.Parent!.Parent!.Parent!.FullName, name, "bin", here.Parent.Name, here.Name, name + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"{name} is not built at {path}", path);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern uint geteuid();

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
