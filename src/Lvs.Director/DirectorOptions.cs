using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Forwarding;

namespace Lvs.Director;

/// <summary>The engine's options: the kernel's IPVS sysctls that concern the packet path, the connection table's size, the rewriters' options, and the director's own addresses and routes.</summary>
public sealed record DirectorOptions
{
    /// <summary>The connection table (capacity, timeouts, expire_nodest_conn, expire_quiescent_template, conn_reuse_mode).</summary>
    public ConnectionTableOptions Connections { get; init; } = new();

    /// <summary>
    /// The rewriters' options (hop limit, MTU, input checksums, fragments, TOA, the ICMP error rate limiter). Default:
    /// a new instance per options object, so each director has its own ICMP rate limits, as each kernel network
    /// namespace has (sharing <see cref="ForwardingOptions.Default"/> would make directors in one process share them).
    /// </summary>
    public ForwardingOptions Forwarding { get; init; } = new();

    /// <summary>
    /// The FULLNAT local addresses (the source addresses towards the real servers); the director owns them and answers
    /// ARP for them on the link whose subnet holds them.
    /// </summary>
    public IReadOnlyList<InetAddress> LocalAddresses { get; init; } = [];

    /// <summary>The first local port FULLNAT allocates.</summary>
    public ushort LocalPortFirst { get; init; } = 1024;

    /// <summary>The last local port FULLNAT allocates.</summary>
    public ushort LocalPortLast { get; init; } = 65535;

    /// <summary>The IPv4 default gateway: the next hop for IPv4 destinations outside the links' subnets.</summary>
    public InetAddress? Gateway { get; init; }

    /// <summary>The IPv6 default gateway.</summary>
    public InetAddress? GatewayV6 { get; init; }

    /// <summary>
    /// sloppy_tcp: create a connection on any TCP segment that matches none, not only on a SYN (for a director taking
    /// over established flows). Off, as in the kernel.
    /// </summary>
    public bool SloppyTcp { get; init; }

    /// <summary>
    /// sloppy_sctp: create an association on any SCTP packet that matches none, not only on one whose first chunk is an
    /// INIT (an ABORT still creates none, and a packet without a chunk is dropped), as the kernel's
    /// <c>sctp_conn_schedule</c>. Off, as in the kernel.
    /// </summary>
    public bool SloppySctp { get; init; }

    /// <summary>
    /// Schedule ICMP echo requests that a firewall-mark service matches to its real servers, tracked as flows of their
    /// own (by the echo identifier). Off, as in the kernel: IPVS has no protocol for ICMP, so <c>ip_vs_in</c> leaves an
    /// echo request to the host (which answers it, see <see cref="AnswerEcho"/>) whatever its mark. An extension for
    /// directors that should let real servers answer pings to a marked address.
    /// </summary>
    public bool ScheduleIcmpEcho { get; init; }

    /// <summary>
    /// The kernel's <c>schedule_icmp</c> sysctl: an ICMP error sent to a virtual address about a packet of a service's
    /// flow (quoted as virtual service to client) that matches no connection is scheduled as that flow would be, and
    /// sent to the real server chosen, translated for NAT and FULLNAT. A connection is created (inactive, with the 3-second
    /// timeout of one whose first packet was not processed; none with <c>-o</c>), when the quoted header may create one:
    /// any UDP datagram, a TCP SYN without RST (any segment but a RST with <see cref="SloppyTcp"/>), an SCTP INIT (any
    /// chunk but an ABORT with <see cref="SloppySctp"/>). For services whose replies can meet errors with no connection
    /// left, such as one-packet (<c>-o</c>) UDP: a "fragmentation needed" about a reply then reaches a real server. Off
    /// by default, as in the kernel: such an error goes to the host.
    /// </summary>
    public bool ScheduleIcmpErrors { get; init; }

    /// <summary>
    /// Answer a TCP segment for a virtual service that matches no connection and may not create one (not a SYN, without
    /// <see cref="SloppyTcp"/>) with a reset, as the kernel's director host does: IPVS passes such a segment to the host,
    /// whose TCP stack has no socket for it (a client whose connection the director lost learns it at once instead of
    /// retransmitting until it times out). Either way it is counted as <see cref="DropReason.NotSyn"/>. A segment for a
    /// port of the director's addresses that no service has, a SYN included, is answered the same way (the host owns
    /// those addresses on a kernel director: a client is refused at once), counted as
    /// <see cref="DropReason.NoVirtualService"/> or <see cref="DropReason.NoConnection"/>. On by default; off drops the
    /// segments silently. A segment whose checksum is wrong is dropped unanswered (<see cref="DropReason.BadInputChecksum"/>).
    /// An IPv4 segment's options are echoed in the reset as the kernel's <c>ip_send_unicast_reply</c> echoes them (see
    /// docs/director.md, "IPv4 options of the director's replies"); options the host would drop it for drop it unanswered
    /// (<see cref="DropReason.IpOptions"/>).
    /// </summary>
    public bool ResetUnmatchedTcp { get; init; } = true;

    /// <summary>
    /// Answer an SCTP packet for a virtual service that matches no association and may not create one (its first chunk
    /// is not an INIT, without <see cref="SloppySctp"/>) as the host's SCTP stack answers an out-of-the-blue packet
    /// (RFC 9260 section 8.4): IPVS passes such a packet to the host, which has no association for it. The answer is an
    /// ABORT with the packet's verification tag and the T bit (a SHUTDOWN COMPLETE for a SHUTDOWN ACK); a packet with an
    /// ABORT, SHUTDOWN COMPLETE or COOKIE ACK chunk or a "Stale Cookie" ERROR gets none. On by default, as on a host
    /// with the kernel's SCTP module (one without it answers with an ICMP protocol unreachable instead); off drops the
    /// packet silently. Either way it is counted as <see cref="DropReason.NotSctpInit"/>. A packet for a port of the
    /// director's addresses that no service has is answered the same way, an INIT included (an ABORT with the INIT's
    /// initiate tag and no T bit), counted as <see cref="DropReason.NoVirtualService"/> or
    /// <see cref="DropReason.NoConnection"/>. A packet whose CRC32c is wrong is dropped unanswered
    /// (<see cref="DropReason.BadInputChecksum"/>).
    /// </summary>
    public bool AbortUnmatchedSctp { get; init; } = true;

    /// <summary>
    /// Answer a UDP (or UDP-Lite) datagram for a port of the director's addresses (a VIP or a FULLNAT local address) that no service
    /// and no connection takes with an ICMP port unreachable (ICMPv6 for IPv6), from the address it was sent to, under
    /// the rewriters' ICMP rate limit (<see cref="ForwardingOptions.IcmpRateLimiter"/>): what the host's UDP stack
    /// answers on a kernel director, which owns those addresses. Counted as <see cref="DropReason.NoVirtualService"/> or
    /// <see cref="DropReason.NoConnection"/> either way; a datagram whose checksum is wrong, a fragment, or one from a
    /// multicast, broadcast or unspecified source gets no answer. On by default; off drops the datagrams silently.
    /// </summary>
    public bool UnreachableUnservedUdp { get; init; } = true;

    /// <summary>
    /// Answer a packet for one of the director's addresses (a VIP or a FULLNAT local address) whose protocol the host's
    /// stack has no handler for with an ICMP protocol unreachable, or over IPv6 an ICMPv6 parameter problem
    /// (unrecognised next header) pointing at the Next Header field that names it, from the address it was sent to,
    /// under the rewriters' ICMP rate limit: what the host answers on a kernel director (<c>ip_local_deliver</c>,
    /// <c>ip6_protocol_deliver_rcu</c>; IPVS leaves every protocol but TCP, UDP and SCTP to the host, and ESP and AH
    /// that follow no IKE connection). The host is taken to be a stock kernel with the SCTP module: ICMP, IGMP, TCP, UDP,
    /// UDP-Lite and SCTP have handlers over IPv4; ICMPv6, TCP, UDP, UDP-Lite, SCTP and "no next header" (discarded) over
    /// IPv6, as measured on a 6.18 kernel; GRE, IPIP, ESP and AH have none until their modules are configured. Counted
    /// as <see cref="DropReason.NoVirtualService"/> or <see cref="DropReason.NoConnection"/> either way; a fragment, an
    /// ICMP error, or a packet from a multicast, broadcast or unspecified source gets no answer. On by default; off
    /// drops such packets silently.
    /// </summary>
    public bool UnreachableUnknownProtocols { get; init; } = true;

    /// <summary>
    /// nat_icmp_send: a TCP, UDP or SCTP packet from the address and port of a NAT real server (of a service of the
    /// packet's protocol, or of a firewall-mark service) that matches no connection is dropped, and unless it is a TCP
    /// reset or an SCTP ABORT the server is told with an ICMP port unreachable (ICMPv6 for IPv6) from the director's
    /// address on the link it came from, under the rewriters' ICMP rate limit (the kernel's <c>ip_vs_out_hook</c>):
    /// a server answering a connection the director has forgotten stops at once instead of retransmitting. Counted as
    /// <see cref="DropReason.NoNatConnection"/>; non-first fragments are left alone. Off by default, as the kernel's
    /// sysctl: such a packet goes on to the host (<see cref="FrameAction.Deliver"/>). Unlike the kernel, whose hook
    /// also runs for the host's own addresses, a packet to one of the director's addresses (a health check's reply) is
    /// never refused.
    /// </summary>
    public bool NatIcmpSend { get; init; }

    /// <summary>
    /// Run the rate estimator (the kernel's <c>run_estimation</c> sysctl, on by default). Off, <see
    /// cref="DirectorEngine.SampleRates"/> takes no sample: every rate keeps the value it had (0 when it never ran), as
    /// the kernel's estimation is suspended; the counters go on counting.
    /// </summary>
    public bool RunEstimation { get; init; } = true;

    /// <summary>
    /// Answer ICMP and ICMPv6 echo requests, and ICMP timestamp requests, for the virtual and local addresses (the host
    /// does for a VIP on the kernel's director: <c>icmp_echo</c>, <c>icmp_timestamp</c>, <c>icmpv6_echo_reply</c>).
    /// </summary>
    public bool AnswerEcho { get; init; } = true;

    /// <summary>
    /// The kernel's <c>accept_source_route</c> sysctl for the echo and timestamp requests the director answers
    /// (<see cref="AnswerEcho"/>): a request with a loose or strict source route option is answered, along the reversed
    /// route (<c>ip_options_echo</c>), when every hop left in the route is one of the director's addresses. Off by
    /// default, as the kernel's <c>net.ipv4.conf.all.accept_source_route</c>: such a request is dropped unanswered
    /// (<see cref="DropReason.IpOptions"/>).
    /// </summary>
    public bool AcceptSourceRoute { get; init; }

    /// <summary>The hop limit of the answers the director originates (echo replies, neighbour advertisements use 255 as NDP requires).</summary>
    public byte HopLimit { get; init; } = 64;

    /// <summary>
    /// The firewall-mark rules, in order (the first that matches a packet gives its mark): what netfilter's MARK rules
    /// do in front of the kernel's director, for firewall-mark services. Empty (the default) costs nothing per packet.
    /// </summary>
    public IReadOnlyList<FirewallMarkRule> FirewallMarks { get; init; } = [];

    /// <summary>
    /// The FTP helper's control ports (the kernel's <c>ip_vs_ftp</c> module and its <c>ports</c> parameter, usually
    /// 21): NAT connections to a virtual service on one of them are FTP control connections. The helper reads the
    /// client's PASV, EPSV, PORT and EPRT commands and the server's 227 and 229 replies, expects each data connection
    /// they announce (in LISTEN: a passive one from the client's address and any port to the virtual address and the
    /// server's data port, an active one from the server's port below the control port to the client's endpoint), and
    /// rewrites a 227 reply's address to the virtual address, adjusting the control connection's sequence numbers
    /// after it as conntrack does. Empty (the default, as without the module) leaves FTP data connections unhandled.
    /// </summary>
    public IReadOnlyList<ushort> FtpPorts { get; init; } = [];

    /// <summary>Throws when an option is out of range.</summary>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public void Validate()
    {
        if (LocalPortFirst == 0 || LocalPortFirst > LocalPortLast)
        {
            throw new ArgumentException($"The local port range {LocalPortFirst}-{LocalPortLast} is empty or starts at 0.");
        }

        if (Gateway is { IsIPv6: true })
        {
            throw new ArgumentException($"The IPv4 gateway {Gateway} is an IPv6 address.");
        }

        if (FtpPorts.Any(port => port is 0 or 1))
        {
            throw new ArgumentException("An FTP control port must be above 1 (its active data connections come from the port below it).");
        }

        if (GatewayV6 is { IsIPv4: true })
        {
            throw new ArgumentException($"The IPv6 gateway {GatewayV6} is an IPv4 address.");
        }

        foreach (var rule in FirewallMarks)
        {
            rule.Validate();
        }
    }
}
