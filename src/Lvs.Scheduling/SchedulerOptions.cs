using System.Net.Sockets;

namespace Lvs.Scheduling;

/// <summary>
/// Settings of a scheduler: the service's scheduler flags, table sizes, the Maglev seed, and the injected clock and
/// random source. Each scheduler reads only the settings that concern it; the defaults are the kernel's. A record, so
/// that the settings of one service's scheduler are the table's with <c>with { Flags = ..., ServiceAddressFamily = ... }</c>
/// and none is lost in a copy.
/// </summary>
public sealed record SchedulerOptions
{
    /// <summary>
    /// The default Maglev seed: a fixed, documented constant (the ASCII bytes of "LVSMAGLV"). Maglev only does its job
    /// when every director builds the same table, so the seed must not be random per process; change it only on all
    /// directors at once.
    /// </summary>
    public const ulong DefaultMaglevSeed = 0x4C56_534D_4147_4C56UL;

    /// <summary>The default Maglev table size: 65537, the prime the Maglev paper uses (the kernel's default is 4093).</summary>
    public const int DefaultMaglevTableSize = 65537;

    /// <summary>The default sh and dh bucket table size in bits: 8, 256 buckets (the kernel's <c>CONFIG_IP_VS_SH_TAB_BITS</c>).</summary>
    public const int DefaultHashTableBits = 8;

    /// <summary>The default options.</summary>
    public static SchedulerOptions Default { get; } = new();

    /// <summary>The service's scheduler flags (ipvsadm <c>-b</c>); sh and mh read <see cref="SchedulerFlags.Fallback"/> and <see cref="SchedulerFlags.Port"/>.</summary>
    public SchedulerFlags Flags { get; init; }

    /// <summary>
    /// The size in bits of the sh and dh bucket tables (the kernel's <c>CONFIG_IP_VS_SH_TAB_BITS</c> and
    /// <c>CONFIG_IP_VS_DH_TAB_BITS</c>, 4 to 20, default 8).
    /// </summary>
    public int HashTableBits { get; init; } = DefaultHashTableBits;

    /// <summary>
    /// True to fill the sh and dh bucket tables from the servers sorted by (address, port) instead of the list order, so
    /// that the mapping depends only on the server set: for directors that must agree without sharing the order in which
    /// servers were added. False by default: the kernel fills them in its list order (a new server at the head, see
    /// <see cref="ServerList"/>), so a service imported from ipvsadm rules maps every client as the kernel does. mh
    /// always orders by endpoint (its table is meant to be order-independent).
    /// </summary>
    public bool SortServersByEndpoint { get; init; }

    /// <summary>
    /// The Maglev lookup table size: a prime larger than the number of servers (default 65537; the kernel's 4093 works
    /// too). With <see cref="MaglevKernelCompatible"/> one of the kernel's sizes (251, 509, 1021, 2039, 4093, 8191,
    /// 16381, 32749, 65521, 131071), and left at its default the kernel's default, 4093.
    /// </summary>
    public int MaglevTableSize { get; init; } = DefaultMaglevTableSize;

    /// <summary>
    /// True to build mh's table and hash its flows exactly as the kernel's <c>ip_vs_mh</c> does: <c>hsiphash</c> under
    /// the kernel's fixed keys, servers in the service's list order (a new server at the head, as ipvsadm adds them),
    /// the kernel's table size, and its fallback walk. A director with this option and a kernel director with the same
    /// destinations added in the same order and the same weights send every client to the same server, so both kinds
    /// can sit behind one ECMP route (during a migration, say). <see cref="MaglevSeed"/> is not used. False by
    /// default: the table then depends on the server set only, not on the order (docs/schedulers.md).
    /// </summary>
    public bool MaglevKernelCompatible { get; init; }

    /// <summary>
    /// True to let rr hand out its list positions in runs per packet thread number (<see cref="Lvs.Core.PacketThread.Current"/>
    /// modulo <see cref="Lvs.Core.PacketThread.Planes"/>): a thread reserves max(servers, 32) consecutive positions at once
    /// from the shared count and takes its picks from them, so that packet threads creating connections at once write the
    /// shared line once per run instead of moving one word between their cores on every pick. A thread alone still walks
    /// exactly the kernel's sequence; threads of different numbers picking at once get runs of the sequence each, so
    /// consecutive connections alternate within a thread's run rather than across threads (each server's count stays
    /// within one plus the number of planes of its share). False by default: one position for all threads, as the
    /// kernel's one mark (docs/schedulers.md).
    /// </summary>
    public bool RoundRobinRunsPerThread { get; init; }

    /// <summary>
    /// True to keep wrr's position once per packet thread number (<see cref="Lvs.Core.PacketThread.Current"/> modulo
    /// <see cref="Lvs.Core.PacketThread.Planes"/>), each on a cache line of its own, so that packet threads creating
    /// connections at once do not move one shared word between their cores on every pick: a thread alone, and the
    /// threads of one number together, still walk exactly the kernel's sequence, and threads of different numbers each
    /// walk it on their own, so the shares hold per thread rather than over the threads' picks together. False by
    /// default: one position for all threads, as the kernel's one mark (docs/schedulers.md). It applies to the period
    /// table and to the kernel's stepping loop alike (<see cref="MaxWeightedRoundRobinPeriod"/>).
    /// </summary>
    public bool WeightedRoundRobinPositionPerThread { get; init; }

    /// <summary>
    /// How many picks of one packet thread number the connection counts of the other packet threads serve before they
    /// are read again, for the schedulers that read every server's counts (lc, wlc, sed, nq, ovf, and lblc and lblcr
    /// over the whole list): a pick then reads its own thread's counts, every weight and every flag live, and the other
    /// threads' counts as of at most this many of its thread number's picks ago
    /// (<see cref="Lvs.Core.RealServerLoadBlock.CopySummedSlots(System.Span{int}, int)"/>), so that packet threads
    /// creating connections at once stop moving each other's counter lines between their cores on every pick. 0 by
    /// default: every pick reads every thread's counts, as the kernel reads its shared atomics (docs/schedulers.md).
    /// With one packet thread, or one counter plane (<see cref="Lvs.Core.PacketThread.Planes"/>), it changes nothing.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public int OtherThreadCountsRefreshPicks
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            field = value;
        }
    }

    /// <summary>
    /// The family of the service the scheduler serves (the kernel's <c>svc-&gt;af</c>; for a firewall-mark service its
    /// <c>-4</c>/<c>-6</c>): the kernel's mh folds every destination's address by it, which matters for an IPv4 service
    /// with IPv6 tunnel destinations. <see cref="AddressFamily.Unspecified"/> (the default): each destination's own
    /// family. The director sets it for each service.
    /// </summary>
    public AddressFamily ServiceAddressFamily { get; init; }

    /// <summary>
    /// The seed of the two Maglev hashes (server offset and skip) and of the flow hash. Directors that must agree on
    /// every flow need the same seed, table size and servers; the default is <see cref="DefaultMaglevSeed"/>.
    /// </summary>
    public ulong MaglevSeed { get; init; } = DefaultMaglevSeed;

    /// <summary>The clock of the lblc and lblcr expiry (default <see cref="TimeProvider.System"/>).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// The random source of twos (default <see cref="Random.Shared"/>). Picks run on several threads at once, so it
    /// must be thread-safe when the scheduler is shared; a seeded <see cref="Random"/> suits single-threaded tests.
    /// </summary>
    public Random Random { get; init; } = Random.Shared;

    /// <summary>
    /// How long an lblc or lblcr entry may stay unused before the periodic full check drops it, and how long an lblcr
    /// server set stays unchanged before its busiest member is dropped (the sysctls <c>lblc_expiration</c> and
    /// <c>lblcr_expiration</c>, default 24 hours).
    /// </summary>
    public TimeSpan LocalityExpiration { get; init; } = TimeSpan.FromHours(24);

    /// <summary>
    /// The largest weighted round-robin period (sum of weights divided by their gcd) that wrr precomputes as a table;
    /// longer periods use the kernel's stepping algorithm. Bounds the table's memory (4 bytes an entry).
    /// </summary>
    internal int MaxWeightedRoundRobinPeriod { get; init; } = 1 << 20;

    /// <summary>
    /// Parses ipvsadm's <c>--sched-flags</c> list: <c>flag-1</c>, <c>flag-2</c>, <c>flag-3</c>, <c>sh-fallback</c>,
    /// <c>sh-port</c>, <c>mh-fallback</c>, <c>mh-port</c>, separated by commas.
    /// </summary>
    /// <param name="text">The flag list; empty means none.</param>
    /// <returns>The flags.</returns>
    /// <exception cref="FormatException">A name is not a scheduler flag.</exception>
    public static SchedulerFlags ParseFlags(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var flags = SchedulerFlags.None;
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            flags |= part.ToUpperInvariant() switch
            {
                "FLAG-1" or "SH-FALLBACK" or "MH-FALLBACK" => SchedulerFlags.Fallback,
                "FLAG-2" or "SH-PORT" or "MH-PORT" => SchedulerFlags.Port,
                "FLAG-3" => SchedulerFlags.Flag3,
                _ => throw new FormatException($"'{part}' is not a scheduler flag (flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback, mh-port)."),
            };
        }

        return flags;
    }
}
