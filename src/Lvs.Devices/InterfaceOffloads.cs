using Lvs.Devices.Native;

namespace Lvs.Devices;

/// <summary>
/// Reads and switches an interface's offloads with the legacy ethtool ioctls (no <c>ethtool</c> command needed), in
/// the calling thread's network namespace. For example a lab turns TSO off on the veth end of a client namespace so
/// its TCP frames reach an AF_PACKET director no larger than the MTU (see docs/devices.md, Offloads).
/// </summary>
public static class InterfaceOffloads
{
    /// <summary>Reads whether an offload is on.</summary>
    /// <param name="interfaceName">The interface.</param>
    /// <param name="offload">The offload.</param>
    /// <returns>True or false; null when the driver does not report it (or there is no such interface).</returns>
    public static bool? Get(string interfaceName, InterfaceOffload offload)
    {
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        uint value = 0;
        if (offload == InterfaceOffload.LargeReceive)
        {
            return InterfaceControl.TryEthtool(interfaceName, EthtoolValue.GetFlags, ref value) ? (value & EthtoolValue.FlagLro) != 0 : null;
        }

        return InterfaceControl.TryEthtool(interfaceName, GetCommand(offload), ref value) ? value != 0 : null;
    }

    /// <summary>Switches an offload on or off.</summary>
    /// <param name="interfaceName">The interface.</param>
    /// <param name="offload">The offload.</param>
    /// <param name="on">On or off.</param>
    /// <returns>False when the driver refused (the offload is fixed, or not permitted).</returns>
    public static bool TrySet(string interfaceName, InterfaceOffload offload, bool on)
    {
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        if (offload == InterfaceOffload.LargeReceive)
        {
            uint flags = 0;
            if (!InterfaceControl.TryEthtool(interfaceName, EthtoolValue.GetFlags, ref flags))
            {
                return false;
            }

            flags = on ? flags | EthtoolValue.FlagLro : flags & ~EthtoolValue.FlagLro;
            return InterfaceControl.TryEthtool(interfaceName, EthtoolValue.SetFlags, ref flags);
        }

        uint value = on ? 1u : 0u;
        return InterfaceControl.TryEthtool(interfaceName, GetCommand(offload) + 1, ref value);
    }

    // Each legacy set command is its get command plus one.
    private static uint GetCommand(InterfaceOffload offload) => offload switch
    {
        InterfaceOffload.GenericReceive => EthtoolValue.GetGro,
        InterfaceOffload.TcpSegmentation => EthtoolValue.GetTso,
        InterfaceOffload.GenericSegmentation => EthtoolValue.GetGso,
        InterfaceOffload.TransmitChecksum => EthtoolValue.GetTransmitChecksum,
        InterfaceOffload.ReceiveChecksum => EthtoolValue.GetReceiveChecksum,
        _ => throw new ArgumentOutOfRangeException(nameof(offload), offload, "Not an offload."),
    };
}
