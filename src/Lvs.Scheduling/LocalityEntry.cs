namespace Lvs.Scheduling;

/// <summary>An entry of the lblc or lblcr table: what one destination address maps to, and when it was last used.</summary>
internal abstract class LocalityEntry
{
    private long _lastUse;

    /// <summary>Creates an entry used now.</summary>
    /// <param name="now">The current timestamp.</param>
    protected LocalityEntry(long now) => _lastUse = now;

    /// <summary>When a pick last used the entry (a <see cref="TimeProvider.GetTimestamp"/> value).</summary>
    public long LastUse
    {
        get => Volatile.Read(ref _lastUse);
        set => Volatile.Write(ref _lastUse, value);
    }
}
