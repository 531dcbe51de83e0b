namespace Lvs.Director.Simulation;

/// <summary>
/// A clock that moves only when told: simulations keep it still, replays set it to each captured frame's timestamp.
/// Timers are not supported (the simulated engine is not started; a replay runs the connection table's housekeeping
/// itself as its clock passes each second).
/// </summary>
internal sealed class SimulationClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    /// <summary>The current time.</summary>
    public DateTimeOffset Now => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    /// <inheritdoc />
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow() => Now;

    /// <inheritdoc />
    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    /// <summary>Moves the clock to a time; a time before the current one leaves it where it is (the clock never goes back).</summary>
    /// <param name="time">The time.</param>
    public void MoveTo(DateTimeOffset time)
    {
        long ticks = time.UtcTicks;
        if (ticks > Interlocked.Read(ref _ticks))
        {
            Interlocked.Exchange(ref _ticks, ticks);
        }
    }

    /// <inheritdoc />
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        throw new NotSupportedException("The simulation clock has no timers: the simulated engine is driven by its caller.");
}
