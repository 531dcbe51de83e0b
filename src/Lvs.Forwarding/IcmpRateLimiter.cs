using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// Limits the ICMP errors a director sends, as the kernel does in <c>icmp_send</c> / <c>icmp6_send</c>: a global token
/// bucket (<c>icmp_global_allow</c>, sysctls <c>net.ipv4.icmp_msgs_per_sec</c> 1000 and <c>icmp_msgs_burst</c> 50,
/// shared by IPv4 and IPv6), then a token bucket per destination (<c>inet_peer_xrlim_allow</c>,
/// <c>net.ipv4.icmp_ratelimit</c> / <c>net.ipv6.icmp.ratelimit</c> 1000 ms, a burst of 6).
/// </summary>
/// <remarks>
/// <para>
/// Which errors are limited follows the default rate masks: IPv4 destination unreachable, source quench, time
/// exceeded and parameter problem (<c>icmp_ratemask</c> 0x1818) except fragmentation needed (never limited: PMTU
/// discovery depends on it); ICMPv6 errors except packet too big (<c>icmpv6_ratemask</c> 0-1,3-127). Those pass when
/// the global bucket has credit (refilled at <see cref="MessagesPerSecond"/> up to <see cref="Burst"/>, at most once
/// every 20 ms, with the kernel's integer arithmetic on milliseconds) and the destination's bucket has a whole
/// interval of tokens (it gains one per millisecond, up to six intervals; a destination not seen before starts full).
/// Each error sent then takes 0, 1 or 2 credits from the global bucket at random (<c>icmp_global_consume</c>, the
/// kernel's defence against the rate limit being used as a side channel), so credit may go below zero.
/// </para>
/// <para>
/// The destinations are kept in a fixed table of <see cref="DestinationSlots"/> slots picked by a keyed hash of the
/// address; a destination whose slot another one took starts afresh (the kernel's <c>inet_peer</c> entries are also
/// reclaimed under memory pressure). The global check is lock-free; the destination table is behind a lock that only
/// errors the global bucket let through reach (at most about <see cref="MessagesPerSecond"/> a second). Nothing
/// allocates after construction.
/// </para>
/// </remarks>
public sealed class IcmpRateLimiter
{
    /// <summary>The number of destinations whose buckets are kept.</summary>
    public const int DestinationSlots = 4096;

    private const int BurstFactor = 6; // XRLIM_BURST_FACTOR
    private const long MinimumRefillMilliseconds = 20; // HZ / 50

    private readonly TimeProvider _time;
    private readonly long _start;
    private readonly ulong _hashKey;
    private readonly Lock _destinationsLock = new();
    private readonly DestinationBucket[] _destinations = new DestinationBucket[DestinationSlots];
    private int _credit;
    private long _stamp;
    private ulong _random;
    private long _refusedGlobal;
    private long _refusedPerDestination;

    /// <summary>Creates a limiter with the kernel's defaults, or the given settings.</summary>
    /// <param name="time">The clock; null for <see cref="TimeProvider.System"/>.</param>
    /// <param name="randomSeed">The seed of the random credit taken per error and of the destination hash; null for a random one.</param>
    public IcmpRateLimiter(TimeProvider? time = null, ulong? randomSeed = null)
    {
        _time = time ?? TimeProvider.System;
        _start = _time.GetTimestamp();
        ulong seed = randomSeed ?? (ulong)Random.Shared.NextInt64();
        _random = (seed * 0x9E37_79B9_7F4A_7C15UL) | 1;
        _hashKey = seed ^ 0xD6E8_FEB8_6659_FD93UL;

        // The first check finds a full second elapsed, as the kernel's first icmp_global_allow after boot.
        _stamp = -1000;
    }

    /// <summary>The global rate, the kernel's <c>net.ipv4.icmp_msgs_per_sec</c>. Default 1000; 0 blocks every limited error.</summary>
    public int MessagesPerSecond { get; init; } = 1000;

    /// <summary>The global bucket's size, the kernel's <c>net.ipv4.icmp_msgs_burst</c>. Default 50.</summary>
    public int Burst { get; init; } = 50;

    /// <summary>The interval between errors to one IPv4 destination, the kernel's <c>net.ipv4.icmp_ratelimit</c>. Default 1000 ms; zero turns the per-destination limit off.</summary>
    public TimeSpan IPv4DestinationInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The interval between errors to one IPv6 destination, the kernel's <c>net.ipv6.icmp.ratelimit</c>. Default
    /// 1000 ms, the kernel's value for a destination with a host route; the kernel shortens it for destinations
    /// reached through shorter prefixes (<c>icmpv6_xrlim_allow</c>: halved for every 32 bits the prefix lacks, so 250
    /// ms through a /64), which a director that does not know the routes cannot do (see docs/forwarding.md).
    /// </summary>
    public TimeSpan IPv6DestinationInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The errors refused because the global bucket was empty (the kernel's <c>IcmpRateLimitGlobal</c> / <c>ICMP_MIB_RATELIMITGLOBAL</c>).</summary>
    public long RefusedGlobal => Interlocked.Read(ref _refusedGlobal);

    /// <summary>The errors refused by their destination's bucket (the kernel's <c>IcmpRateLimitHost</c>).</summary>
    public long RefusedPerDestination => Interlocked.Read(ref _refusedPerDestination);

    /// <summary>Whether the kernel rate-limits errors of this type and code (the default rate masks).</summary>
    /// <param name="ipv6">ICMPv6 rather than ICMP.</param>
    /// <param name="type">The error's type.</param>
    /// <param name="code">The error's code.</param>
    /// <returns>True when the error counts against the limits.</returns>
    public static bool IsLimited(bool ipv6, byte type, byte code) =>
        ipv6
            ? type != 2 && type < 128 // all errors but packet too big; informational messages are not limited
            : type <= 18 && ((1 << type) & 0x1818) != 0 && !(type == 3 && code == 4);

    /// <summary>
    /// Asks to send an ICMP error of the given type to <paramref name="destination"/>: true (and the credit is taken)
    /// when it may be sent, false when the limits refuse it. Types the kernel does not limit always pass.
    /// </summary>
    /// <param name="destination">Where the error goes (the offending packet's source).</param>
    /// <param name="type">The ICMP or ICMPv6 type.</param>
    /// <param name="code">The code.</param>
    /// <returns>Whether to send it.</returns>
    public bool TryAcquire(InetAddress destination, byte type, byte code)
    {
        bool ipv6 = !destination.IsIPv4;
        if (!IsLimited(ipv6, type, code))
        {
            return true;
        }

        long now = Now();
        if (!GlobalAllow(now))
        {
            Interlocked.Increment(ref _refusedGlobal);
            return false;
        }

        long interval = (long)(ipv6 ? IPv6DestinationInterval : IPv4DestinationInterval).TotalMilliseconds;
        if (interval > 0 && !DestinationAllow(destination, now, interval))
        {
            Interlocked.Increment(ref _refusedPerDestination);
            return false;
        }

        // icmp_global_consume: 0, 1 or 2 credits.
        int credits = (int)(NextRandom() % 3);
        if (credits != 0)
        {
            Interlocked.Add(ref _credit, -credits);
        }

        return true;
    }

    /// <summary>Milliseconds since construction (the kernel's jiffies with HZ = 1000).</summary>
    private long Now() => (long)_time.GetElapsedTime(_start).TotalMilliseconds;

    /// <summary>The kernel's <c>icmp_global_allow</c>.</summary>
    private bool GlobalAllow(long now)
    {
        if (Volatile.Read(ref _credit) > 0)
        {
            return true;
        }

        long stamp = Volatile.Read(ref _stamp);
        long delta = Math.Min(now - stamp, 1000);
        if (delta < MinimumRefillMilliseconds)
        {
            return false;
        }

        long increment = (long)MessagesPerSecond * delta / 1000;
        if (increment == 0)
        {
            return false;
        }

        if (Interlocked.CompareExchange(ref _stamp, now, stamp) == stamp)
        {
            int old = Volatile.Read(ref _credit);
            while (true)
            {
                int next = (int)Math.Min(old + increment, Burst);
                int seen = Interlocked.CompareExchange(ref _credit, next, old);
                if (seen == old)
                {
                    break;
                }

                old = seen;
            }
        }

        return true;
    }

    /// <summary>The kernel's <c>inet_peer_xrlim_allow</c> on the destination's bucket (a new destination starts as <c>inet_getpeer</c> leaves it: 60 s of tokens, capped).</summary>
    private bool DestinationAllow(InetAddress destination, long now, long interval)
    {
        ulong hash = (destination.High ^ _hashKey) * 0x9E37_79B9_7F4A_7C15UL;
        hash = (hash ^ destination.Low ^ (hash >> 29)) * 0xBF58_476D_1CE4_E5B9UL;
        ref var slot = ref _destinations[(int)(hash >> 52) & (DestinationSlots - 1)];
        lock (_destinationsLock)
        {
            if (!slot.InUse || slot.Address != destination)
            {
                slot = new DestinationBucket { InUse = true, Address = destination, Tokens = 0, Last = now - 60_000 };
            }

            long tokens = slot.Tokens + (now - slot.Last);
            slot.Last = now;
            tokens = Math.Min(tokens, BurstFactor * interval);
            bool allowed = tokens >= interval;
            slot.Tokens = allowed ? tokens - interval : tokens;
            return allowed;
        }
    }

    private ulong NextRandom()
    {
        // xorshift64; a lost update between threads only repeats a value.
        ulong x = Volatile.Read(ref _random);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        Volatile.Write(ref _random, x);
        return x >> 11;
    }

    private struct DestinationBucket
    {
        public InetAddress Address;
        public long Tokens;
        public long Last;
        public bool InUse;
    }
}
