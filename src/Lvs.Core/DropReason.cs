namespace Lvs.Core;

/// <summary>
/// Why a frame was not processed. The hot path never throws on packet data: malformed input is dropped and
/// counted with one of these reasons.
/// </summary>
public enum DropReason : byte
{
    /// <summary>Not dropped.</summary>
    None = 0,

    /// <summary>The buffer ends before a header that its predecessors announce.</summary>
    Truncated,

    /// <summary>The EtherType is neither IPv4, IPv6 nor ARP.</summary>
    UnsupportedEtherType,

    /// <summary>More VLAN tags than the parser walks (see <see cref="Headers.EthernetHeader.MaxVlanTags"/>).</summary>
    TooManyVlanTags,

    /// <summary>An ARP packet that is not Ethernet/IPv4 ARP or is too short.</summary>
    BadArp,

    /// <summary>The IP version nibble does not match the EtherType.</summary>
    BadIpVersion,

    /// <summary>IPv4 IHL below 5.</summary>
    BadIhl,

    /// <summary>IPv4 total length shorter than the header or longer than the buffer.</summary>
    BadTotalLength,

    /// <summary>IPv6 payload length longer than the buffer (or a jumbogram, which is not supported).</summary>
    BadPayloadLength,

    /// <summary>An IPv6 extension header that is truncated or whose length runs past the packet.</summary>
    BadExtensionChain,

    /// <summary>More IPv6 extension headers than the parser walks.</summary>
    ExtensionChainTooLong,

    /// <summary>TCP data offset below 5 or beyond the packet.</summary>
    BadTcpHeader,

    /// <summary>UDP length shorter than 8 or beyond the packet.</summary>
    BadUdpHeader,

    /// <summary>ICMP or ICMPv6 message shorter than its 8-byte header.</summary>
    BadIcmpHeader,

    /// <summary>An IPv4 address that may not appear as a source (multicast, broadcast, unspecified where not allowed).</summary>
    BadAddress,
}
