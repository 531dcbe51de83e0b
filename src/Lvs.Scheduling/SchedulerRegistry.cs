using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Lvs.Scheduling;

/// <summary>
/// Creates schedulers by their ipvsadm name (<c>ipvsadm -s wrr</c>): the fourteen built-in ones, and user-defined
/// ones registered with a factory. Names are case-insensitive. Thread-safe.
/// </summary>
/// <example>
/// <code>
/// var registry = new SchedulerRegistry();
/// registry.Register("random", options =&gt; new MyRandomScheduler(options.Random));
/// IScheduler mh = registry.Create("mh", new SchedulerOptions { Flags = SchedulerOptions.ParseFlags("mh-port") });
/// </code>
/// </example>
public sealed class SchedulerRegistry
{
    private readonly ConcurrentDictionary<string, Func<SchedulerOptions, IScheduler>> _factories =
        new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates a registry holding the fourteen built-in schedulers.</summary>
    public SchedulerRegistry()
    {
        _factories[SchedulerNames.RoundRobin] = o => new RoundRobinScheduler(o);
        _factories[SchedulerNames.WeightedRoundRobin] = o => new WeightedRoundRobinScheduler(o);
        _factories[SchedulerNames.LeastConnection] = o => new LeastConnectionScheduler(o);
        _factories[SchedulerNames.WeightedLeastConnection] = o => new WeightedLeastConnectionScheduler(o);
        _factories[SchedulerNames.ShortestExpectedDelay] = o => new ShortestExpectedDelayScheduler(o);
        _factories[SchedulerNames.NeverQueue] = o => new NeverQueueScheduler(o);
        _factories[SchedulerNames.LocalityBasedLeastConnection] = o => new LocalityBasedLeastConnectionScheduler(o);
        _factories[SchedulerNames.LocalityBasedLeastConnectionWithReplication] = o => new LocalityBasedLeastConnectionWithReplicationScheduler(o);
        _factories[SchedulerNames.DestinationHashing] = o => new DestinationHashingScheduler(o);
        _factories[SchedulerNames.SourceHashing] = o => new SourceHashingScheduler(o);
        _factories[SchedulerNames.MaglevHashing] = o => new MaglevHashingScheduler(o);
        _factories[SchedulerNames.WeightedFailover] = _ => new WeightedFailoverScheduler();
        _factories[SchedulerNames.WeightedOverflow] = o => new WeightedOverflowScheduler(o);
        _factories[SchedulerNames.PowerOfTwoChoices] = o => new PowerOfTwoChoicesScheduler(o);
    }

    /// <summary>The registered names, sorted.</summary>
    public IReadOnlyList<string> Names => [.. _factories.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Registers a scheduler, or replaces the factory of a name (built-in names included).</summary>
    /// <param name="name">The name ipvsadm-style configuration uses.</param>
    /// <param name="factory">Creates a scheduler for one service from the service's options.</param>
    /// <exception cref="ArgumentException">The name is empty or blank.</exception>
    public void Register(string name, Func<SchedulerOptions, IScheduler> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        _factories[name] = factory;
    }

    /// <summary>True when a scheduler of this name is registered.</summary>
    /// <param name="name">The name.</param>
    /// <returns>True when registered.</returns>
    public bool Contains(string name) => name is not null && _factories.ContainsKey(name);

    /// <summary>Creates a scheduler for one service.</summary>
    /// <param name="name">The scheduler's name.</param>
    /// <param name="options">The service's scheduler options; null for the defaults.</param>
    /// <param name="scheduler">The new scheduler, when the name is registered.</param>
    /// <returns>True when the name is registered.</returns>
    public bool TryCreate(string name, SchedulerOptions? options, [NotNullWhen(true)] out IScheduler? scheduler)
    {
        scheduler = null;
        if (name is null || !_factories.TryGetValue(name, out var factory))
        {
            return false;
        }

        scheduler = factory(options ?? SchedulerOptions.Default);
        return true;
    }

    /// <summary>Creates a scheduler for one service.</summary>
    /// <param name="name">The scheduler's name.</param>
    /// <param name="options">The service's scheduler options; null for the defaults.</param>
    /// <returns>The new scheduler.</returns>
    /// <exception cref="ArgumentException">No scheduler of this name is registered.</exception>
    public IScheduler Create(string name, SchedulerOptions? options = null) =>
        TryCreate(name, options, out var scheduler)
            ? scheduler
            : throw new ArgumentException($"Unknown scheduler '{name}'. Known: {string.Join(", ", Names)}.", nameof(name));
}
