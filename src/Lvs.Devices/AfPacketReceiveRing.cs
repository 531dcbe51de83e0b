namespace Lvs.Devices;

/// <summary>How an <see cref="AfPacketLink"/> queue's receive ring hands frames over (the socket's TPACKET version).</summary>
public enum AfPacketReceiveRing
{
    /// <summary>
    /// TPACKET_V2: one fixed-size slot per frame, handed over (and the waiting thread woken) as soon as the kernel
    /// has written it. A frame waits for nothing, so a director on the link adds no latency of its own at low and
    /// moderate rates. The default.
    /// </summary>
    Frames,

    /// <summary>
    /// TPACKET_V3: frames packed into blocks, a block handed over when it is full or
    /// <see cref="AfPacketLinkOptions.BlockTimeoutMilliseconds"/> after it was opened. Fewer wake-ups at very high
    /// rates, but below a block's worth of frames per timeout every frame waits for the timeout (at least 1 ms):
    /// each pass through a director adds that to the round trip.
    /// </summary>
    Blocks,
}
