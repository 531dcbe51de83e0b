using System.Diagnostics.Metrics;
using Lvs.Director;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lvs.Hosting;

/// <summary>Adds the director to a host: <c>services.AddLvsDirector()</c>.</summary>
public static class LvsDirectorServiceCollectionExtensions
{
    /// <summary>
    /// Adds the director: <see cref="LvsDirectorOptions"/> bound from the configuration section <c>Lvs</c> and validated
    /// at start-up, the <see cref="LvsDirector"/> (also <see cref="DirectorEngine"/> and <see cref="ServiceTable"/>),
    /// and the hosted services, started in this order and stopped in the reverse: housekeeping (connection expiry,
    /// rate estimator, statistics), health checks, neighbour resolution, packet threads.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <returns>The builder.</returns>
    public static LvsDirectorBuilder AddLvsDirector(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _ = services.AddOptions<LvsDirectorOptions>().BindConfiguration(LvsDirectorOptions.SectionName).ValidateOnStart();
        return AddCore(services);
    }

    /// <summary>Adds the director (as <see cref="AddLvsDirector(IServiceCollection)"/>) and sets options in code after the configuration's.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets options.</param>
    /// <returns>The builder.</returns>
    public static LvsDirectorBuilder AddLvsDirector(this IServiceCollection services, Action<LvsDirectorOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var builder = services.AddLvsDirector();
        _ = services.Configure(configure);
        return builder;
    }

    /// <summary>Adds the director with its options bound from a configuration section of the caller's.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The section holding the options.</param>
    /// <returns>The builder.</returns>
    public static LvsDirectorBuilder AddLvsDirector(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        _ = services.AddOptions<LvsDirectorOptions>().Bind(configuration).ValidateOnStart();
        return AddCore(services);
    }

    private static LvsDirectorBuilder AddCore(IServiceCollection services)
    {
        if (services.FirstOrDefault(d => d.ServiceType == typeof(LvsDirectorSetup))?.ImplementationInstance is LvsDirectorSetup added)
        {
            // Added before: the same director, the hosted services once.
            return new LvsDirectorBuilder(services, added);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LvsDirectorOptions>, LvsDirectorOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IFrameLinkFactory, LinuxFrameLinkFactory>();
        var setup = new LvsDirectorSetup();
        services.AddSingleton(setup);
        services.TryAddSingleton(provider => new LvsDirector(
            provider.GetRequiredService<IOptions<LvsDirectorOptions>>(),
            provider.GetRequiredService<IFrameLinkFactory>(),
            provider.GetRequiredService<LvsDirectorSetup>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetService<ILoggerFactory>(),
            provider.GetService<IMeterFactory>()));
        services.TryAddSingleton(provider => provider.GetRequiredService<LvsDirector>().Engine);
        services.TryAddSingleton(provider => provider.GetRequiredService<LvsDirector>().Table);
        services.AddHostedService<DirectorHousekeepingService>();
        services.AddHostedService<DirectorHealthService>();
        services.AddHostedService<NeighborResolverService>();
        services.AddHostedService<PacketWorkerService>();
        return new LvsDirectorBuilder(services, setup);
    }
}
