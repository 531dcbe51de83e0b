using System.Runtime.InteropServices;

namespace Lvs.Devices.Native;

/// <summary>struct ethtool_value: a command and one value (the legacy ETHTOOL_G/S* offload commands).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct EthtoolValue
{
    internal uint Command;
    internal uint Data;

    internal const uint GetReceiveChecksum = 0x14;
    internal const uint GetTransmitChecksum = 0x16;
    internal const uint GetTso = 0x1E;
    internal const uint GetGso = 0x23;
    internal const uint GetFlags = 0x25;
    internal const uint SetFlags = 0x26;
    internal const uint GetGro = 0x2B;
    internal const uint SetGro = 0x2C;

    /// <summary>ETH_FLAG_LRO in the ETHTOOL_GFLAGS word.</summary>
    internal const uint FlagLro = 1 << 15;
}
