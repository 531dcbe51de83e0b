using System.Globalization;
using System.Diagnostics.Metrics;
using Lvs.Core;
using Lvs.Devices;
using Lvs.Director;
using Lvs.Director.Configuration;
using Lvs.Director.Statistics;
using Lvs.Scheduling;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Lvs.Hosting;

/// <summary>
/// A running director as the host sees it: the links (opened through the <see cref="IFrameLinkFactory"/>), the service
/// table loaded from the rules file, the engine, its health monitor, metrics and neighbour resolver. Created once by
/// the container when the host starts; the hosted services drive it; disposing it (when the container is disposed)
/// closes the links.
/// </summary>
public sealed class LvsDirector : IAsyncDisposable, IDisposable
{
    private readonly ILogger _logger;
    private readonly HashSet<string> _namedSchedulers = new(StringComparer.Ordinal);
    private int _packetThreads;
    private readonly List<IFrameLink> _links = [];
    private readonly KeepalivedHealthRegistration? _keepalivedHealth;
    private int _disposed;

    /// <summary>Opens the links, loads the rules and builds the engine.</summary>
    /// <param name="options">The host options.</param>
    /// <param name="linkFactory">Opens the links.</param>
    /// <param name="setup">What the <see cref="LvsDirectorBuilder"/> added (table and engine configuration, statistics writer).</param>
    /// <param name="timeProvider">The clock; null: the system clock.</param>
    /// <param name="loggerFactory">Logging; null: none.</param>
    /// <param name="meterFactory">The host's meter factory; null: a meter of the director's own.</param>
    /// <exception cref="ConfigurationException">The rules file has errors (each as <c>file:line: message</c>).</exception>
    /// <exception cref="NotSupportedException">A keepalived file was given (not supported by this version yet), or a link kind is not available.</exception>
    public LvsDirector(
        IOptions<LvsDirectorOptions> options,
        IFrameLinkFactory linkFactory,
        LvsDirectorSetup? setup = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(linkFactory);
        Options = options.Value;
        setup ??= new LvsDirectorSetup();
        Setup = setup;
        var time = timeProvider ?? TimeProvider.System;
        loggerFactory ??= NullLoggerFactory.Instance;
        _logger = loggerFactory.CreateLogger("Lvs.Hosting");
        try
        {
            var errors = Options.Validate();
            if (errors.Count > 0)
            {
                throw new OptionsValidationException(nameof(LvsDirectorOptions), typeof(LvsDirectorOptions), errors);
            }

            Rules = Options.RulesFile is { } rulesFile ? IpvsadmRulesParser.Load(rulesFile) : null;
            Keepalived = Options.KeepalivedFile is { } keepalived ? KeepalivedConfigParser.Load(keepalived) : null;
            foreach (var notice in Keepalived?.Notices ?? [])
            {
                HostingLog.ConfigurationNotice(_logger, notice);
            }

            var links = new List<DirectorLink>();
            bool steered = true;
            foreach (var specification in Options.GetLinkSpecifications())
            {
                // An AF_PACKET link's fan-out gives all of a flow's frames to one queue (by the flow's symmetric hash, or
                // the NIC's receive queue); a TAP's queues do not: the kernel's tun moves a flow to the queue its reply was
                // last written on (automatic queue selection), which may be another worker's.
                steered &= specification.Kind == LinkKind.Interface;
                var link = linkFactory.Create(specification, Options.Workers);
                _links.Add(link);
                links.Add(new DirectorLink(links.Count, link.Name, link.Mac, link.Addresses)
                {
                    Mtu = link.Mtu,
                    AnswersForAddresses = specification.Kind == LinkKind.Tap,
                });
                if (_logger.IsEnabled(LogLevel.Information))
                {
                    string addresses = string.Join(", ", link.Addresses);
                    HostingLog.LinkOpened(_logger, link.Name, specification.Kind, link.Mac, link.Mtu, link.QueueCount, addresses);
                }
            }

            var (gateway, gatewayV6) = Options.GetGateways();
            var localAddresses = Options.GetLocalAddresses().ToList();
            foreach (var (_, address) in (Rules?.LocalAddresses() ?? []).Concat(Keepalived?.LocalAddresses() ?? []))
            {
                if (!localAddresses.Contains(address))
                {
                    localAddresses.Add(address);
                }
            }

            var engineOptions = IpvsSysctls.Apply(new DirectorOptions { Gateway = gateway, GatewayV6 = gatewayV6, LocalAddresses = localAddresses }, Options.Sysctls);
            engineOptions = HostAnswers.TurnOff(engineOptions, Options.NoHostAnswers) with { AcceptSourceRoute = Options.AcceptSourceRoute };
            if (Options.FtpPorts.Count != 0)
            {
                engineOptions = engineOptions with { FtpPorts = [.. Options.FtpPorts] };
            }
            // With PartitionConnections, one index partition per packet thread (ConnectionTableOptions.IndexPartitions), so
            // that they add and expire connections apart: as many as PacketWorkerService will run, at most the fewest
            // queues of any link. With AF_PACKET links only, every client packet of a flow reaches one queue, so one
            // worker: the flows are steered (ConnectionTableOptions.SteeredFlows).
            if (Options.PartitionConnections)
            {
                int packetThreads = _links.Count == 0 ? Options.Workers : Math.Min(Options.Workers, _links.Min(l => l.QueueCount));
                engineOptions = engineOptions with { Connections = engineOptions.Connections with { IndexPartitions = Math.Max(packetThreads, 1), SteeredFlows = steered } };
            }

            engineOptions = setup.ConfigureEngine?.Invoke(engineOptions) ?? engineOptions;
            SchedulerOptions = SchedulerOptionsFor(Options, setup);
            Table = new ServiceTable(schedulerOptions: SchedulerOptions);
            Engine = new DirectorEngine(Table, links, engineOptions, timeProvider: time, loggerFactory: loggerFactory);
            Rules?.ApplyTo(Table, Engine.Connections.Timeouts);
            Keepalived?.ApplyTo(Table);
            foreach (var configure in setup.ConfigureTable)
            {
                configure(Table);
            }

            CheckHost(linkFactory, localAddresses);
            Health = new DirectorHealth(Table, loggerFactory: loggerFactory);
            _keepalivedHealth = Keepalived?.Watch(Health, time);
            Metrics = new DirectorMetrics(Engine, meterFactory);
            Resolver = new NeighborResolver(Engine, setup.Neighbors, time, setup.Random, loggerFactory);
            Links = _links;
        }
        catch
        {
            DisposeCore();
            throw;
        }
    }

    /// <summary>The host options.</summary>
    public LvsDirectorOptions Options { get; }

    /// <summary>What the builder added.</summary>
    public LvsDirectorSetup Setup { get; }

    /// <summary>The rules loaded from <see cref="LvsDirectorOptions.RulesFile"/> (the last reload's); null without one.</summary>
    public IpvsadmRuleSet? Rules { get; private set; }

    /// <summary>The configuration loaded from <see cref="LvsDirectorOptions.KeepalivedFile"/> (the last reload's); null without one.</summary>
    public KeepalivedConfiguration? Keepalived { get; private set; }

    /// <summary>
    /// The schedulers' settings: those of <see cref="LvsDirectorBuilder.UseSchedulerOptions"/>, or the defaults with
    /// <see cref="LvsDirectorOptions.MaglevKernelCompatible"/>, <see cref="LvsDirectorOptions.RoundRobinRunsPerThread"/>,
    /// <see cref="LvsDirectorOptions.WeightedRoundRobinPositionPerThread"/> and <see cref="LvsDirectorOptions.OtherThreadCountsRefreshPicks"/>.
    /// One of those set while <see cref="LvsDirectorBuilder.UseSchedulerOptions"/> gave options without it (or with
    /// another value) is a configuration error.
    /// </summary>
    private static SchedulerOptions SchedulerOptionsFor(LvsDirectorOptions options, LvsDirectorSetup setup)
    {
        if (setup.Schedulers is { } given)
        {
            RequireIn(given.MaglevKernelCompatible, options.MaglevKernelCompatible, nameof(LvsDirectorOptions.MaglevKernelCompatible), "--mh-kernel");
            RequireIn(given.RoundRobinRunsPerThread, options.RoundRobinRunsPerThread, nameof(LvsDirectorOptions.RoundRobinRunsPerThread), "--rr-per-thread");
            RequireIn(given.WeightedRoundRobinPositionPerThread, options.WeightedRoundRobinPositionPerThread, nameof(LvsDirectorOptions.WeightedRoundRobinPositionPerThread), "--wrr-per-thread");
            RequireIn(given.OtherThreadCountsRefreshPicks, options.OtherThreadCountsRefreshPicks, nameof(LvsDirectorOptions.OtherThreadCountsRefreshPicks), "--counts-refresh-picks");
            return given;
        }

        return SchedulerOptions.Default with
        {
            MaglevKernelCompatible = options.MaglevKernelCompatible,
            RoundRobinRunsPerThread = options.RoundRobinRunsPerThread,
            WeightedRoundRobinPositionPerThread = options.WeightedRoundRobinPositionPerThread,
            OtherThreadCountsRefreshPicks = options.OtherThreadCountsRefreshPicks,
        };

        // A director option set while UseSchedulerOptions gave scheduler options without it (or with another value):
        // set it in one place.
        static void RequireIn<T>(T given, T set, string name, string flag)
            where T : struct, IEquatable<T>
        {
            if (!set.Equals(default) && !set.Equals(given))
            {
                throw new InvalidOperationException($"Lvs:{name} ({flag}) is set, but UseSchedulerOptions gave scheduler options without {name}: set it in one place.");
            }
        }
    }

    /// <summary>The schedulers' settings every service's scheduler is created with (see <see cref="SchedulerOptionsFor"/>).</summary>
    internal SchedulerOptions SchedulerOptions { get; } = SchedulerOptions.Default;

    /// <summary>
    /// The schedulers of the table's services that keep state every packet thread writes or reads from the others on
    /// each new connection, as the kernel's do, because their per-thread option is off, each with the
    /// <c>lvs-director run</c> flag that turns it on: "rr (--rr-per-thread)", "wlc (--counts-refresh-picks N)".
    /// </summary>
    /// <returns>The names and flags, in name order, or none.</returns>
    internal IReadOnlyList<string> SchedulersSharingStateAcrossThreads()
    {
        var shared = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var service in Table.Snapshot.Services)
        {
            string name = service.Scheduler.Name;
            string? flag = name switch
            {
                SchedulerNames.RoundRobin when !SchedulerOptions.RoundRobinRunsPerThread => "--rr-per-thread",
                SchedulerNames.WeightedRoundRobin when !SchedulerOptions.WeightedRoundRobinPositionPerThread => "--wrr-per-thread",
                _ when SchedulerNames.ScansEveryServersCounts(name) && SchedulerOptions.OtherThreadCountsRefreshPicks == 0 => "--counts-refresh-picks N",
                _ => null,
            };
            if (flag is not null)
            {
                _ = shared.Add($"{name} ({flag})");
            }
        }

        return [.. shared];
    }

    /// <summary>
    /// Logs (event 106) the schedulers of <see cref="SchedulersSharingStateAcrossThreads"/> when there are several
    /// packet threads: at the start, and after a reload that brings a scheduler not named before (each name is said
    /// once; a reload that only removes or keeps names says nothing).
    /// </summary>
    /// <param name="packetThreads">The number of packet threads; remembered for the reloads.</param>
    internal void NameSchedulersSharingState(int packetThreads)
    {
        _packetThreads = packetThreads;
        if (packetThreads < 2 || !_logger.IsEnabled(LogLevel.Information))
        {
            return;
        }

        var shared = SchedulersSharingStateAcrossThreads();
        lock (_namedSchedulers)
        {
            if (shared.All(_namedSchedulers.Contains))
            {
                return;
            }

            _namedSchedulers.UnionWith(shared);
        }

        string schedulers = string.Join(", ", shared);
        HostingLog.SchedulersShareState(_logger, packetThreads, schedulers);
    }

    /// <summary>The service table (the one model).</summary>
    public ServiceTable Table { get; } = null!;

    /// <summary>The engine.</summary>
    public DirectorEngine Engine { get; } = null!;

    /// <summary>The links, in the engine's order (interfaces, then TAP devices).</summary>
    public IReadOnlyList<IFrameLink> Links { get; } = [];

    /// <summary>keepalived's check daemon over the table.</summary>
    public DirectorHealth Health { get; } = null!;

    /// <summary>The director's instruments (meter <c>Lvs.Director</c>).</summary>
    public DirectorMetrics Metrics { get; } = null!;

    /// <summary>ARP and neighbour discovery for the director's links.</summary>
    public NeighborResolver Resolver { get; } = null!;

    /// <summary>The <c>ipvsadm -L -n --stats</c> table now, followed by a line of the drops by reason when there are any (<c>Drops: NotSyn 3, NoVirtualService 12</c>).</summary>
    /// <returns>The text.</returns>
    public string ListStatistics()
    {
        // ipvsadm -L -n --stats, then what the kernel would count nowhere ipvsadm shows: the drops, by reason.
        string table = IpvsadmListing.List(Engine, new IpvsadmListFormat { Stats = true });
        var drops = Engine.GetDropCounts();
        return drops.Count == 0
            ? table
            : table + "Drops: " + string.Join(", ", drops.OrderBy(d => d.Key).Select(d => string.Create(CultureInfo.InvariantCulture, $"{d.Key} {d.Value}"))) + "\n";
    }

    /// <summary>
    /// Reloads the rules (SIGHUP): applies the difference between the table and the files, leaving connections to
    /// servers that stay untouched.
    /// </summary>
    /// <returns>True when the table was reloaded.</returns>
    public bool Reload()
    {
        if (Options.RulesFile is { } rulesFile && Options.KeepalivedFile is { } both)
        {
            // Each file's diff is against the whole table: with two files, either would delete the other's services.
            HostingLog.ReloadNotAvailable(_logger, $"{rulesFile} and {both}");
            return false;
        }

        string file = Options.RulesFile ?? Options.KeepalivedFile ?? string.Empty;
        try
        {
            ConfigurationDiff diff;
            if (Options.RulesFile is not null)
            {
                var rules = IpvsadmRulesParser.Load(file);
                diff = ConfigurationReload.Reload(Table, rules, Engine.Connections.Timeouts);
                Rules = rules;
            }
            else if (Options.KeepalivedFile is not null && _keepalivedHealth is not null)
            {
                // A reload: init_file ... overwrite leaves existing track files alone, as keepalived's reload does.
                var configuration = KeepalivedConfigParser.Load(file, new KeepalivedParserOptions { Reload = true });
                foreach (var notice in configuration.Notices)
                {
                    HostingLog.ConfigurationNotice(_logger, notice);
                }

                diff = _keepalivedHealth.Reload(Table, configuration);
                Keepalived = configuration;
            }
            else
            {
                return false;
            }

            HostingLog.Reloaded(_logger, file, diff);
            NameSchedulersSharingState(_packetThreads);
            return true;
        }
        catch (ConfigurationException e)
        {
            HostingLog.ReloadFailed(_logger, file, e.Message);
            return false;
        }
        catch (IOException e)
        {
            HostingLog.ReloadFailed(_logger, file, e.Message);
            return false;
        }
    }

    /// <summary>Stops the resolver and the health checks, disposes the engine and the metrics, and closes the links.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (Health is not null)
        {
            await Health.DisposeAsync().ConfigureAwait(false);
        }

        DisposeCore();
        HostingLog.Stopped(_logger);
    }

    /// <summary>Disposes synchronously (a container disposed with <c>Dispose</c>): as <see cref="DisposeAsync"/>.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>
    /// On an AF_PACKET link the host kernel sees the director's traffic too: it must not own a VIP or local address (it
    /// would answer or reset), nor forward (it would send a second copy). Fails with every problem and its fix.
    /// </summary>
    private void CheckHost(IFrameLinkFactory linkFactory, IReadOnlyList<InetAddress> localAddresses)
    {
        var owned = Table.Snapshot.VirtualAddresses.ToArray().Concat(localAddresses).Distinct().ToList();
        var problems = new List<string>();
        foreach (var specification in Options.GetLinkSpecifications())
        {
            if (!linkFactory.SharesHostKernel(specification))
            {
                continue;
            }

            foreach (var problem in HostCheck.Check(HostSettings.Read(specification.Name), owned))
            {
                problems.Add($"{specification.Name}: {problem}");
            }
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException("The host is not set up for a director on AF_PACKET (docs/devices.md, Host settings):\n" + string.Join('\n', problems));
        }
    }

    private void DisposeCore()
    {
        _keepalivedHealth?.Dispose();
        Resolver?.Dispose();
        Metrics?.Dispose();
        Engine?.Dispose();
        foreach (var link in _links)
        {
            link.Dispose();
        }

        _links.Clear();
    }
}
