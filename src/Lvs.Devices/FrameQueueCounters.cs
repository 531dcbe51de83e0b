namespace Lvs.Devices;

/// <summary>
/// A queue's counters. Written only by the thread that uses the queue, read by anyone (each value is one aligned
/// 64-bit word, so a reader never sees a torn value).
/// </summary>
public sealed class FrameQueueCounters
{
    private static readonly int ReasonCount = Enum.GetValues<LinkDropReason>().Length;
    private readonly long[] _dropped = new long[ReasonCount];
    private long _received;
    private long _sent;
    private long _checksumsCompleted;
    private long _socketErrors;

    /// <summary>Frames delivered to the engine.</summary>
    public long Received => Volatile.Read(ref _received);

    /// <summary>Frames handed to the kernel for sending.</summary>
    public long Sent => Volatile.Read(ref _sent);

    /// <summary>Received frames whose partial (CHECKSUM_PARTIAL) transport checksum the link completed in software.</summary>
    public long ChecksumsCompleted => Volatile.Read(ref _checksumsCompleted);

    /// <summary>Errors the socket reported while waiting (ENETDOWN when the interface went down), read and cleared.</summary>
    public long SocketErrors => Volatile.Read(ref _socketErrors);

    /// <summary>The frames dropped for a reason.</summary>
    /// <param name="reason">The reason.</param>
    /// <returns>The count.</returns>
    public long Dropped(LinkDropReason reason) => (uint)reason < (uint)_dropped.Length ? Volatile.Read(ref _dropped[(int)reason]) : 0;

    /// <summary>Every frame dropped, whatever the reason.</summary>
    public long TotalDropped
    {
        get
        {
            long total = 0;
            for (int i = 1; i < _dropped.Length; i++)
            {
                total += Volatile.Read(ref _dropped[i]);
            }

            return total;
        }
    }

    internal void CountReceived(int frames) => Volatile.Write(ref _received, _received + frames);

    internal void CountSent(int frames) => Volatile.Write(ref _sent, _sent + frames);

    internal void CountChecksumCompleted() => Volatile.Write(ref _checksumsCompleted, _checksumsCompleted + 1);

    internal void CountSocketError() => Volatile.Write(ref _socketErrors, _socketErrors + 1);

    internal void CountDrop(LinkDropReason reason) => Volatile.Write(ref _dropped[(int)reason], _dropped[(int)reason] + 1);
}
