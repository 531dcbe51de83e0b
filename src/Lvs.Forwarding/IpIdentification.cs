using System.Runtime.CompilerServices;

namespace Lvs.Forwarding;

/// <summary>
/// The identifications of the IPv4 headers the package builds (outer tunnel headers without DF, ICMP errors) and of
/// IPv6 fragment headers, as <see cref="IpIdentificationPolicy"/> says.
/// </summary>
/// <remarks>
/// The per-destination form keeps, like the kernel, 2048 pairs of a counter and the millisecond it was last used; a
/// use in a later millisecond first adds a random amount below the milliseconds elapsed, so an observer cannot count
/// another destination's packets from the identifications it sees (the kernel's reason, CVE-2019-10638 and its
/// predecessors). Counters and stamps change by compare-and-swap: no lock, no allocation.
/// </remarks>
internal sealed class IpIdentification
{
    private const int Buckets = 2048;

    private readonly bool _perDestination;
    private readonly TimeProvider? _time;
    private readonly long _start;
    private readonly ulong _key;
    private readonly int[] _counters = new int[Buckets];
    private readonly uint[] _stamps = new uint[Buckets];
    private ulong _random;
    private int _counter;

    public IpIdentification(IpIdentificationPolicy policy, TimeProvider? time, ulong seed)
    {
        _perDestination = policy == IpIdentificationPolicy.PerDestination;
        _time = time;
        _start = time?.GetTimestamp() ?? 0;
        _key = seed ^ 0x2545_F491_4F6C_DD1DUL;
        _random = (seed * 0x9E37_79B9_7F4A_7C15UL) | 1;
    }

    /// <summary>The identifications with the kernel's policy and the system clock, shared by every rewriter created without a clock of its own (the kernel's array is global too).</summary>
    public static IpIdentification Shared { get; } = new(IpIdentificationPolicy.PerDestination, null, (ulong)Random.Shared.NextInt64());

    /// <summary>
    /// The generator for a rewriter's options: the shared one for the defaults; else the one of the options instance
    /// (and of its <c>with</c> copies with the same policy, clock and seed), so that all the rewriters built from one
    /// configuration count together, as the kernel's one array per system does; keyed with
    /// <see cref="ForwardingOptions.FlowHashSeed"/> when set.
    /// </summary>
    public static IpIdentification For(ForwardingOptions options)
    {
        if (options.IpIdentification == IpIdentificationPolicy.PerDestination && options.TimeProvider is null)
        {
            return Shared;
        }

        var slot = options.IdentificationSlot;
        lock (slot)
        {
            if (slot.Generator is { } existing
                && slot.Policy == options.IpIdentification && ReferenceEquals(slot.Time, options.TimeProvider) && slot.Seed == options.FlowHashSeed)
            {
                return existing;
            }

            var generator = new IpIdentification(options.IpIdentification, options.TimeProvider, options.FlowHashSeed ?? (ulong)Random.Shared.NextInt64());
            if (slot.Generator is null)
            {
                (slot.Generator, slot.Policy, slot.Time, slot.Seed) = (generator, options.IpIdentification, options.TimeProvider, options.FlowHashSeed);
            }

            return generator;
        }
    }

    /// <summary>Where an options instance (and its <c>with</c> copies) keeps the generator its rewriters share.</summary>
    internal sealed class Slot
    {
        public IpIdentification? Generator;
        public IpIdentificationPolicy Policy;
        public TimeProvider? Time;
        public ulong? Seed;
    }

    /// <summary>The identification of an IPv4 header from <paramref name="source"/> to <paramref name="destination"/> carrying <paramref name="protocol"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort NextIPv4(uint source, uint destination, uint protocol)
    {
        if (!_perDestination)
        {
            return (ushort)Interlocked.Increment(ref _counter);
        }

        return Reserve(source, destination, protocol);
    }

    /// <summary>The identification of an IPv6 fragment header: random and non-zero (the kernel's <c>get_random_u32_above(0)</c>), or the counter.</summary>
    public uint NextIPv6Fragment()
    {
        if (!_perDestination)
        {
            return (uint)Interlocked.Increment(ref _counter);
        }

        while (true)
        {
            uint id = (uint)NextRandom();
            if (id != 0)
            {
                return id;
            }
        }
    }

    /// <summary>The kernel's <c>ip_idents_reserve</c> for one packet, on the bucket of the keyed hash.</summary>
    private ushort Reserve(uint source, uint destination, uint protocol)
    {
        ulong hash = ((ulong)destination << 32 | source) ^ _key;
        hash = (hash ^ (hash >> 31) ^ ((ulong)protocol << 17)) * 0xBF58_476D_1CE4_E5B9UL;
        hash = (hash ^ (hash >> 27)) * 0x94D0_49BB_1331_11EBUL;
        int bucket = (int)((hash >> 32) & (Buckets - 1));
        uint now = Milliseconds();
        uint old = Volatile.Read(ref _stamps[bucket]);
        uint delta = 0;
        if (old != now && Interlocked.CompareExchange(ref _stamps[bucket], now, old) == old)
        {
            delta = (uint)(NextRandom() % (now - old));
        }

        return (ushort)(Interlocked.Add(ref _counters[bucket], (int)(1 + delta)) - 1);
    }

    /// <summary>The clock in milliseconds (the kernel's jiffies with HZ 1000): the injected clock's, or the system's coarse tick count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint Milliseconds() =>
        _time is null ? (uint)Environment.TickCount64 : (uint)(long)_time.GetElapsedTime(_start).TotalMilliseconds;

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
}
