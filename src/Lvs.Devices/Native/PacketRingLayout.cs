namespace Lvs.Devices.Native;

/// <summary>
/// Offsets in a TPACKET_V3 ring (linux/if_packet.h): the block descriptor (struct tpacket_block_desc with its
/// tpacket_hdr_v1), the per-frame header (struct tpacket3_hdr) and struct virtio_net_hdr (PACKET_VNET_HDR).
/// </summary>
internal static class PacketRingLayout
{
    // struct tpacket_block_desc: version, offset_to_priv, then struct tpacket_hdr_v1.
    internal const int BlockStatus = 8;
    internal const int BlockPacketCount = 12;
    internal const int BlockFirstPacketOffset = 16;
    internal const int BlockLength = 20;

    // struct tpacket3_hdr (48 bytes after TPACKET_ALIGN).
    internal const int FrameNextOffset = 0;
    internal const int FrameSnapLength = 12;
    internal const int FrameLength = 16;
    internal const int FrameStatus = 20;
    internal const int FrameMacOffset = 24;
    internal const int FrameHeaderSize = 48;

    /// <summary>TPACKET3_HDRLEN: the aligned header and a struct sockaddr_ll.</summary>
    internal const int FrameHeaderWithAddress = 48 + 20;

    /// <summary>Where a transmitted frame's data starts in its slot: tp_hdrlen - sizeof(struct sockaddr_ll).</summary>
    internal const int TransmitDataOffset = FrameHeaderSize;

    // struct tpacket2_hdr (32 bytes): tp_status, tp_len, tp_snaplen, tp_mac, tp_net, ...; TPACKET2_HDRLEN = 32 + 20.
    internal const int V2FrameStatus = 0;
    internal const int V2FrameLength = 4;
    internal const int V2FrameSnapLength = 8;
    internal const int V2FrameMacOffset = 12;
    internal const int V2FrameHeaderWithAddress = 32 + 20;
    internal const int V2TransmitDataOffset = 32;

    // struct virtio_net_hdr (10 bytes, little-endian fields).
    internal const int VnetHeaderSize = 10;
    internal const int VnetFlags = 0;
    internal const int VnetGsoType = 1;
    internal const int VnetChecksumStart = 6;
    internal const int VnetChecksumOffset = 8;
    internal const byte VnetFlagNeedsChecksum = 1;
    internal const byte VnetGsoNone = 0;

    /// <summary>TPACKET_ALIGN.</summary>
    internal static int Align(int value) => (value + 15) & ~15;

    /// <summary>
    /// Where the kernel puts a received frame's MAC header in a TPACKET_V2 slot: TPACKET_ALIGN(52 + 16) + reserve +
    /// 10 (virtio_net_hdr) - 14 = 76 + reserve.
    /// </summary>
    internal static int V2MacOffset(int reserve) => Align(V2FrameHeaderWithAddress + 16) + reserve + VnetHeaderSize - 14;
}
