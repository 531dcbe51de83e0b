namespace Lvs.Devices.Native;

/// <summary>The fields of a received frame's struct tpacket3_hdr the queue uses, copied out of the ring.</summary>
internal readonly unsafe struct FrameHeader
{
    internal uint NextOffset { get; init; }

    internal uint SnapLength { get; init; }

    internal uint Length { get; init; }

    internal uint Status { get; init; }

    internal int MacOffset { get; init; }

    internal static FrameHeader Read(byte* header) => new()
    {
        NextOffset = *(uint*)(header + PacketRingLayout.FrameNextOffset),
        SnapLength = *(uint*)(header + PacketRingLayout.FrameSnapLength),
        Length = *(uint*)(header + PacketRingLayout.FrameLength),
        Status = *(uint*)(header + PacketRingLayout.FrameStatus),
        MacOffset = *(ushort*)(header + PacketRingLayout.FrameMacOffset),
    };
}
