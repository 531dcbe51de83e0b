using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>Where and how <see cref="TunnelEncapsulator"/> sends a packet: the outer addresses and the ipvsadm <c>--tun-type</c>, <c>--tun-port</c> and checksum flags of the real server.</summary>
/// <param name="Source">The director's address, the outer source (the kernel takes it from the route to the real server).</param>
/// <param name="RealServer">The real server's address, the outer destination; of the same family as <paramref name="Source"/> (which may differ from the inner packet's).</param>
/// <param name="Type">IPIP (IPv4-in-IPv4, IPv6-in-IPv6 and the mixed forms), GUE or GRE.</param>
/// <param name="Port">The GUE destination port (<c>--tun-port</c>); ignored for IPIP and GRE.</param>
/// <param name="Flags"><see cref="TunnelFlags.Checksum"/> for an outer UDP (GUE) or GRE checksum; remote checksum offload is not used.</param>
public readonly record struct TunnelRoute(InetAddress Source, InetAddress RealServer, TunnelType Type, ushort Port = 0, TunnelFlags Flags = TunnelFlags.None)
{
    /// <summary>The bytes the encapsulation adds in front of the inner IP packet: outer IP header plus UDP and GUE (12) or GRE (4, 8 with checksum).</summary>
    public int Overhead => OverheadOf(RealServer.IsIPv4, Type, Flags);

    /// <summary>The overhead for an outer family the caller has already read (the encapsulator's hot path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int OverheadOf(bool outerIPv4, TunnelType type, TunnelFlags flags) => (outerIPv4 ? 20 : 40) + type switch
    {
        TunnelType.Gue => 8 + 4,
        TunnelType.Gre => (flags & TunnelFlags.Checksum) != 0 ? 8 : 4,
        _ => 0,
    };
}
