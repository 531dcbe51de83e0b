namespace Lvs.Devices;

/// <summary>A queue backed by one file descriptor that poll reports readable when frames wait (AF_PACKET, TAP).</summary>
internal interface IPollableFrameQueue
{
    /// <summary>The descriptor to poll for POLLIN.</summary>
    int Descriptor { get; }

    /// <summary>Whether frames can be received now without waiting (some already handed over but not yet taken).</summary>
    bool HasPending { get; }

    /// <summary>Handles POLLERR on the descriptor (reads and clears the socket error, so the next poll blocks again).</summary>
    void AcknowledgeError();
}
