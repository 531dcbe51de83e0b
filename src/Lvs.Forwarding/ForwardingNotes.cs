namespace Lvs.Forwarding;

/// <summary>Facts about a frame that was forwarded anyway, for the caller's counters.</summary>
[Flags]
public enum ForwardingNotes : byte
{
    /// <summary>Nothing to note.</summary>
    None = 0,

    /// <summary>The input's transport checksum was wrong and <see cref="InputChecksumPolicy.VerifyAndCount"/> forwarded it (the incremental update keeps it wrong, so the receiver still discards it).</summary>
    BadInputChecksum = 1,

    /// <summary>A non-first fragment forwarded by <see cref="FragmentPolicy.Forward"/>: only the IP header was rewritten.</summary>
    NonFirstFragment = 2,

    /// <summary>FULLNAT with TOA on a SYN whose TCP header had no room for the option (or the buffer no headroom): forwarded without it.</summary>
    ToaNotInserted = 4,

    /// <summary>FULLNAT with TOA: the option was inserted.</summary>
    ToaInserted = 8,

    /// <summary>
    /// On a drop: the ICMP error the packet called for (a time exceeded, a port unreachable) was not sent because the
    /// <see cref="IcmpRateLimiter"/> refused it, as the kernel's <c>icmp_send</c> does past its rate limits.
    /// </summary>
    IcmpErrorRateLimited = 16,
}
