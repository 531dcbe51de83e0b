namespace Lvs.Devices;

/// <summary>
/// Turns GRO and LRO off on an interface (legacy ethtool ioctls, <see cref="InterfaceOffloads"/>) and turns back on
/// exactly what it turned off.
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
        if (InterfaceOffloads.Get(interfaceName, InterfaceOffload.GenericReceive) == true)
        {
            if (!InterfaceOffloads.TrySet(interfaceName, InterfaceOffload.GenericReceive, on: false))
            {
                throw new IOException($"Could not turn generic receive offload off on {interfaceName} (ETHTOOL_SGRO).");
            }

            offloads._restoreGro = true;
        }

        if (InterfaceOffloads.Get(interfaceName, InterfaceOffload.LargeReceive) == true)
        {
            if (!InterfaceOffloads.TrySet(interfaceName, InterfaceOffload.LargeReceive, on: false))
            {
                offloads.Restore();
                throw new IOException($"Could not turn large receive offload off on {interfaceName} (ETHTOOL_SFLAGS).");
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
            InterfaceOffloads.TrySet(_interface, InterfaceOffload.GenericReceive, on: true);
            _restoreGro = false;
        }

        if (_restoreLro)
        {
            InterfaceOffloads.TrySet(_interface, InterfaceOffload.LargeReceive, on: true);
            _restoreLro = false;
        }
    }
}
