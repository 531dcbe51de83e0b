namespace Lvs.Forwarding;

/// <summary>How the identification of IPv4 headers the rewriters build is chosen.</summary>
public enum IpIdentificationPolicy : byte
{
    /// <summary>
    /// As the kernel's <c>ip_select_ident</c> (default): one of 2048 counters picked by a keyed hash of the destination,
    /// source and protocol (<c>ip_idents_reserve</c>), which also jumps by a random amount below the time it was
    /// idle, in milliseconds; IPv6 fragment identifications are random and non-zero (<c>ipv6_select_ident</c>).
    /// </summary>
    PerDestination = 0,

    /// <summary>
    /// One counter per encapsulator (and one for the ICMP errors built), IPv6 fragment identifications included: the
    /// behaviour before issue 16, one locked increment without a clock read (about 2-5 ns less per tunnel packet
    /// without DF).
    /// </summary>
    Counter,
}
