namespace Lvs.Devices;

/// <summary>How a <see cref="MemoryLink"/> pair is made.</summary>
public sealed record MemoryLinkOptions
{
    /// <summary>The MTU of both ends. Default 1500.</summary>
    public int Mtu { get; init; } = 1500;

    /// <summary>The queues of each end. Default 1.</summary>
    public int QueueCount { get; init; } = 1;

    /// <summary>The frames a queue holds before its peer's sends fail. Default 256.</summary>
    public int Slots { get; init; } = 256;

    /// <summary>The bytes before each received frame. Default <see cref="FrameBatch.DefaultHeadroom"/>.</summary>
    public int Headroom { get; init; } = FrameBatch.DefaultHeadroom;

    /// <summary>The bytes after the largest frame each slot keeps free. Default 128.</summary>
    public int Tailroom { get; init; } = 128;
}
