using Lvs.Core;

namespace Lvs.Devices;

/// <summary>How a <see cref="TapLink"/> is created.</summary>
public sealed record TapLinkOptions
{
    /// <summary>The TAP interface's name (at most 15 characters). Required.</summary>
    public required string Name { get; init; }

    /// <summary>
    /// The director's addresses on the link, with their connected subnets. They are the director's own: the kernel
    /// side of the TAP device does not get them.
    /// </summary>
    public IReadOnlyList<InetPrefix> Addresses { get; init; } = [];

    /// <summary>
    /// The director's MAC on the link (the source of the frames it sends); null, the default, derives a locally
    /// administered unicast MAC from <see cref="Name"/>. It differs from the kernel side's own MAC.
    /// </summary>
    public MacAddress? Mac { get; init; }

    /// <summary>The link's MTU, set on the kernel side too. Default 1500.</summary>
    public int Mtu { get; init; } = 1500;

    /// <summary>The number of queues (IFF_MULTI_QUEUE, one descriptor each, when more than 1). Default 1.</summary>
    public int QueueCount { get; init; } = 1;

    /// <summary>The bytes before each received frame. Default <see cref="FrameBatch.DefaultHeadroom"/>.</summary>
    public int Headroom { get; init; } = FrameBatch.DefaultHeadroom;

    /// <summary>The bytes after the largest frame each receive slot keeps free. Default 128.</summary>
    public int Tailroom { get; init; } = 128;

    /// <summary>The most frames one receive reads (the slots of a queue's buffer). Default 64.</summary>
    public int BatchSize { get; init; } = 64;
}
