using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>How the rewriters treat TTLs, checksums, fragments, options and the MTU. Read once by each rewriter's constructor.</summary>
public sealed record ForwardingOptions
{
    /// <summary>
    /// The defaults: kernel-like TTL handling, no input checksum verification, non-first fragments dropped, IP options
    /// forwarded, MTU 1500. This one instance holds one <see cref="IcmpRateLimiter"/>, so every rewriter given it
    /// shares the same ICMP rate limits; a rewriter given no options, and a <c>DirectorOptions</c> left at its
    /// default, make an instance of their own.
    /// </summary>
    public static ForwardingOptions Default { get; } = new();

    /// <summary>
    /// Decrement the TTL / hop limit of the packets every method sends (DR, NAT, FULLNAT and TUN), answering an ICMP
    /// time exceeded when it would expire, as the kernel's IPVS does in <c>__ip_vs_get_out_rt</c>
    /// (<c>decrement_ttl</c>, for every method, direct routing included). Default true. False leaves the IP header of a
    /// direct-routing frame untouched (the behaviour before issue 16): give the <see cref="DirectRoutingRewriter"/>
    /// options of its own to keep the other methods' decrement.
    /// </summary>
    public bool DecrementHopLimit { get; init; } = true;

    /// <summary>Whether the TCP/UDP/SCTP checksum of the input is verified before NAT or FULLNAT. Default <see cref="InputChecksumPolicy.Ignore"/>.</summary>
    public InputChecksumPolicy InputChecksum { get; init; } = InputChecksumPolicy.Ignore;

    /// <summary>
    /// Whether <see cref="IcmpErrorTranslator"/> verifies the ICMP / ICMPv6 checksum of the error it translates (with
    /// the pseudo-header for ICMPv6), in the semantics of <see cref="InputChecksumPolicy"/>. Default
    /// <see cref="InputChecksumPolicy.VerifyAndDrop"/>, as the kernel's <c>ip_vs_in_icmp</c> and
    /// <c>handle_response_icmp</c> (<c>ip_vs_checksum_complete</c>): an ICMP error is always checksummed in full by
    /// its sender, so the offload concern of <see cref="InputChecksum"/> does not arise. Whatever the policy, a wrong
    /// checksum stays wrong in the translated error (its error is carried over), so the receiver still sees it.
    /// </summary>
    public InputChecksumPolicy IcmpErrorChecksum { get; init; } = InputChecksumPolicy.VerifyAndDrop;

    /// <summary>
    /// What to do with non-first fragments of TCP, UDP, SCTP and other packets identified by their ports. Default
    /// <see cref="FragmentPolicy.Drop"/>. ESP and AH fragments are always forwarded: their flow is their addresses (the
    /// kernel's IPVS never reassembles them and sends each after the IKE connection).
    /// </summary>
    public FragmentPolicy NonFirstFragments { get; init; } = FragmentPolicy.Drop;

    /// <summary>What to do with IPv4 options and IPv6 extension headers. Default <see cref="IpOptionsPolicy.Forward"/>, as the kernel.</summary>
    public IpOptionsPolicy IpOptions { get; init; } = IpOptionsPolicy.Forward;

    /// <summary>
    /// The egress MTU every rewrite checks against when the call does not give one (the kernel uses the route's MTU):
    /// tunnel encapsulation less its overhead, and DR, NAT and FULLNAT as it is (the overloads that take an
    /// <c>egressMtu</c> override it per frame, for a director whose links differ). Default 1500.
    /// </summary>
    public int Mtu { get; init; } = 1500;

    /// <summary>
    /// Path MTU discovery through tunnels, the kernel's <c>pmtu_disc</c> sysctl (<c>net.ipv4.vs.pmtu_disc</c>, default 1,
    /// true). On: an IPv4 inner packet's DF flag is copied to an IPv4 outer header, and an IPv4 packet with DF over the
    /// tunnel's MTU is answered with fragmentation needed. Off: the outer IPv4 header never has DF, and an IPv4 packet
    /// over the tunnel's MTU is encapsulated whatever its DF flag and the outer packet fragmented (the kernel's
    /// <c>ensure_mtu_is_adequate</c> and <c>ip_vs_tunnel_xmit</c>). IPv6 inner packets, and the other methods, are not
    /// affected: a too big IPv6 packet is always answered with packet too big.
    /// </summary>
    public bool TunnelPathMtuDiscovery { get; init; } = true;

    /// <summary>
    /// The rate limit of the ICMP errors the rewriters build (time exceeded; fragmentation needed and packet too big
    /// are never limited), as the kernel's <c>icmp_global_allow</c> and per-destination <c>icmp_ratelimit</c>. By
    /// default a limiter with the kernel's settings, one per options instance: the rewriters created from one
    /// instance (or from copies made with <c>with</c>) share it, as the kernel's limits are per network namespace.
    /// Null: no limit.
    /// </summary>
    public IcmpRateLimiter? IcmpRateLimiter { get; init; } = new();

    /// <summary>How the identification of the IPv4 headers the rewriters build is chosen. Default <see cref="IpIdentificationPolicy.PerDestination"/>, as the kernel's <c>ip_select_ident</c>.</summary>
    public IpIdentificationPolicy IpIdentification { get; init; } = IpIdentificationPolicy.PerDestination;

    /// <summary>
    /// The identification generator the rewriters built from this instance share when <see cref="IpIdentification"/> or
    /// <see cref="TimeProvider"/> is not the default (copies made with <c>with</c> share it while those settings are the
    /// same), as the kernel has one per system; with the defaults every rewriter shares one process-wide generator.
    /// </summary>
    internal IpIdentification.Slot IdentificationSlot { get; init; } = new();

    /// <summary>
    /// The clock of <see cref="IpIdentificationPolicy.PerDestination"/> (its random jumps after idle time). Null (the
    /// default): the system's coarse millisecond tick, shared with every other rewriter so created.
    /// </summary>
    public TimeProvider? TimeProvider { get; init; }

    /// <summary>
    /// FULLNAT only: insert the TOA option (TCP option kind 254 with the client's port and address) into inbound SYNs,
    /// for the real server's TOA kernel module (Alibaba's FULLNAT, DPVS) to report the client to applications. Default false.
    /// </summary>
    public bool InsertToa { get; init; }

    /// <summary>
    /// The seed of the flow hash that picks the GUE source port; null (the default) takes <see cref="Lvs.Core.FlowHash.Seed"/>
    /// when the encapsulator is created. With a <see cref="TimeProvider"/>, also the key of the per-destination IP
    /// identifications (otherwise random).
    /// </summary>
    public ulong? FlowHashSeed { get; init; }

    /// <summary>The TTL / hop limit of ICMP errors the rewriters build (the kernel's <c>ip_default_ttl</c>, 64).</summary>
    public byte IcmpHopLimit { get; init; } = 64;

    /// <summary>
    /// The director's IPv4 address on the link towards the real servers: the source of the ICMP time exceeded that
    /// <see cref="NatRewriter.RewriteOutbound(Span{byte}, int, int, in ParsedFrame, in InetEndpoint, MacAddress, MacAddress)"/> answers a real server's reply with when its TTL runs out. The kernel
    /// sends that error from <c>ip_forward</c>, and <c>icmp_send</c> picks the source by routing back to the real
    /// server (the packet's destination, the client, is not the director's). Null (the default): the virtual service
    /// address, the only director address the rewriter knows otherwise. Use one rewriter per real-server link when
    /// there are several.
    /// </summary>
    /// <exception cref="ArgumentException">At construction of a rewriter, when the address is not IPv4.</exception>
    public InetAddress? RealServerLinkIPv4 { get; init; }

    /// <summary>The director's IPv6 address on the link towards the real servers, as <see cref="RealServerLinkIPv4"/> for IPv6 (<c>ip6_forward</c>, <c>icmp6_send</c>).</summary>
    /// <exception cref="ArgumentException">At construction of a rewriter, when the address is not IPv6.</exception>
    public InetAddress? RealServerLinkIPv6 { get; init; }
}

/// <summary>Verification of the transport checksum on input.</summary>
public enum InputChecksumPolicy : byte
{
    /// <summary>
    /// Do not verify (default). The incremental update of RFC 1624 keeps a wrong checksum wrong, so the receiver still
    /// discards a corrupted segment; and on AF_PACKET links with checksum offload the input checksum is often not yet
    /// filled in, so verifying would drop good traffic.
    /// </summary>
    Ignore = 0,

    /// <summary>Verify; forward a bad one anyway and note it (<see cref="ForwardingNotes.BadInputChecksum"/>).</summary>
    VerifyAndCount,

    /// <summary>Verify and drop a bad one (<see cref="DropReason.BadInputChecksum"/>), as the kernel's tcp_dnat_handler does for packets whose checksum the NIC did not check.</summary>
    VerifyAndDrop,
}

/// <summary>Treatment of non-first fragments, which carry no transport header.</summary>
public enum FragmentPolicy : byte
{
    /// <summary>Drop them with <see cref="DropReason.NonFirstFragment"/> (default): without reassembly the director cannot tell their flow.</summary>
    Drop = 0,

    /// <summary>
    /// Forward them: DR and TUN send them unchanged, NAT and FULLNAT rewrite only the IP addresses (the transport
    /// checksum, in the first fragment, already accounts for the whole datagram). For callers that track fragments.
    /// </summary>
    Forward,
}

/// <summary>Treatment of IPv4 options and IPv6 extension headers.</summary>
public enum IpOptionsPolicy : byte
{
    /// <summary>Forward them untouched (default, as the kernel's IPVS).</summary>
    Forward = 0,

    /// <summary>Drop with <see cref="DropReason.IpOptions"/> (as Katran does).</summary>
    Drop,
}
