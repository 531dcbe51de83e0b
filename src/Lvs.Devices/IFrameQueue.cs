namespace Lvs.Devices;

/// <summary>
/// One receive and transmit queue of a link, used by one packet thread at a time. Receiving and sending allocate
/// nothing and throw nothing on packet data.
/// </summary>
public interface IFrameQueue
{
    /// <summary>The link the queue belongs to.</summary>
    IFrameLink Link { get; }

    /// <summary>
    /// Waits until frames arrive or the timeout passes, and fills <paramref name="batch"/> with them (replacing its
    /// content). The frames stay valid, and writable in place, until <see cref="Release"/>.
    /// </summary>
    /// <param name="batch">The batch to fill.</param>
    /// <param name="timeoutMilliseconds">The longest wait; 0 does not wait.</param>
    /// <returns>The number of frames received (0 on timeout or when the link is closing).</returns>
    int Receive(FrameBatch batch, int timeoutMilliseconds);

    /// <summary>Gives the batch's frames back to the link (a ring block returns to the kernel). The batch is empty after.</summary>
    /// <param name="batch">The batch last filled by <see cref="Receive"/>.</param>
    void Release(FrameBatch batch);

    /// <summary>Queues a complete Ethernet frame for sending (it is copied).</summary>
    /// <param name="frame">The frame.</param>
    /// <returns>False when the transmit queue is full (the frame is dropped and counted).</returns>
    bool TrySend(ReadOnlySpan<byte> frame);

    /// <summary>Sends every queued frame.</summary>
    void Flush();

    /// <summary>The queue's counters (frames received, sent, dropped by <see cref="LinkDropReason"/>); null when the queue keeps none.</summary>
    FrameQueueCounters? Counters => null;
}
