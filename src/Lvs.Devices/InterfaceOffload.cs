namespace Lvs.Devices;

/// <summary>An interface offload, as the legacy ethtool ioctls (SIOCETHTOOL) switch it.</summary>
public enum InterfaceOffload
{
    /// <summary>Generic receive offload (ETHTOOL_GGRO/SGRO): the kernel merges received segments.</summary>
    GenericReceive,

    /// <summary>Large receive offload (ETH_FLAG_LRO in ETHTOOL_GFLAGS/SFLAGS): the NIC merges received segments.</summary>
    LargeReceive,

    /// <summary>TCP segmentation offload (ETHTOOL_GTSO/STSO): the stack hands the device frames larger than the MTU.</summary>
    TcpSegmentation,

    /// <summary>Generic segmentation offload (ETHTOOL_GGSO/SGSO): the stack builds super-frames segmented late.</summary>
    GenericSegmentation,

    /// <summary>Transmit checksum offload (ETHTOOL_GTXCSUM/STXCSUM): the stack leaves transport checksums partial.</summary>
    TransmitChecksum,

    /// <summary>Receive checksum offload (ETHTOOL_GRXCSUM/SRXCSUM).</summary>
    ReceiveChecksum,
}
