namespace Lvs.Core;

/// <summary>
/// Why a frame was not processed, one vocabulary for the whole data path (as the kernel's <c>skb_drop_reason</c>):
/// the parser's reasons first, then the rewriters' (Lvs.Forwarding), so a director counts every drop in one array
/// indexed by reason. The hot path never throws on packet data: malformed input is dropped and counted with one of
/// these reasons.
/// </summary>
public enum DropReason : byte
{
    /// <summary>Not dropped.</summary>
    None = 0,

    /// <summary>The buffer ends before a header that its predecessors announce, or a header a rewrite needs is cut off.</summary>
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

    // ---- Rewriters (Lvs.Forwarding)

    /// <summary>The frame is not an IPv4 or IPv6 packet.</summary>
    NotIp,

    /// <summary>The address family of the packet differs from the endpoints or tunnel addresses given.</summary>
    AddressFamilyMismatch,

    /// <summary>NAT or FULLNAT of a protocol whose ports the rewriter does not know (only TCP, UDP and SCTP are translated).</summary>
    UnsupportedProtocol,

    /// <summary>A non-first fragment, refused by <c>FragmentPolicy.Drop</c> (the default): it carries no ports to match or rewrite.</summary>
    NonFirstFragment,

    /// <summary>
    /// IPv4 options or IPv6 extension headers, refused by <c>IpOptionsPolicy.Drop</c>; or, on an echo or timestamp
    /// request or a TCP segment the director answers as a host, IPv4 options the kernel's host drops the packet for
    /// (malformed, CIPSO, a source route it does not accept).
    /// </summary>
    IpOptions,

    /// <summary>The TTL or hop limit would reach 0: an ICMP time exceeded replaces the frame (as the kernel's decrement_ttl does).</summary>
    HopLimitExceeded,

    /// <summary>
    /// The transport checksum of the input is wrong: a TCP, UDP or SCTP packet refused by
    /// <c>InputChecksumPolicy.VerifyAndDrop</c>, or a packet the director would answer as a host (a reset, an SCTP
    /// ABORT, an echo reply, a neighbour advertisement), which a host's stack drops unanswered (<see cref="TransportChecksum"/>).
    /// </summary>
    BadInputChecksum,

    /// <summary>
    /// The encapsulated packet would exceed the egress MTU and the sender forbade fragmentation (IPv4 DF, or any IPv6
    /// packet): an ICMP fragmentation needed or ICMPv6 packet too big replaces the frame.
    /// </summary>
    FragmentationNeeded,

    /// <summary>
    /// The encapsulated packet exceeds the egress MTU and may be fragmented: the reason of a verdict that sends it as
    /// fragments, or of a drop when the buffer has no room after the frame for them.
    /// </summary>
    ExceedsMtu,

    /// <summary>The egress MTU minus the tunnel overhead is below the minimum (68 for IPv4, 1280 for IPv6), as the kernel refuses.</summary>
    MtuTooSmall,

    /// <summary>The buffer has too little headroom in front of the frame for the headers to prepend (see <c>FrameHeadroom.Required</c>).</summary>
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

    /// <summary>FULLNAT: <c>FullNatLocalAddressAllocator.TryAllocate</c> found every (local address, port) pair towards the real server in use; the caller drops the new connection with this reason.</summary>
    LocalAddressesExhausted,

    /// <summary>
    /// ICMP translation: the frame is not an ICMP or ICMPv6 error of a kind IPVS relates to a flow (over IPv4 a
    /// destination unreachable, source quench or time exceeded; over IPv6 any error).
    /// </summary>
    NotIcmpError,

    /// <summary>ICMP translation: the embedded packet is too short to hold the addresses and ports to translate.</summary>
    EmbeddedTruncated,

    // ---- Parser, added after the rewriters' reasons so that their values stay as they were

    /// <summary>
    /// An IPv6 packet (or the packet an ICMPv6 error quotes) whose source or destination is an IPv4-mapped address
    /// (<c>::ffff:0:0/96</c>): not valid on the wire (RFC 4942 section 2.2), and <see cref="InetAddress"/> would take it
    /// for the IPv4 address it maps, so the flow would pass for IPv4. Dropped by <see cref="FrameParser"/>.
    /// </summary>
    Ipv6MappedAddress,

    // ---- Director (Lvs.Director)

    /// <summary>
    /// Director: a packet for a virtual address that matches no service and no connection. Counted also when the
    /// director answers it as the kernel director's host would (a reset, an SCTP ABORT, an ICMP port unreachable);
    /// the host itself must not answer for the address.
    /// </summary>
    NoVirtualService,

    /// <summary>Director: a TCP segment that is not a SYN (or is a RST) and matches no connection; IPVS schedules only SYNs unless sloppy_tcp is on.</summary>
    NotSyn,

    /// <summary>Director: the scheduler found no real server that can take a new connection (all quiesced, overloaded or gone).</summary>
    NoRealServer,

    /// <summary>Director: the connection table refused the new connection (full, or flood defence shed it).</summary>
    ConnectionTableFull,

    /// <summary>Director: no link leads to the destination (no connected subnet holds it and no gateway is set for its family).</summary>
    NoRoute,

    /// <summary>Director: the connection's real server was deleted and expire_nodest_conn is on, so the connection ended with this packet.</summary>
    RealServerUnavailable,

    /// <summary>
    /// Director: a packet for one of the director's own local (FULLNAT) addresses that matches no connection. Counted
    /// also when the director answers it as a host would (a reset, an SCTP ABORT, an ICMP port unreachable).
    /// </summary>
    NoConnection,

    /// <summary>Director: the next hop's MAC address is unknown and the frame could not wait for its resolution.</summary>
    NeighborUnresolved,

    /// <summary>Director: the frame was too short or too large for the answer the director writes in its place.</summary>
    NoRoomForReply,

    /// <summary>
    /// Director: an SCTP packet that matches no connection and whose first chunk is an ABORT, or not an INIT while
    /// sloppy_sctp is off; IPVS schedules new associations only on an INIT (the kernel's <c>sctp_conn_schedule</c>).
    /// Counted also when the director answers it as the host's stack would (an ABORT; Lvs.Director's
    /// <c>AbortUnmatchedSctp</c>).
    /// </summary>
    NotSctpInit,

    /// <summary>
    /// NAT, FULLNAT: a first fragment of an SCTP packet. Its CRC32c checksum covers the whole packet, so its ports
    /// cannot be rewritten fragment by fragment (the kernel reassembles before IPVS sees the packet).
    /// </summary>
    FragmentedSctp,

    /// <summary>
    /// Director, with nat_icmp_send on: a TCP, UDP or SCTP packet from a NAT real server's address and port that matches
    /// no connection (and is not a reset or an ABORT). The director answers it with an ICMP port unreachable to the
    /// server (the kernel's <c>ip_vs_out_hook</c>).
    /// </summary>
    NoNatConnection,

    /// <summary>
    /// Director (FTP helper): a server's passive reply, rewritten to the virtual address, would no longer fit in the
    /// room after its frame (the kernel drops a segment it cannot mangle, and the server retransmits it).
    /// </summary>
    NoRoomToRewrite,
}
