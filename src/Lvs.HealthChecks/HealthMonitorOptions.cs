using Microsoft.Extensions.Logging;

namespace Lvs.HealthChecks;

/// <summary>Settings of a <see cref="HealthMonitor"/>.</summary>
public sealed record HealthMonitorOptions
{
    /// <summary>The clock for scheduling and event times; the system clock by default.</summary>
    public TimeProvider TimeProvider
    {
        get;
        init => field = value ?? throw new ArgumentNullException(nameof(TimeProvider));
    } = TimeProvider.System;

    /// <summary>The random source for <see cref="CheckTiming.Warmup"/>; <see cref="Random.Shared"/> by default.</summary>
    public Random Random
    {
        get;
        init => field = value ?? throw new ArgumentNullException(nameof(Random));
    } = Random.Shared;

    /// <summary>
    /// How many <see cref="MiscChecker"/> commands may run at once across all servers; a due one waits its turn
    /// (no thread is held while waiting). 64 by default. Only processes are limited: every other check runs when it
    /// is due, as in keepalived, so that no server's schedule depends on other servers' slow checks.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Less than 1.</exception>
    public int MaxConcurrentMiscChecks
    {
        get;
        init => field = OptionValidation.InRange(value, 1, int.MaxValue, nameof(MaxConcurrentMiscChecks), "(no keyword)");
    } = 64;

    /// <summary>Where state changes and errors are logged; nowhere by default.</summary>
    public ILogger? Logger { get; init; }
}
