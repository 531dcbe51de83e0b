using System.CommandLine;
using System.Globalization;
using Lvs.Core;
using Lvs.Director;
using Lvs.Director.Configuration;
using Lvs.Director.Replay;

namespace Lvs.Samples.Director.Commands;

/// <summary>
/// <c>lvs-director replay</c>: captured frames through the director on simulated links, the frames it would send
/// written to a capture file. Thin wiring over <see cref="CaptureReplayer"/> (Lvs.Director.Replay); the capture files
/// are read and written with SharpPcap (<see cref="PcapFiles"/>).
/// </summary>
internal static class ReplayCommand
{
    /// <summary>Creates the command (added to the root command by Program.cs).</summary>
    public static Command Create()
    {
        var rules = new Option<FileInfo>("--rules") { Description = "The rules, in ipvsadm's syntax (what ipvsadm -R reads)", Required = true, HelpName = "FILE" };
        var inputs = new Option<FileInfo[]>("--in") { Description = "A capture file to replay (several: merged in timestamp order); frames the director sent are skipped", Required = true, HelpName = "IN.pcap" };
        var output = new Option<FileInfo>("--out") { Description = "The capture file to write every frame the director sends to", Required = true, HelpName = "OUT.pcap" };
        var links = new Option<string[]>("--link") { Description = "A director link: its address, subnet and MAC address (one link per MAC; repeat for more addresses)", Required = true, HelpName = "ADDRESS/PREFIX@MAC" };
        var locals = new Option<string[]>("--local-address") { Description = "A FULLNAT local address", HelpName = "ADDRESS" };
        var gateways = new Option<string[]>("--gateway") { Description = "The default gateway (one per family)", HelpName = "ADDRESS" };
        var neighbors = new Option<string[]>("--neighbor") { Description = "A neighbour's MAC address (nothing is resolved by ARP)", HelpName = "IP=MAC" };

        var command = new Command("replay", "Replay captured frames through the director on simulated links and write what it sends.")
        {
            rules, inputs, output, links, locals, gateways, neighbors,
        };
        command.SetAction(parse =>
        {
            var error = parse.InvocationConfiguration.Error;
            try
            {
                var options = new ReplayOptions
                {
                    Links = [.. parse.GetValue(links)!.Select(ReplayLink.Parse)],
                    Neighbors = [.. (parse.GetValue(neighbors) ?? []).Select(ReplayNeighbor.Parse)],
                    LocalAddresses = [.. (parse.GetValue(locals) ?? []).Select(ParseAddress)],
                };
                foreach (var gateway in (parse.GetValue(gateways) ?? []).Select(ParseAddress))
                {
                    options = gateway.IsIPv4 ? options with { Gateway = gateway } : options with { GatewayV6 = gateway };
                }

                return Run(parse.GetValue(rules)!, parse.GetValue(inputs)!, parse.GetValue(output)!, options, parse.InvocationConfiguration.Output);
            }
            catch (ConfigurationException e)
            {
                error.WriteLine(e.Message);
                return 1;
            }
            catch (Exception e) when (e is FormatException or ArgumentException or IOException or SharpPcap.PcapException)
            {
                error.WriteLine($"replay: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static InetAddress ParseAddress(string text) =>
        InetAddress.TryParse(text, out var address) ? address : throw new FormatException($"'{text}' is not an IP address.");

    private static int Run(FileInfo rulesFile, FileInfo[] inputs, FileInfo outputFile, ReplayOptions options, TextWriter output)
    {
        var rules = IpvsadmRulesParser.Load(rulesFile.ToString());
        var table = new ServiceTable();
        rules.ApplyTo(table);
        options = options with { LocalAddresses = [.. options.LocalAddresses.Concat(rules.LocalAddresses().Select(pair => pair.Address)).Distinct()] };
        var captures = inputs.Select(input => PcapFiles.Read(input.FullName)).ToList();
        using var replayer = new CaptureReplayer(table, options);
        var result = replayer.Replay(captures);
        PcapFiles.Write(outputFile.FullName, result.Outputs);

        var culture = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(culture, $"{captures.Sum(c => c.Count)} frames read from {inputs.Length} capture{(inputs.Length == 1 ? string.Empty : "s")}: {result.Processed} processed, {result.SkippedOwn} skipped as the director's own, {result.NotAddressed} addressed to no link."));
        output.WriteLine(string.Create(culture, $"{result.Outputs.Count} frames sent, written to {outputFile.Name}{(result.Delivered > 0 ? $"; {result.Delivered} left to the host" : string.Empty)}{(result.Consumed > 0 ? $"; {result.Consumed} used by the engine" : string.Empty)}."));
        foreach (var link in replayer.Links)
        {
            output.WriteLine(string.Create(culture, $"  link {link.Index} ({link.Mac}, {string.Join(", ", link.Addresses)}): {result.Outputs.Count(o => o.Link == link.Index)} sent"));
        }

        if (result.Drops.Count == 0)
        {
            output.WriteLine("No drops.");
        }
        else
        {
            output.WriteLine("Drops:");
            foreach (var (reason, count) in result.Drops.OrderByDescending(pair => pair.Value))
            {
                output.WriteLine(string.Create(culture, $"  {reason,-24} {count,8}"));
            }
        }

        return 0;
    }
}
