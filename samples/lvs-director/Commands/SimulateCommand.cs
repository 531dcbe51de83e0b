using System.CommandLine;
using System.Globalization;
using System.Numerics;
using Lvs.Director.Configuration;
using Lvs.Director.Simulation;

namespace Lvs.Samples.Director.Commands;

/// <summary>
/// <c>lvs-director simulate</c>: new flows through the real engine with rules in ipvsadm's syntax. Thin wiring over
/// <see cref="FlowSimulator"/> (Lvs.Director.Simulation): synthetic flows and the per-service distribution against the
/// weights, or a flows file and the server chosen for each line; <c>--remove</c>/<c>--add</c> then re-run the same
/// flows as new connections and count those that changed server.
/// </summary>
internal static class SimulateCommand
{
    /// <summary>Creates the command (added to the root command by Program.cs).</summary>
    public static Command Create()
    {
        var rules = new Option<FileInfo>("--rules") { Description = "The rules, in ipvsadm's syntax (what ipvsadm -R reads)", Required = true, HelpName = "FILE" };
        var flows = new Option<int>("--flows") { Description = "New flows per service", DefaultValueFactory = _ => 1000, HelpName = "N" };
        var clients = new Option<int>("--clients") { Description = "Distinct client addresses per family", DefaultValueFactory = _ => 100, HelpName = "N" };
        var seed = new Option<int>("--seed") { Description = "Random seed (the same seed gives the same flows)", DefaultValueFactory = _ => 1, HelpName = "S" };
        var flowsFile = new Option<FileInfo?>("--flows-file") { Description = "Flows to run instead, one per line: tcp|udp|sctp CLIENT_IP:PORT VIP:PORT (IPv6 in brackets); prints the real server chosen for each", HelpName = "FILE" };
        var remove = new Option<string[]>("--remove") { Description = "After the flows, remove this real server and run the same flows again as new connections", HelpName = "RIP:PORT" };
        var add = new Option<string[]>("--add") { Description = "After the flows, add this real server and run the same flows again as new connections", HelpName = "RIP:PORT[,weight]" };
        flows.Validators.Add(result => { if (result.GetValueOrDefault<int>() < 1) { result.AddError("--flows must be at least 1."); } });
        clients.Validators.Add(result => { if (result.GetValueOrDefault<int>() < 1) { result.AddError("--clients must be at least 1."); } });

        var command = new Command("simulate", "Run new flows through the real schedulers and connection table, and show which real server each got.")
        {
            rules, flows, clients, seed, flowsFile, remove, add,
        };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            try
            {
                return Run(
                    parse.GetValue(rules)!,
                    parse.GetValue(flows),
                    parse.GetValue(clients),
                    parse.GetValue(seed),
                    parse.GetValue(flowsFile),
                    [.. (parse.GetValue(remove) ?? []).Select(PoolChange.ParseRemove), .. (parse.GetValue(add) ?? []).Select(PoolChange.ParseAdd)],
                    output);
            }
            catch (ConfigurationException e)
            {
                error.WriteLine(e.Message);
                return 1;
            }
            catch (Exception e) when (e is FormatException or ArgumentException or IOException)
            {
                error.WriteLine($"simulate: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static int Run(FileInfo rulesFile, int flowsPerService, int clients, int seed, FileInfo? flowsFile, IReadOnlyList<PoolChange> changes, TextWriter output)
    {
        var rules = IpvsadmRulesParser.Load(rulesFile.ToString());
        var listed = flowsFile is null ? null : SimulatedFlowFile.Load(flowsFile.ToString());
        int services = rules.Commands.Count(c => c.Kind == IpvsadmCommandKind.AddService);
        long total = listed?.Count ?? (long)flowsPerService * Math.Max(1, services);
        int capacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(total * 2, 4096, 1 << 26));
        using var simulator = FlowSimulator.FromRules(rules, new FlowSimulatorOptions { ConnectionCapacity = capacity });
        var flows = listed ?? FlowSimulator.GenerateFlows(simulator.Table.Snapshot, flowsPerService, clients, seed);
        var before = simulator.Send(flows);
        if (listed is not null)
        {
            foreach (var decision in before)
            {
                output.WriteLine(decision.ToString());
            }
        }
        else
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{flowsPerService} new flows per service from {clients} clients (seed {seed}), through the director engine:"));
            WriteDistribution(output, simulator.Summarize(before));
        }

        if (changes.Count == 0)
        {
            return 0;
        }

        foreach (var change in changes)
        {
            var services2 = simulator.Apply(change);
            output.WriteLine();
            output.WriteLine($"{change}: {string.Join(", ", services2)}");
        }

        simulator.ResetConnections();
        var after = simulator.Send(flows);
        var disruption = simulator.CompareRuns(before, after);
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"The same flows again as new connections: {disruption.Changed} of {disruption.Flows} changed real server ({disruption.ChangedFraction:P1}); {disruption.FromRemoved} had to (their server was removed), {disruption.Avoidable} moved although their server stayed."));
        if (listed is null)
        {
            WriteDistribution(output, simulator.Summarize(after));
        }

        return 0;
    }

    internal static void WriteDistribution(TextWriter output, IReadOnlyList<ServiceDistribution> distributions)
    {
        foreach (var service in distributions)
        {
            output.WriteLine();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{service.Service} {service.Scheduler}: {service.Flows} flows{(service.Unscheduled > 0 ? $", {service.Unscheduled} with no real server" : string.Empty)}"));
            output.WriteLine("  Real server                                  Weight    Flows    Share  Expected");
            foreach (var server in service.Servers)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {server.Server,-44} {server.Weight,6} {server.Flows,8} {server.Share,8:P1} {server.ExpectedShare,9:P1}"));
            }
        }
    }
}
