using Lvs.Devices.Neighbors;
using Lvs.Director;
using Lvs.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Lvs.Hosting;

/// <summary>Configures the director added by <see cref="LvsDirectorServiceCollectionExtensions.AddLvsDirector(IServiceCollection)"/>; each method returns the builder to chain on.</summary>
public sealed class LvsDirectorBuilder
{
    internal LvsDirectorBuilder(IServiceCollection services, LvsDirectorSetup setup)
    {
        Services = services;
        Setup = setup;
    }

    /// <summary>The services.</summary>
    public IServiceCollection Services { get; }

    /// <summary>What the builder collects.</summary>
    public LvsDirectorSetup Setup { get; }

    /// <summary>Opens links with another factory (in-memory links, pcap replay) instead of AF_PACKET and TAP.</summary>
    /// <param name="factory">The factory.</param>
    /// <returns>The builder.</returns>
    public LvsDirectorBuilder UseLinkFactory(IFrameLinkFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Services.Replace(ServiceDescriptor.Singleton(factory));
        return this;
    }

    /// <summary>Edits the table in code after the rules file is applied.</summary>
    /// <param name="configure">The edit.</param>
    /// <returns>The builder.</returns>
    public LvsDirectorBuilder ConfigureTable(Action<ServiceTable> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Setup.ConfigureTable.Add(configure);
        return this;
    }

    /// <summary>
    /// Sets the settings every service's scheduler is created with: the sh/dh table size and order, the Maglev table size
    /// and seed, or the kernel's own mh table (<see cref="SchedulerOptions.MaglevKernelCompatible"/>).
    /// </summary>
    /// <param name="options">The settings (their <see cref="SchedulerOptions.Flags"/> are each service's own and ignored here).</param>
    /// <returns>The builder.</returns>
    public LvsDirectorBuilder UseSchedulerOptions(SchedulerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Setup.Schedulers = options;
        return this;
    }

    /// <summary>Changes the engine's options (sysctls, connection table, forwarding) before the engine is created.</summary>
    /// <param name="configure">Returns the options to use.</param>
    /// <returns>The builder.</returns>
    public LvsDirectorBuilder ConfigureEngine(Func<DirectorOptions, DirectorOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var previous = Setup.ConfigureEngine;
        Setup.ConfigureEngine = previous is null ? configure : options => configure(previous(options));
        return this;
    }

    /// <summary>Sets the neighbour cache's parameters (the kernel's by default).</summary>
    /// <param name="parameters">The parameters.</param>
    /// <returns>The builder.</returns>
    public LvsDirectorBuilder UseNeighborParameters(NeighborParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        Setup.Neighbors = parameters;
        return this;
    }

    /// <summary>Uses a random source of the caller's (reachable times), for deterministic tests.</summary>
    /// <param name="random">The source.</param>
    /// <returns>The builder.</returns>
    public LvsDirectorBuilder UseRandom(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        Setup.Random = random;
        return this;
    }

    /// <summary>Writes the periodic statistics table (<see cref="LvsDirectorOptions.StatsInterval"/>) here instead of the log.</summary>
    /// <param name="writer">Receives the table's text.</param>
    /// <returns>The builder.</returns>
    public LvsDirectorBuilder WriteStatisticsTo(Action<string> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Setup.StatisticsWriter = writer;
        return this;
    }
}
