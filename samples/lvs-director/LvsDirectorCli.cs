using System.CommandLine;
using System.Runtime.InteropServices;
using Lvs.Director;
using Lvs.Director.Configuration;
using Lvs.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lvs.Samples.Director;

/// <summary>The commands: argument parsing and wiring only; the director itself is Lvs.Hosting's.</summary>
public static class LvsDirectorCli
{
    /// <summary>Runs the command line.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="output">Standard output (listings, statistics).</param>
    /// <param name="error">Standard error (errors as <c>file:line: message</c>).</param>
    /// <returns>The exit code: 0 on success.</returns>
    public static Task<int> InvokeAsync(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("lvs-director: a Linux Virtual Server director in user space (AF_PACKET and TAP links).")
        {
            RunCommand(output, error),
            ListCommand(output, error),
            Commands.SimulateCommand.Create(),
            Commands.ReplayCommand.Create(),
            Commands.DemoCommand.Create(),
        };

        // SIGINT and SIGTERM stop the host (its console lifetime), not the command line library.
        return root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error, ProcessTerminationTimeout = null });
    }

    private static Command RunCommand(TextWriter output, TextWriter error)
    {
        var rules = new Option<FileInfo?>("--rules") { Description = "ipvsadm rules (ipvsadm-save format)." };
        var keepalived = new Option<FileInfo?>("--keepalived") { Description = "A keepalived.conf." };
        var interfaces = new Option<string[]>("--interface") { Description = "An existing interface, opened with AF_PACKET (repeatable)." };
        var taps = new Option<string[]>("--tap") { Description = "A TAP device to create, NAME=ADDRESS/PREFIX (repeatable)." };
        var locals = new Option<string[]>("--local-address") { Description = "A FULLNAT local address (repeatable)." };
        var gateway = new Option<string?>("--gateway") { Description = "Next hop for everything outside the connected subnets." };
        var statsInterval = new Option<double?>("--stats-interval") { Description = "Print the ipvsadm -L -n --stats table every SECONDS." };
        var duration = new Option<double?>("--duration") { Description = "Stop after SECONDS." };
        var workers = new Option<int>("--workers") { Description = "Packet threads.", DefaultValueFactory = _ => 1 };
        var sysctls = new Option<string[]>("--sysctl") { Description = $"An IPVS sysctl, NAME=VALUE: {string.Join(", ", IpvsSysctls.Supported)} (repeatable)." };
        var noHostAnswers = new Option<string[]>("--no-host-answer") { Description = "Turn off an answer the director gives as the host of its addresses: tcp-reset, sctp-abort, udp-unreachable, protocol-unreachable, echo (repeatable; all on by default, as a kernel director's host gives them)." };
        var ftpPorts = new Option<ushort[]>("--ftp-port") { Description = "A control port of FTP services, whose data connections the FTP helper expects (ip_vs_ftp ports=; repeatable, usually 21)." };
        var mhKernel = new Option<bool>("--mh-kernel") { Description = "mh services use the kernel's own table and hash, to pick as kernel directors with the same rules do." };
        var acceptSourceRoute = new Option<bool>("--accept-source-route") { Description = "Answer source-routed IPv4 packets for the director's addresses along the reversed route, as a host with accept_source_route=1 (off by default: they are dropped, as the kernel's default)." };
        var partition = new Option<bool>("--partition-connections") { Description = "Give each packet thread (--workers) a partition of the connection table of its own, its flows' client packets looked up there only when every link is an interface (AF_PACKET fan-out steers every flow to one thread): new connections scale with the threads, but a NAT or FULLNAT reply reaching another thread than its connection's costs more, and a flow moved to another thread by a change of steering loses its connection (off by default: one table, as the kernel's)." };
        var rrPerThread = new Option<bool>("--rr-per-thread") { Description = "rr services hand out their positions in runs per packet thread (--workers): each worker takes its picks from runs of the sequence of its own instead of all advancing one position (off by default: one position, as the kernel's)." };
        var wrrPerThread = new Option<bool>("--wrr-per-thread") { Description = "wrr services keep a position per packet thread (--workers): each worker follows wrr's sequence on its own instead of all sharing one position (off by default: one position, as the kernel's)." };
        var countsRefresh = new Option<int>("--counts-refresh-picks") { Description = "lc, wlc, sed, nq, ovf, lblc and lblcr services read the other packet threads' connection counts (--workers) every N picks of a thread instead of on every pick, so workers creating connections at once scale; weights and flags still count from the next pick (0, the default: every pick, as the kernel's)." };
        var command = new Command("run", "Run the director.") { rules, keepalived, interfaces, taps, locals, gateway, statsInterval, duration, workers, partition, sysctls, noHostAnswers, ftpPorts, mhKernel, rrPerThread, wrrPerThread, countsRefresh, acceptSourceRoute };
        command.SetAction(async (result, cancellation) =>
        {
            var options = new LvsDirectorOptions
            {
                RulesFile = result.GetValue(rules)?.FullName,
                KeepalivedFile = result.GetValue(keepalived)?.FullName,
                Gateway = result.GetValue(gateway),
                Workers = result.GetValue(workers),
                PartitionConnections = result.GetValue(partition),
                StatsInterval = result.GetValue(statsInterval) is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
                MaglevKernelCompatible = result.GetValue(mhKernel),
                RoundRobinRunsPerThread = result.GetValue(rrPerThread),
                WeightedRoundRobinPositionPerThread = result.GetValue(wrrPerThread),
                OtherThreadCountsRefreshPicks = result.GetValue(countsRefresh),
                AcceptSourceRoute = result.GetValue(acceptSourceRoute),
            };
            AddAll(options.Interfaces, result.GetValue(interfaces));
            AddAll(options.Taps, result.GetValue(taps));
            AddAll(options.LocalAddresses, result.GetValue(locals));
            AddAll(options.Sysctls, result.GetValue(sysctls));
            AddAll(options.NoHostAnswers, result.GetValue(noHostAnswers));
            AddAll(options.FtpPorts, result.GetValue(ftpPorts));
            return await RunAsync(options, result.GetValue(duration), output, error, cancellation).ConfigureAwait(false);
        });
        return command;
    }

    private static Command ListCommand(TextWriter output, TextWriter error)
    {
        var rules = new Option<FileInfo?>("--rules") { Description = "ipvsadm rules (ipvsadm-save format)." };
        var keepalived = new Option<FileInfo?>("--keepalived") { Description = "A keepalived.conf." };
        var command = new Command("list", "Print the table as ipvsadm -L -n would.") { rules, keepalived };
        command.SetAction(result =>
        {
            var table = new ServiceTable();
            try
            {
                if (result.GetValue(rules) is { } file)
                {
                    if (!IpvsadmRulesParser.TryParse(File.ReadAllText(file.FullName), file.ToString(), out var parsed, out var errors))
                    {
                        return Fail(error, errors);
                    }

                    parsed.ApplyTo(table);
                }

                if (result.GetValue(keepalived) is { } conf)
                {
                    var configuration = KeepalivedConfigParser.Load(conf.ToString());
                    foreach (var notice in configuration.Notices)
                    {
                        error.WriteLine(notice);
                    }

                    configuration.ApplyTo(table);
                }

                if (result.GetValue(rules) is null && result.GetValue(keepalived) is null)
                {
                    error.WriteLine("list: give --rules FILE or --keepalived FILE.");
                    return 1;
                }
            }
            catch (ConfigurationException e)
            {
                return Fail(error, e.Errors);
            }
            catch (IOException e)
            {
                error.WriteLine(e.Message);
                return 1;
            }

            output.Write(IpvsadmListing.List(table.Snapshot));
            return 0;
        });
        return command;
    }

    private static async Task<int> RunAsync(LvsDirectorOptions options, double? duration, TextWriter output, TextWriter error, CancellationToken cancellation)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });

        // Standard output carries the statistics tables; every log line goes to standard error.
        builder.Logging.AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace);

        // A start-up failure is printed once, below, as a message (file:line: message), not as the host's stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.Services.AddLvsDirector(configured => Copy(options, configured))
            .WriteStatisticsTo(text =>
            {
                lock (output)
                {
                    output.Write(text);
                    output.Flush();
                }
            });
        using var host = builder.Build();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        if (duration is { } seconds)
        {
            stop.CancelAfter(TimeSpan.FromSeconds(seconds));
        }

        try
        {
            await host.StartAsync(stop.Token).ConfigureAwait(false);
            var director = host.Services.GetRequiredService<LvsDirector>();
            using var hangUp = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                _ = director.Reload();
            });
            await host.WaitForShutdownAsync(stop.Token).ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            return 0;
        }
        catch (ConfigurationException e)
        {
            return Fail(error, e.Errors);
        }
        catch (OptionsValidationException e)
        {
            foreach (var failure in e.Failures)
            {
                error.WriteLine($"lvs-director run: {failure}");
            }

            return 1;
        }
        catch (Exception e) when (e is IOException or NotSupportedException or PlatformNotSupportedException or UnauthorizedAccessException or FormatException or ArgumentException or InvalidOperationException)
        {
            error.WriteLine($"lvs-director run: {e.Message}");
            return 1;
        }
    }

    private static int Fail(TextWriter error, IReadOnlyList<ConfigurationError> errors)
    {
        foreach (var e in errors)
        {
            error.WriteLine(e.ToString());
        }

        return 1;
    }

    private static void AddAll<T>(IList<T> target, T[]? values)
    {
        foreach (var value in values ?? [])
        {
            target.Add(value);
        }
    }

    private static void Copy(LvsDirectorOptions from, LvsDirectorOptions to)
    {
        to.RulesFile = from.RulesFile ?? to.RulesFile;
        to.KeepalivedFile = from.KeepalivedFile ?? to.KeepalivedFile;
        to.Gateway = from.Gateway ?? to.Gateway;
        to.Workers = from.Workers;
        to.StatsInterval = from.StatsInterval ?? to.StatsInterval;
        to.MaglevKernelCompatible |= from.MaglevKernelCompatible;
        to.RoundRobinRunsPerThread |= from.RoundRobinRunsPerThread;
        to.WeightedRoundRobinPositionPerThread |= from.WeightedRoundRobinPositionPerThread;
        to.OtherThreadCountsRefreshPicks = from.OtherThreadCountsRefreshPicks != 0 ? from.OtherThreadCountsRefreshPicks : to.OtherThreadCountsRefreshPicks;
        to.AcceptSourceRoute |= from.AcceptSourceRoute;
        to.PartitionConnections |= from.PartitionConnections;
        AddAll(to.Interfaces, [.. from.Interfaces]);
        AddAll(to.Taps, [.. from.Taps]);
        AddAll(to.LocalAddresses, [.. from.LocalAddresses]);
        AddAll(to.Sysctls, [.. from.Sysctls]);
        AddAll(to.NoHostAnswers, [.. from.NoHostAnswers]);
        AddAll(to.FtpPorts, [.. from.FtpPorts]);
    }
}
