namespace Lvs.Devices;

/// <summary>How an <see cref="AfPacketLink"/> sets up its sockets and rings.</summary>
public sealed record AfPacketLinkOptions
{
    /// <summary>The number of queues: sockets in one PACKET_FANOUT group, one per packet thread. Default 1.</summary>
    public int QueueCount { get; init; } = 1;

    /// <summary>How the kernel spreads frames over the queues. Default <see cref="AfPacketFanoutMode.Hash"/>.</summary>
    public AfPacketFanoutMode FanoutMode { get; init; } = AfPacketFanoutMode.Hash;

    /// <summary>
    /// The PACKET_FANOUT group id (1-65535, unique per network namespace); null, the default, lets the kernel pick an
    /// unused one (PACKET_FANOUT_FLAG_UNIQUEID). Only used with more than one queue.
    /// </summary>
    public int? FanoutGroupId { get; init; }

    /// <summary>The bytes before each received frame the engine may write into. Default <see cref="FrameBatch.DefaultHeadroom"/>.</summary>
    public int Headroom { get; init; } = FrameBatch.DefaultHeadroom;

    /// <summary>
    /// The bytes after each received frame that belong to it at least (beyond the 16-byte alignment slack), so the
    /// engine can grow a frame in place (fragments, ICMP errors). Default 128.
    /// </summary>
    public int Tailroom { get; init; } = 128;

    /// <summary>
    /// How the receive ring hands frames over: <see cref="AfPacketReceiveRing.Frames"/> (TPACKET_V2, each frame at
    /// once; the default) or <see cref="AfPacketReceiveRing.Blocks"/> (TPACKET_V3, a block at a time).
    /// </summary>
    public AfPacketReceiveRing ReceiveRing { get; init; } = AfPacketReceiveRing.Frames;

    /// <summary>The size of a receive ring block (a multiple of the page size; it holds many frames). Default 256 KiB.</summary>
    public int BlockSize { get; init; } = 256 * 1024;

    /// <summary>The number of receive ring blocks per queue. Default 16.</summary>
    public int BlockCount { get; init; } = 16;

    /// <summary>With <see cref="AfPacketReceiveRing.Blocks"/>: how long the kernel fills a block before handing it over anyway (tp_retire_blk_tov, milliseconds), the added latency at low rates. Default 1.</summary>
    public int BlockTimeoutMilliseconds { get; init; } = 1;

    /// <summary>The number of transmit ring slots per queue (one frame each). Default 1024.</summary>
    public int TransmitSlots { get; init; } = 1024;

    /// <summary>
    /// Turn generic receive offload (GRO) and large receive offload (LRO) off on the interface while the link is
    /// open, and restore them on <see cref="AfPacketLink.Dispose"/>, so received frames are never larger than the
    /// MTU. Default true.
    /// </summary>
    public bool DisableReceiveOffloads { get; init; } = true;

    /// <summary>Send with PACKET_QDISC_BYPASS (straight to the driver, no traffic control). Default false.</summary>
    public bool BypassQueueingDiscipline { get; init; }

    /// <summary>
    /// Whether the link asks the interface for every multicast frame (PACKET_MR_ALLMULTI, held while the link is open
    /// and dropped by the kernel when its socket closes). Default true: a neighbour solicitation for a director's IPv6
    /// address that is not the kernel's (a VIP, a FULLNAT local address) goes to that address's solicited-node group,
    /// which no one joined, so a NIC that filters multicast would never deliver it and IPv6 clients could not reach
    /// the VIP. False leaves the interface's multicast filter as the kernel set it (enough for IPv4-only directors).
    /// </summary>
    public bool ReceiveAllMulticast { get; init; } = true;
}
