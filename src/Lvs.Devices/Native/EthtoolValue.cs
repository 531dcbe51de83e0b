using System.Runtime.InteropServices;

namespace Lvs.Devices.Native;

/// <summary>struct ethtool_value: a command and one value (the legacy ETHTOOL_G/S* offload commands).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct EthtoolValue
{
    internal uint Command;
    internal uint Data;

    internal const uint GetFlags = 0x25;
    internal const uint SetFlags = 0x26;
    internal const uint GetGro = 0x2B;
    internal const uint SetGro = 0x2C;

    /// <summary>ETH_FLAG_LRO in the ETHTOOL_GFLAGS word.</summary>
    internal const uint FlagLro = 1 << 15;
}
