namespace Lvs.Devices;

/// <summary>Why a link dropped a frame before (receive) or after (send) the engine saw it.</summary>
public enum LinkDropReason
{
    /// <summary>Not dropped.</summary>
    None = 0,

    /// <summary>A received frame longer than the link's MTU plus its Ethernet header (and one VLAN tag): a GRO/LRO aggregate or a GSO frame from a local sender.</summary>
    Oversize,

    /// <summary>A received frame the ring or buffer holds only part of.</summary>
    Truncated,

    /// <summary>A received frame whose VLAN tag the kernel had taken off (it belongs to a VLAN interface on top of this one).</summary>
    VlanTagged,

    /// <summary>A received frame with a partial checksum (CHECKSUM_PARTIAL) whose checksum place lies outside the frame.</summary>
    PartialChecksumOutOfBounds,

    /// <summary>A frame to send with no free slot in the transmit ring (or the device would block).</summary>
    TransmitQueueFull,

    /// <summary>A frame to send longer than the link's MTU plus its Ethernet header and a VLAN tag, or shorter than an Ethernet header.</summary>
    TransmitBadLength,

    /// <summary>A frame the kernel refused to send (a write or sendto error other than "would block").</summary>
    TransmitError,
}
