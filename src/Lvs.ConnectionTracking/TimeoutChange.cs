namespace Lvs.ConnectionTracking;

/// <summary>
/// One entry of <see cref="ConnectionTimeouts"/>' change log: which timeout changed and the value it had until then.
/// The log is a list linked forwards, so a reader holds its place and everything after it, and entries no reader
/// holds are collected.
/// </summary>
/// <param name="index">The timeout's index (<see cref="ConnectionTimeouts.IndexOf"/>), or -1 for the placeholder a log starts with.</param>
/// <param name="previous">The value in seconds before the change.</param>
internal sealed class TimeoutChange(int index, int previous)
{
    /// <summary>The timeout's index (<see cref="ConnectionTimeouts.IndexOf"/>).</summary>
    public int Index { get; } = index;

    /// <summary>The value in seconds before the change: connections refreshed until then expire at most this long after it.</summary>
    public int Previous { get; } = previous;

    /// <summary>The next change, or null; written once, with a release write.</summary>
    public TimeoutChange? Next;
}
