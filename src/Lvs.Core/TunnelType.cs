namespace Lvs.Core;

/// <summary>The encapsulation used by <see cref="ForwardingMethod.Tunnel"/> (ipvsadm <c>--tun-type</c>).</summary>
public enum TunnelType : byte
{
    /// <summary>IP in IP (protocol 4 for IPv4, 41 for IPv6 in IPv6): the kernel's default.</summary>
    IpIp = 0,

    /// <summary>Generic UDP Encapsulation (draft-ietf-intarea-gue), to the UDP port given by <c>--tun-port</c>.</summary>
    Gue = 1,

    /// <summary>Generic Routing Encapsulation (RFC 2784), IP protocol 47.</summary>
    Gre = 2,
}

/// <summary>Checksum options of GUE and GRE tunnels (ipvsadm <c>--tun-nocsum</c>, <c>--tun-csum</c>, <c>--tun-remcsum</c>).</summary>
[Flags]
public enum TunnelFlags : byte
{
    /// <summary>No outer checksum (<c>--tun-nocsum</c>, the default).</summary>
    None = 0,

    /// <summary>Outer checksum: the UDP checksum for GUE, the GRE checksum field for GRE (<c>--tun-csum</c>).</summary>
    Checksum = 1,

    /// <summary>GUE remote checksum offload (<c>--tun-remcsum</c>).</summary>
    RemoteChecksum = 2,
}
