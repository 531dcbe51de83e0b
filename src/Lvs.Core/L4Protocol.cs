namespace Lvs.Core;

/// <summary>The transport protocol of a flow, by its IANA protocol number (the IPv4 protocol / IPv6 next-header value).</summary>
public enum L4Protocol : byte
{
    /// <summary>No transport protocol (or not yet known).</summary>
    None = 0,

    /// <summary>ICMP for IPv4 (protocol 1).</summary>
    Icmp = 1,

    /// <summary>IPv4 encapsulated in IP (protocol 4, RFC 2003): the outer protocol of IPIP tunnels.</summary>
    IpInIp = 4,

    /// <summary>TCP (protocol 6).</summary>
    Tcp = 6,

    /// <summary>UDP (protocol 17).</summary>
    Udp = 17,

    /// <summary>IPv6 encapsulated in IP (next header 41, RFC 2473): the outer protocol of IPv6 tunnels.</summary>
    IPv6InIp = 41,

    /// <summary>GRE (protocol 47), seen as the outer protocol of GRE tunnels.</summary>
    Gre = 47,

    /// <summary>ESP (protocol 50).</summary>
    Esp = 50,

    /// <summary>AH (protocol 51).</summary>
    Ah = 51,

    /// <summary>ICMPv6 (next header 58).</summary>
    IcmpV6 = 58,

    /// <summary>SCTP (protocol 132).</summary>
    Sctp = 132,

    /// <summary>UDP-Lite (protocol 136, RFC 3828): UDP with a checksum over part of the datagram.</summary>
    UdpLite = 136,
}
