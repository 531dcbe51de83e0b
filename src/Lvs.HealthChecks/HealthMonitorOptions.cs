using Microsoft.Extensions.Logging;

namespace Lvs.HealthChecks;

/// <summary>Settings of a <see cref="HealthMonitor"/>.</summary>
public sealed record HealthMonitorOptions
{
    /// <summary>The clock for scheduling and event times; the system clock by default.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The random source for <see cref="CheckTiming.Warmup"/>; <see cref="Random.Shared"/> by default.</summary>
    public Random Random { get; init; } = Random.Shared;

    /// <summary>
    /// How many checks may run at once across all servers; the others wait their turn (no thread is held while
    /// waiting). 256 by default.
    /// </summary>
    public int MaxConcurrentChecks
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            field = value;
        }
    } = 256;

    /// <summary>Where state changes and sink errors are logged; nowhere by default.</summary>
    public ILogger? Logger { get; init; }
}
