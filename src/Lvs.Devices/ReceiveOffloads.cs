using Lvs.Devices.Native;

namespace Lvs.Devices;

/// <summary>
/// Turns GRO and LRO off on an interface (legacy ethtool ioctls: ETHTOOL_SGRO, ETHTOOL_SFLAGS without
/// ETH_FLAG_LRO) and turns back on exactly what it turned off.
/// </summary>
internal sealed class ReceiveOffloads
{
    private readonly string _interface;
    private bool _restoreGro;
    private bool _restoreLro;

    private ReceiveOffloads(string interfaceName) => _interface = interfaceName;

    /// <summary>The offloads turned off ("generic-receive-offload", "large-receive-offload", ethtool's names).</summary>
    internal IReadOnlyList<string> Disabled => (_restoreGro, _restoreLro) switch
    {
        (true, true) => ["generic-receive-offload", "large-receive-offload"],
        (true, false) => ["generic-receive-offload"],
        (false, true) => ["large-receive-offload"],
        _ => [],
    };

    /// <summary>Turns GRO and LRO off where they are on; an interface without them is left as it is.</summary>
    internal static ReceiveOffloads Disable(string interfaceName)
    {
        var offloads = new ReceiveOffloads(interfaceName);
        uint gro = 0;
        if (InterfaceControl.TryEthtool(interfaceName, EthtoolValue.GetGro, ref gro) && gro != 0)
        {
            uint off = 0;
            if (!InterfaceControl.TryEthtool(interfaceName, EthtoolValue.SetGro, ref off))
            {
                throw LibC.Failure($"ETHTOOL_SGRO off on {interfaceName}");
            }

            offloads._restoreGro = true;
        }

        uint flags = 0;
        if (InterfaceControl.TryEthtool(interfaceName, EthtoolValue.GetFlags, ref flags) && (flags & EthtoolValue.FlagLro) != 0)
        {
            uint cleared = flags & ~EthtoolValue.FlagLro;
            if (!InterfaceControl.TryEthtool(interfaceName, EthtoolValue.SetFlags, ref cleared))
            {
                offloads.Restore();
                throw LibC.Failure($"ETHTOOL_SFLAGS without LRO on {interfaceName}");
            }

            offloads._restoreLro = true;
        }

        return offloads;
    }

    /// <summary>Turns back on what <see cref="Disable"/> turned off (best effort: the interface may be gone).</summary>
    internal void Restore()
    {
        if (_restoreGro)
        {
            uint on = 1;
            InterfaceControl.TryEthtool(_interface, EthtoolValue.SetGro, ref on);
            _restoreGro = false;
        }

        if (_restoreLro)
        {
            uint flags = 0;
            if (InterfaceControl.TryEthtool(_interface, EthtoolValue.GetFlags, ref flags))
            {
                flags |= EthtoolValue.FlagLro;
                InterfaceControl.TryEthtool(_interface, EthtoolValue.SetFlags, ref flags);
            }

            _restoreLro = false;
        }
    }
}
