namespace Lvs.HealthChecks;

/// <summary>Where an exception the monitor caught (and counted in <see cref="HealthMonitor.UnexpectedErrors"/>) came from.</summary>
internal enum UnexpectedErrorSource
{
    /// <summary>A checker's <see cref="IHealthChecker.CheckAsync"/> threw (the check counts as failed).</summary>
    Checker,

    /// <summary>The <see cref="IRealServerHealthSink"/> threw.</summary>
    Sink,

    /// <summary>The logger threw.</summary>
    Logger,

    /// <summary>The monitor's own bookkeeping around a check threw; the check is armed again after its delay_loop.</summary>
    CheckLoop,

    /// <summary>A <see cref="FileChecker"/>'s file could not be watched, or its change notification failed; the file is still read every delay_loop.</summary>
    FileWatch,
}
