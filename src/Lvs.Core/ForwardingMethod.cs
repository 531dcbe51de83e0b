namespace Lvs.Core;

/// <summary>How a director delivers a packet to a real server (ipvsadm's packet-forwarding method).</summary>
public enum ForwardingMethod : byte
{
    /// <summary>
    /// Direct routing, ipvsadm <c>-g</c> (gatewaying): only the destination MAC changes; the real server holds
    /// the VIP on a non-ARP interface and replies to the client directly.
    /// </summary>
    DirectRouting = 0,

    /// <summary>
    /// Masquerading, ipvsadm <c>-m</c>: the destination address and port are rewritten inbound and the source
    /// outbound; replies must be routed back through the director.
    /// </summary>
    Nat = 1,

    /// <summary>
    /// Full NAT (DPVS, Alibaba's LVS): the source is also rewritten to a director-owned local address and port,
    /// so replies return to the director without any route on the real server.
    /// </summary>
    FullNat = 2,

    /// <summary>
    /// Tunnelling, ipvsadm <c>-i</c> (ipip): the packet is encapsulated to the real server, which decapsulates it
    /// and replies to the client directly. See <see cref="TunnelType"/>.
    /// </summary>
    Tunnel = 3,
}
