namespace Lvs.Forwarding;

/// <summary>
/// Why a rewriter did not forward a frame. Rewriters never throw on packet data: every malformed or refused frame
/// gives one of these reasons, for the caller to count.
/// </summary>
public enum ForwardingDropReason : byte
{
    /// <summary>Forwarded.</summary>
    None = 0,

    /// <summary>The frame is shorter than its parsed layout says, or a header the rewrite needs is cut off.</summary>
    Truncated,

    /// <summary>The frame is not an IPv4 or IPv6 packet.</summary>
    NotIp,

    /// <summary>The address family of the packet differs from the endpoints or tunnel addresses given.</summary>
    AddressFamilyMismatch,

    /// <summary>NAT or FULLNAT of a protocol whose ports the rewriter does not know (only TCP, UDP and SCTP are translated).</summary>
    UnsupportedProtocol,

    /// <summary>A non-first fragment, refused by <see cref="FragmentPolicy.Drop"/> (the default): it carries no ports to match or rewrite.</summary>
    NonFirstFragment,

    /// <summary>IPv4 options or IPv6 extension headers, refused by <see cref="IpOptionsPolicy.Drop"/>.</summary>
    IpOptions,

    /// <summary>The TTL or hop limit would reach 0: an ICMP time exceeded replaces the frame (as the kernel's decrement_ttl does).</summary>
    HopLimitExceeded,

    /// <summary>The TCP, UDP or SCTP checksum of the input is wrong, refused by <see cref="InputChecksumPolicy.VerifyAndDrop"/>.</summary>
    BadInputChecksum,

    /// <summary>
    /// The encapsulated packet would exceed the egress MTU and the sender forbade fragmentation (IPv4 DF, or any IPv6
    /// packet): an ICMP fragmentation needed or ICMPv6 packet too big replaces the frame.
    /// </summary>
    FragmentationNeeded,

    /// <summary>The encapsulated packet would exceed the egress MTU and may be fragmented; this library does not fragment, so it drops it.</summary>
    ExceedsMtu,

    /// <summary>The egress MTU minus the tunnel overhead is below the minimum (68 for IPv4, 1280 for IPv6), as the kernel refuses.</summary>
    MtuTooSmall,

    /// <summary>The buffer has too little headroom in front of the frame for the headers to prepend (see <see cref="FrameHeadroom.Required"/>).</summary>
    InsufficientHeadroom,

    /// <summary>The tunnel route is unusable: source and real server of different families, or GUE without a port.</summary>
    InvalidTunnelRoute,

    /// <summary>Decapsulation: the frame is not a tunnel packet of an accepted type (protocol, UDP port).</summary>
    NotTunnel,

    /// <summary>Decapsulation: the GUE or GRE header has a version, flag or length this decapsulator does not accept.</summary>
    BadTunnelHeader,

    /// <summary>Decapsulation: the outer UDP or GRE checksum is wrong.</summary>
    BadTunnelChecksum,

    /// <summary>Decapsulation: the inner packet is not the IP version announced, or its length disagrees with the outer packet.</summary>
    BadInnerPacket,

    /// <summary>Decapsulation: the outer packet is a fragment (reassembly is not done here).</summary>
    FragmentedTunnel,

    /// <summary>FULLNAT: <see cref="FullNatLocalAddressAllocator.TryAllocate"/> found every (local address, port) pair towards the real server in use; the caller drops the new connection with this reason.</summary>
    LocalAddressesExhausted,

    /// <summary>ICMP translation: the frame is not an ICMP or ICMPv6 error of a kind that refers to a flow.</summary>
    NotIcmpError,

    /// <summary>ICMP translation: the embedded packet is too short to hold the addresses and ports to translate.</summary>
    EmbeddedTruncated,
}
