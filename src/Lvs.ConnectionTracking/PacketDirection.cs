namespace Lvs.ConnectionTracking;

/// <summary>Which way a packet of a tracked connection travels (the kernel's <c>IP_VS_DIR_INPUT</c> / <c>IP_VS_DIR_OUTPUT</c>).</summary>
public enum PacketDirection : byte
{
    /// <summary>From the client towards the virtual service.</summary>
    Inbound = 0,

    /// <summary>From the real server back towards the client (seen only in NAT and full NAT).</summary>
    Outbound = 1,
}
