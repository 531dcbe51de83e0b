using System.Numerics;
using System.Runtime.CompilerServices;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.ConnectionTracking;

/// <summary>
/// The connections of one address family: a slab of slots, each a <see cref="ConnectionEntry{TAddress}"/> (what
/// lookups read, cache-line aligned) and a <see cref="ConnectionRoute{TAddress}"/> at the same index in a second
/// array, two hash indexes (inbound keys in <see cref="InboundBucket"/>s of tagged cells with overflow chains,
/// outbound keys in chains) and a timer wheel, all linked by int indexes. See docs/connection-tracking.md.
/// </summary>
/// <remarks>
/// <para>Concurrency model.</para>
/// <list type="bullet">
/// <item>Lookups never lock and never wait. A reader walks a chain with volatile reads; for each candidate it reads
/// the entry's <c>Word</c>, compares the key, issues a read barrier and reads <c>Word</c> again: a match counts only if
/// the slot was live with the same generation before and after, so a slot freed and refilled under the reader is
/// never mistaken for the connection. A miss counts only if the version of the chain's stripe did not change during
/// the walk: every unlink bumps it before the slot can be reused, so a reader that was led astray by a reused slot
/// (which could hide a live connection) walks again.</item>
/// <item>Structural changes (insert, unlink, the free list, the timer wheel) are made under one short writer lock,
/// held for a single insert or removal, or at most <see cref="HousekeepingBatch"/> expiries. Readers never take it.</item>
/// <item>The per-packet update (state transition and timer refresh) takes no lock: the state, flags and generation are
/// one 32-bit word changed by compare-and-swap, and the real server's active/inactive counters follow the winner of
/// each swap, so they end exact whatever the interleaving. The expiry tick is a separate 32-bit field; a refresh only
/// writes it. The wheel is lazy: an entry stays filed at its old tick when its expiry moves later, and is re-filed when
/// that tick comes; a transition that shortens the timeout (to CLOSE, FIN_WAIT...) puts the entry in a lock-free
/// queue that housekeeping drains, under the writer lock, before it expires anything (the packet thread takes the lock
/// itself only if that queue is full).</item>
/// </list>
/// </remarks>
/// <typeparam name="TAddress">The stored address form.</typeparam>
internal sealed class ConnectionStore<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    internal const int WheelSize = 1024;
    internal const int HousekeepingBatch = 256;

    /// <summary>The expiries per writer-lock hold with an observer (their descriptions wait on the housekeeper's stack, 8 KiB).</summary>
    internal const int ObservedHousekeepingBatch = 64;
    internal const int ShedProbes = 32;

    /// <summary>How long an entry must have been idle before flood defence may shed it when no half-open entry is found (the kernel's <c>todrop_entry</c> rule).</summary>
    internal const uint IdleSheddingTicks = 60;

    /// <summary>How long a template that still controls connections is kept when its own timer runs out (the kernel's <c>expire_later</c>).</summary>
    internal const uint TemplateGraceTicks = 60;

    /// <summary>The timeout of a connection before its first packet is processed (the kernel's <c>ip_vs_conn_new</c>: 3 s).</summary>
    internal const uint InitialTimeoutTicks = 3;

    /// <summary>
    /// What every timer adds to its timeout: the tick the hot path reads was cached by the last housekeeping run and is
    /// up to a second old, so an entry refreshed at cached tick n with timeout T expires at tick n + T + 1, never before
    /// T seconds have passed and at most one tick after.
    /// </summary>
    internal const uint ExpiryRounding = 1;

    internal const uint StateMask = 0xF;
    internal const uint InactiveBit = 0x10;
    internal const uint NoOutputBit = 0x20;
    internal const uint LiveBit = 0x40;
    internal const uint InvalidBit = 0x80;

    /// <summary>
    /// A template's state (bit 0 of its word; templates have no protocol state): ASSURED, the kernel's
    /// <c>IP_VS_CTPL_S_ASSURED</c>, set once a connection it controls reaches ESTABLISHED (for UDP: sees a reply).
    /// Flood defence drops templates that control nothing unless they are assured.
    /// </summary>
    internal const uint AssuredBit = 0x1;

    /// <summary>Bit 7 of a connection's word (a template's is <see cref="InvalidBit"/>): set by the first packet processed, after which the timeout is the state's.</summary>
    internal const uint SeenBit = 0x80;
    internal const int GenerationShift = 8;
    internal const uint GenerationMask = 0xFFFF_FF00;

    internal const uint MethodMask = 0x3;
    internal const uint TemplateMeta = 0x4;
    internal const uint OutboundMeta = 0x8;
    internal const int AuxShift = 8;
    internal const uint AuxUnit = 1u << AuxShift;

    /// <summary>Connections per inbound bucket at full load (of its 15 cells; see the constructor).</summary>
    private const int ConnectionsPerInboundBucket = 13;

    private const int NotFiled = int.MinValue;
    private const int MaxSteps = 1 << 16;
    private const int ProbeTagBits = 8;
    private const uint ProbeTagMask = 0xFF;

    private readonly CacheAlignedArray<ConnectionEntry<TAddress>> _entries;
    private readonly ConnectionRoute<TAddress>[] _routes;
    private readonly CacheAlignedArray<InboundBucket> _inLines;
    private readonly int[] _outHeads;
    private readonly int[] _inVersions;
    private readonly int[] _outVersions;
    private readonly int[] _wheel;
    private readonly uint _inLineCount;
    private readonly uint _cells;
    private readonly uint _outBuckets;
    private readonly int _stripeMask;
    private readonly FlowHashSecret _secret;
    private readonly bool _isIPv6;
    private readonly ConnectionTable _table;
    private readonly Lock _writeLock = new();
    private readonly RefileQueue _refiles;
    private readonly IdleTimeoutFloor _idleTimeouts;
    private readonly IConnectionEndObserver? _observer;
    private readonly ulong _handleOwner;
    private int _retired;
    private int _freeHead;
    private int _count;
    private ulong _random;
    private uint _lastTick;
    private long _refused;
    private long _shed;
    private long _expired;

    public ConnectionStore(ConnectionTable table, int capacity, bool isIPv6, ulong randomSeed)
    {
        if (capacity < 1 || capacity > (1 << 24) - 2)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "A capacity is between 1 and 16,777,214 per address family.");
        }

        _table = table;
        _isIPv6 = isIPv6;
        _observer = table.Options.EndObserver;
        _handleOwner = ConnectionHandle.OwnerBits(table.Tag, isIPv6);
        _secret = new FlowHashSecret(FlowHash.Seed);
        _random = randomSeed | 1;
        Capacity = capacity;

        // Inbound, where every packet looks: one 64-byte bucket of 15 cells per 13 connections (13 per bucket on
        // average at full load, 5 % of them in overflow chains; 4.9 bytes per connection). Outbound, where only NAT
        // replies look: chains of two entries per bucket on average (2 bytes per connection). With the 56-byte slot
        // that is within the budget of 64 bytes per IPv4 connection. Any count works: a bucket is picked by
        // multiplying the hash, not by masking it.
        _inLineCount = (uint)Math.Max((capacity + ConnectionsPerInboundBucket - 1) / ConnectionsPerInboundBucket, 1);
        _outBuckets = (uint)Math.Max(capacity / 2, 16);
        _stripeMask = 4095;
        _entries = new CacheAlignedArray<ConnectionEntry<TAddress>>(capacity);
        _routes = HugePages.AllocatePinned<ConnectionRoute<TAddress>>(capacity);
        _inLines = new CacheAlignedArray<InboundBucket>((int)_inLineCount);
        _cells = InboundBucket.ConnectionCells >> (InboundBucket.OverflowCell - Math.Clamp(table.Options.InboundCellsPerBucket, 1, InboundBucket.OverflowCell));
        for (int i = 0; i <= (int)_inLineCount; i++)
        {
            // Every bucket and the sentinel after them start empty.
            _inLines.AtOrSentinel(i) = default;
        }

        _outHeads = NewFilled((int)_outBuckets);
        _inVersions = new int[_stripeMask + 1];
        _outVersions = new int[_stripeMask + 1];
        _wheel = NewFilled(WheelSize);

        // Room for a second's worth of shortened timeouts at a high closing rate (1/64 of the capacity, between 1 K and
        // 16 K entries of 16 bytes, a quarter of a byte per connection); beyond it packet threads re-file under the
        // lock themselves.
        _refiles = new RefileQueue((int)Math.Clamp(System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity / 64), 1024u, 16384u));
        _idleTimeouts = new IdleTimeoutFloor(table.Timeouts);
        _entries.Sentinel = default;
        _entries.Sentinel.NextIn = -1;
        for (int i = 0; i < capacity; i++)
        {
            ref var e = ref _entries[i];
            e = default;
            e.NextIn = i + 1 < capacity ? i + 1 : -1;
            ref var r = ref _routes[i];
            r = default;
            r.NextOut = -1;
            r.WheelPrev = NotFiled;
        }

        _freeHead = 0;

        // A store created after the table (the IPv6 one, reserved on first use) starts its wheel at the present tick.
        _lastTick = table.CurrentTick;
    }

    public int Capacity { get; }

    public int Count => Volatile.Read(ref _count);

    public long Refused => Interlocked.Read(ref _refused);

    public long Shed => Interlocked.Read(ref _shed);

    public long Expired => Interlocked.Read(ref _expired);

    // ---------------------------------------------------------------- lookups (lock-free)

    // Walks stop at any link outside the slab, not only at -1: a reader standing on a slot that was freed and refilled
    // as a template reads that template's timeout where a link was (see Add), and must end the walk and retry rather
    // than index out of range.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryFindInbound(byte protocol, TAddress client, ushort clientPort, TAddress @virtual, ushort virtualPort, bool template, out int index, out uint word) =>
        TryFindInbound(InboundProbe(protocol, client, clientPort, @virtual, virtualPort, template), protocol, client, clientPort, @virtual, virtualPort, template, out index, out word);

    /// <summary>Where an inbound key is looked for: its bucket (bits 8 and up) and its tag (bits 0-7), packed in one int.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int InboundProbe(byte protocol, TAddress client, ushort clientPort, TAddress @virtual, ushort virtualPort, bool template)
    {
        byte kind = template ? FlowHashKey<TAddress>.TemplateKind : FlowHashKey<TAddress>.InboundKind;
        return ProbeOf(FlowHashKey<TAddress>.Hash(kind, protocol, client, clientPort, @virtual, virtualPort, _secret));
    }

    /// <summary>
    /// The first candidate of a probe (for batched lookups, which load the buckets of many keys before reading any
    /// entry): the first cell with the key's tag, else the overflow chain's head; -1 for none.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int InboundHead(int probe)
    {
        ref var line = ref _inLines[probe >> ProbeTagBits];
        uint matches = line.TagMatches((uint)probe & ProbeTagMask, _cells);
        uint others = matches & (matches - 1);
        if (others != 0)
        {
            // A second entry under the key's tag (about one bucket in twenty): the first may be the wrong one, and
            // the decision would then read this one; start loading it too.
            PrefetchEntry(InboundBucket.IndexOf(line[BitOperations.TrailingZeroCount(others)]));
        }

        return InboundBucket.IndexOf(Volatile.Read(ref line[InboundBucket.FirstOrOverflow(matches)]));
    }

    /// <summary>Asks the CPU to start loading a probe's bucket (a batched lookup's first stage).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchInboundHead(int probe) => MemoryPrefetch.Line(ref _inLines[probe >> ProbeTagBits]);

    /// <summary>
    /// Asks the CPU to start loading an entry (a batched lookup's later stages); ignores a link outside the slab, so a
    /// chain read racily can be followed blindly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchEntry(int index) => MemoryPrefetch.Line(ref _entries.AtOrSentinel(index));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryFindInbound(int probe, byte protocol, TAddress client, ushort clientPort, TAddress @virtual, ushort virtualPort, bool template, out int index, out uint word)
    {
        int bucket = probe >> ProbeTagBits;
        uint tag = (uint)probe & ProbeTagMask;
        ref int version = ref _inVersions[bucket & _stripeMask];
        ref var line = ref _inLines[bucket];
        uint templateMeta = template ? TemplateMeta : 0;
        while (true)
        {
            int before = Volatile.Read(ref version);

            // The cells with the key's tag, then the overflow chain. Cells are never moved, so a live connection is in
            // one of them or in the chain; a cell that changed under the reader was emptied, which bumps the version.
            for (uint matches = line.TagMatches(tag, _cells); matches != 0; matches &= matches - 1)
            {
                uint cell = Volatile.Read(ref line[BitOperations.TrailingZeroCount(matches)]);
                int candidate = InboundBucket.IndexOf(cell);
                if ((cell >> InboundBucket.TagShift) == tag && (uint)candidate < (uint)_entries.Length
                    && InboundMatches(ref _entries[candidate], protocol, client, clientPort, @virtual, virtualPort, templateMeta, template ? InvalidBit : 0, out word))
                {
                    index = candidate;
                    return true;
                }
            }

            int i = InboundBucket.IndexOf(Volatile.Read(ref line[InboundBucket.OverflowCell]));
            int steps = 0;
            while ((uint)i < (uint)_entries.Length && ++steps < MaxSteps)
            {
                ref var e = ref _entries[i];
                if (InboundMatches(ref e, protocol, client, clientPort, @virtual, virtualPort, templateMeta, template ? InvalidBit : 0, out word))
                {
                    index = i;
                    return true;
                }

                i = Volatile.Read(ref e.NextIn);
            }

            if ((uint)i >= (uint)_entries.Length && Volatile.Read(ref version) == before)
            {
                return Missed(out index, out word);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryFindOutbound(byte protocol, TAddress source, ushort sourcePort, TAddress destination, ushort destinationPort, out int index, out uint word) =>
        TryFindOutbound(OutboundBucket(protocol, source, sourcePort, destination, destinationPort), protocol, source, sourcePort, destination, destinationPort, out index, out word);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int OutboundBucket(byte protocol, TAddress source, ushort sourcePort, TAddress destination, ushort destinationPort) =>
        BucketOf(FlowHashKey<TAddress>.Hash(FlowHashKey<TAddress>.OutboundKind, protocol, source, sourcePort, destination, destinationPort, _secret), _outBuckets);

    /// <summary>Asks the CPU to start loading an outbound bucket's chain head (a batched lookup's first stage).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchOutboundHead(int bucket) => MemoryPrefetch.Line(ref _outHeads[bucket]);

    /// <summary>Reads an outbound bucket's chain head (for batched lookups).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int OutboundHead(int bucket) => Volatile.Read(ref _outHeads[bucket]);

    /// <summary>Asks the CPU to start loading both parts of a slot (an outbound walk reads the route and the entry); ignores a link outside the slab.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchSlot(int index)
    {
        MemoryPrefetch.Line(ref _entries.AtOrSentinel(index));
        if ((uint)index < (uint)_routes.Length)
        {
            MemoryPrefetch.Line(ref _routes[index]);
        }
    }

    /// <summary>
    /// A batched outbound lookup's chain stage: the next outbound link after the slot at <paramref name="index"/>, or -1
    /// when that slot's client (NAT) or local (full NAT) endpoint is the reply's destination (it becomes the
    /// <paramref name="candidate"/>; the server endpoint would not tell, as it is shared by all the server's connections) or the link
    /// leaves the slab. Read racily, for prefetching only: a changed entry costs at most a useless or a missed prefetch, since a candidate is checked in full.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int NextOutboundCandidate(int index, TAddress peer, ushort peerPort, ref int candidate)
    {
        if ((uint)index >= (uint)_routes.Length)
        {
            return -1;
        }

        ref var r = ref _routes[index];
        ref var e = ref _entries[index];
        int next = Volatile.Read(ref r.NextOut);
        bool match = ((e.ClientPort == peerPort) & TAddress.AreEqual(e.Client, peer)) | ((r.LocalPort == peerPort) & TAddress.AreEqual(r.Local, peer));
        candidate = match ? index : candidate;
        return match ? -1 : next;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryFindOutbound(int bucket, byte protocol, TAddress source, ushort sourcePort, TAddress destination, ushort destinationPort, out int index, out uint word)
    {
        ref int version = ref _outVersions[bucket & _stripeMask];
        while (true)
        {
            int before = Volatile.Read(ref version);
            int i = Volatile.Read(ref _outHeads[bucket]);
            int steps = 0;
            while ((uint)i < (uint)_entries.Length && ++steps < MaxSteps)
            {
                ref var r = ref _routes[i];
                if (OutboundMatches(ref _entries[i], ref r, protocol, source, sourcePort, destination, destinationPort, out word))
                {
                    index = i;
                    return true;
                }

                i = Volatile.Read(ref r.NextOut);
            }

            if ((uint)i >= (uint)_entries.Length && Volatile.Read(ref version) == before)
            {
                return Missed(out index, out word);
            }
        }
    }

    /// <summary>
    /// A batched inbound lookup's last stage: whether the slot at <paramref name="index"/> (the candidate the chain
    /// stages found, in the cache by now) is the live connection with the packet's key. Keys are unique in the table,
    /// so a live slot with the key is the answer whichever chain the candidate was reached by; when it is not, the
    /// caller walks the chain as <see cref="TryFindInbound(int, byte, TAddress, ushort, TAddress, ushort, bool, out int, out uint)"/> does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryMatchInbound(int index, byte protocol, TAddress client, ushort clientPort, TAddress @virtual, ushort virtualPort, out uint word)
    {
        if ((uint)index >= (uint)_entries.Length)
        {
            word = 0;
            return false;
        }

        return InboundMatches(ref _entries[index], protocol, client, clientPort, @virtual, virtualPort, 0, 0, out word);
    }

    /// <summary>The outbound form of <see cref="TryMatchInbound"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryMatchOutbound(int index, byte protocol, TAddress source, ushort sourcePort, TAddress destination, ushort destinationPort, out uint word)
    {
        if ((uint)index >= (uint)_routes.Length)
        {
            word = 0;
            return false;
        }

        return OutboundMatches(ref _entries[index], ref _routes[index], protocol, source, sourcePort, destination, destinationPort, out word);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool InboundMatches(ref ConnectionEntry<TAddress> e, byte protocol, TAddress client, ushort clientPort, TAddress @virtual, ushort virtualPort, uint templateMeta, uint rejectBits, out uint word)
    {
        uint w = Volatile.Read(ref e.Word);
        if ((w & LiveBit) != 0
            && e.ClientPort == clientPort
            && e.VirtualPort == virtualPort
            && e.Protocol == protocol
            && (e.Meta & TemplateMeta) == templateMeta
            && TAddress.AreEqual(e.Client, client)
            && TAddress.AreEqual(e.Virtual, @virtual))
        {
            return IsStillSame(ref e, w, rejectBits, out word);
        }

        word = 0;
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool OutboundMatches(ref ConnectionEntry<TAddress> e, ref ConnectionRoute<TAddress> r, byte protocol, TAddress source, ushort sourcePort, TAddress destination, ushort destinationPort, out uint word)
    {
        uint w = Volatile.Read(ref e.Word);
        if ((w & LiveBit) != 0
            && r.DestinationPort == sourcePort
            && e.Protocol == protocol
            && TAddress.AreEqual(r.Destination, source)
            && OutboundPeerMatches(ref e, ref r, destination, destinationPort))
        {
            return IsStillSame(ref e, w, 0, out word);
        }

        word = 0;
        return false;
    }

    /// <summary>
    /// The second read of a candidate's word after its key matched: the match holds only if the slot is still live with
    /// the generation seen before the key was read (and has none of <paramref name="rejectBits"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsStillSame(ref ConnectionEntry<TAddress> e, uint seen, uint rejectBits, out uint word)
    {
        // Keeps the key reads before the second read of the word (a load-load barrier; free on x64).
        Volatile.ReadBarrier();
        word = Volatile.Read(ref e.Word);
        return ((word ^ seen) & GenerationMask) == 0 && (word & (LiveBit | rejectBits)) == LiveBit;
    }

    private static bool Missed(out int index, out uint word)
    {
        index = -1;
        word = 0;
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool OutboundPeerMatches(ref ConnectionEntry<TAddress> e, ref ConnectionRoute<TAddress> r, TAddress peer, ushort peerPort) =>
        (ForwardingMethod)(e.Meta & MethodMask) == ForwardingMethod.FullNat
            ? r.LocalPort == peerPort && TAddress.AreEqual(r.Local, peer)
            : e.ClientPort == peerPort && TAddress.AreEqual(e.Client, peer);

    /// <summary>Reads the word of a slot if it still holds the handle's connection.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadWord(int index, uint generation, out uint word)
    {
        if ((uint)index >= (uint)_entries.Length)
        {
            word = 0;
            return false;
        }

        word = Volatile.Read(ref _entries[index].Word);
        return (word & LiveBit) != 0 && GenerationOf(ref _entries[index], word) == generation;
    }

    public ref ConnectionEntry<TAddress> EntryAt(int index) => ref _entries[index];

    public ref ConnectionRoute<TAddress> RouteAt(int index) => ref _routes[index];

    // ---------------------------------------------------------------- per-packet update (lock-free)

    /// <summary>Applies one packet: the protocol state machine, the counters and the timer (the kernel's <c>set_tcp_state</c> / <c>udp_state_transition</c>).</summary>
    public bool Update(int index, uint generation, PacketDirection direction, TcpFlags flags, uint now)
    {
        if ((uint)index >= (uint)_entries.Length)
        {
            return false;
        }

        ref var e = ref _entries[index];
        var timeouts = _table.Timeouts;
        while (true)
        {
            uint w = Volatile.Read(ref e.Word);
            if ((w & LiveBit) == 0 || GenerationOf(ref e, w) != generation || (e.Meta & TemplateMeta) != 0)
            {
                return false;
            }

            uint state = w & StateMask;
            uint next = w | SeenBit;
            if (e.Protocol == (byte)L4Protocol.Tcp)
            {
                bool noOutput = (w & NoOutputBit) != 0;
                var table = TcpStateMachine.TableFor(direction, noOutput);
                var newState = TcpStateMachine.Next((TcpConnectionState)state, table, flags, _table.SecureTcpActive);
                next = (next & ~(StateMask | InactiveBit | NoOutputBit)) | (uint)newState
                    | (TcpStateMachine.IsActive(newState) ? 0 : InactiveBit)
                    | (noOutput && direction == PacketDirection.Inbound ? NoOutputBit : 0);
            }

            if (next != w && Interlocked.CompareExchange(ref e.Word, next, w) != w)
            {
                continue;
            }

            if (((next ^ w) & InactiveBit) != 0)
            {
                _table.Registry[e.RealServer].ChangeConnectionActivity((next & InactiveBit) == 0);
            }

            // A template is assured when a connection it controls reaches ESTABLISHED (set_tcp_state) or, for UDP,
            // sees a reply (udp_state_transition): the kernel's ip_vs_control_assure_ct.
            if ((e.Meta >> AuxShift) != 0
                && (e.Protocol == (byte)L4Protocol.Tcp
                    ? (next & StateMask) == (uint)TcpConnectionState.Established && (w & StateMask) != (uint)TcpConnectionState.Established
                    : direction == PacketDirection.Outbound))
            {
                Assure((int)(e.Meta >> AuxShift) - 1);
            }

            uint expiry = now + ExpiryRounding + (uint)timeouts.For((L4Protocol)e.Protocol, (int)(next & StateMask));
            uint previous = e.Expiry;
            if (expiry != previous)
            {
                Volatile.Write(ref e.Expiry, expiry);
            }

            if (expiry < previous && !_refiles.TryEnqueue(index, generation))
            {
                // A shorter timeout (ESTABLISHED to FIN_WAIT, CLOSE...) must be re-filed before housekeeping reaches
                // the new tick, or the lazy wheel would expire it late. Housekeeping does it from the queue; only
                // when the queue is full does the packet thread take the writer lock and do it itself.
                lock (_writeLock)
                {
                    RefileLocked(index, generation);
                }
            }

            return true;
        }
    }

    /// <summary>
    /// Marks the template at <paramref name="index"/> ASSURED. The word is swapped only if it is still the one read,
    /// which was a live template's: the template of a connection that ended meanwhile may have been removed and its
    /// slot reused, and a connection's state must never be touched.
    /// </summary>
    private void Assure(int index)
    {
        ref var t = ref _entries[index];
        while (true)
        {
            uint tw = Volatile.Read(ref t.Word);
            if ((tw & (LiveBit | AssuredBit)) != LiveBit || (Volatile.Read(ref t.Meta) & TemplateMeta) == 0
                || Interlocked.CompareExchange(ref t.Word, tw | AssuredBit, tw) == tw)
            {
                return;
            }
        }
    }

    // ---------------------------------------------------------------- insert

    /// <summary>
    /// Computes an insert's buckets and starts loading its chain heads and the next free slot, without the lock: an
    /// insert's reads then overlap each other (and, in a batch, other inserts') instead of each waiting for DRAM in
    /// turn under the lock, whose interlocked instructions would also drain them one by one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prepare(ref ConnectionInsert<TAddress> insert)
    {
        byte kind = insert.Template ? FlowHashKey<TAddress>.TemplateKind : FlowHashKey<TAddress>.InboundKind;
        insert.InProbe = ProbeOf(FlowHashKey<TAddress>.Hash(kind, insert.Protocol, insert.Client, insert.ClientPort, insert.Virtual, insert.VirtualPort, _secret));
        PrefetchInboundHead(insert.InProbe);
        insert.OutBucket = -1;
        if (insert.HasOutboundKey)
        {
            bool fullNat = insert.Method == ForwardingMethod.FullNat;
            insert.OutBucket = OutboundBucket(
                insert.Protocol,
                insert.Destination,
                insert.DestinationPort,
                fullNat ? insert.Local : insert.Client,
                fullNat ? insert.LocalPort : insert.ClientPort);
            MemoryPrefetch.Line(ref _outHeads[insert.OutBucket]);
        }
    }

    /// <summary>
    /// A prepared insert's later stages, for batches: starts loading what the duplicate check will read and returns it.
    /// With -2: the first entry under the key's tag in its bucket, else the head of the bucket's overflow chain (see
    /// <see cref="InboundHead"/>); then, with that as <paramref name="cursor"/>, the entry after it in an overflow chain
    /// (-1 after an entry in a cell). Read racily: a stale link only wastes a prefetch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int PrefetchInboundChain(in ConnectionInsert<TAddress> insert, int cursor)
    {
        int next = cursor == -2 ? InboundHead(insert.InProbe) : Volatile.Read(ref _entries.AtOrSentinel(cursor).NextIn);
        PrefetchEntry(next);
        return next;
    }

    /// <summary>The writer lock, for a batch of <see cref="AddLocked"/> calls under one acquisition.</summary>
    public Lock WriterLock => _writeLock;

    /// <summary>Adds one connection (see <see cref="AddLocked"/>).</summary>
    public AddConnectionResult Add(ref ConnectionInsert<TAddress> insert, out int index, out uint generation)
    {
        Prepare(ref insert);
        if (_observer is null)
        {
            int none = 0;
            lock (_writeLock)
            {
                return AddLocked(in insert, out index, out generation, default, ref none);
            }
        }

        return AddAndReport(in insert, out index, out generation);
    }

    /// <summary><see cref="Add"/> with an observer: an entry dropped to make room is reported once the lock is released.</summary>
    private AddConnectionResult AddAndReport(in ConnectionInsert<TAddress> insert, out int index, out uint generation)
    {
        Span<ConnectionEnd> ends = stackalloc ConnectionEnd[1];
        int count = 0;
        AddConnectionResult result;
        lock (_writeLock)
        {
            result = AddLocked(in insert, out index, out generation, ends, ref count);
        }

        Report(ends[..count]);
        return result;
    }

    /// <summary>
    /// Adds a prepared connection or template under the writer lock, unless one with the same inbound key is live
    /// (then returns it); sheds an entry when full (see <see cref="TryShedLocked"/>). With an observer, the shed entry
    /// is described in <paramref name="ends"/> at <paramref name="endCount"/> (which it advances), for the caller to
    /// report after releasing the lock; <paramref name="ends"/> is empty without one.
    /// </summary>
    public AddConnectionResult AddLocked(in ConnectionInsert<TAddress> insert, out int index, out uint generation, Span<ConnectionEnd> ends, ref int endCount)
    {
        uint now = _table.CurrentTick;
        bool template = insert.Template;
        int control = insert.Control;
        if (TryFindInbound(insert.InProbe, insert.Protocol, insert.Client, insert.ClientPort, insert.Virtual, insert.VirtualPort, template, out index, out uint existing))
        {
            generation = GenerationOf(ref _entries[index], existing);
            return AddConnectionResult.Exists;
        }

        if (control >= 0 && (!TryReadWord(control, insert.ControlGeneration, out _) || (_entries[control].Meta & TemplateMeta) == 0))
        {
            generation = 0;
            return AddConnectionResult.Invalid;
        }

        if (_freeHead < 0 && !TryShedLocked(now, ends, ref endCount))
        {
            _refused++;
            index = -1;
            generation = 0;
            return AddConnectionResult.Full;
        }

        int i = _freeHead;
        ref var e = ref _entries[i];
        ref var r = ref _routes[i];
        _freeHead = e.NextIn;

        // The next insert's slot: free slots are scattered once connections have come and gone.
        PrefetchEntry(_freeHead);
        if ((uint)_freeHead < (uint)_routes.Length)
        {
            MemoryPrefetch.Line(ref _routes[_freeHead]);
        }

        // The slot's next generation: never 0, never a repeat (a slot is retired at the last one, see RemoveLocked).
        generation = GenerationOf(ref e, e.Word) + 1;
        e.Era = (byte)(generation >> 24);

        e.Client = insert.Client;
        e.ClientPort = insert.ClientPort;
        e.Virtual = insert.Virtual;
        e.VirtualPort = insert.VirtualPort;
        r.Destination = insert.Destination;
        r.DestinationPort = insert.DestinationPort;
        r.Local = insert.Local;
        r.LocalPort = insert.LocalPort;
        e.Protocol = insert.Protocol;
        e.RealServer = (ushort)insert.RealServer;
        bool outbound = insert.OutBucket >= 0;
        e.Meta = (uint)insert.Method | (template ? TemplateMeta : 0) | (outbound ? OutboundMeta : 0)
            | (control >= 0 ? (uint)(control + 1) << AuxShift : 0);
        e.Expiry = now + ExpiryRounding + insert.TimeoutTicks;
        // A template has no outbound link: the field holds its timeout (readers tolerate it, see TryFindInbound).
        r.NextOut = template ? (int)insert.TimeoutTicks : -1;

        // Connections start inactive (the kernel's ip_vs_bind_dest with IP_VS_CONN_F_INACTIVE from the dest's
        // conn_flags); direct routing and tunnelling see no replies (IP_VS_CONN_F_NOOUTPUT).
        bool noOutput = insert.Method is ForwardingMethod.DirectRouting or ForwardingMethod.Tunnel;
        uint word = (generation << GenerationShift) | LiveBit | (noOutput && !template ? NoOutputBit : 0);

        // With the first packet processed (NewConnection.FirstPacket), the connection starts in the state it led to,
        // counted active or inactive accordingly (the kernel's set_tcp_state right after ip_vs_bind_dest).
        bool active = insert.Seen && insert.Protocol == (byte)L4Protocol.Tcp && TcpStateMachine.IsActive((TcpConnectionState)insert.State);
        word |= (insert.Seen ? SeenBit | insert.State : 0) | (active ? 0 : InactiveBit);

        var server = _table.Registry[insert.RealServer];
        if (template)
        {
            server.AddPersistentConnection();
        }
        else
        {
            server.AddConnection(active);
        }

        if (control >= 0)
        {
            ref var t = ref _entries[control];
            _ = Interlocked.Add(ref t.Meta, AuxUnit);
            if (insert.Seen && insert.Protocol == (byte)L4Protocol.Tcp && insert.State == (byte)TcpConnectionState.Established)
            {
                Assure(control);
            }

            // A template is refreshed by every connection it places (the kernel's ct->timeout = svc->timeout).
            Volatile.Write(ref t.Expiry, Math.Max(t.Expiry, now + ExpiryRounding + (uint)_routes[control].NextOut));
        }

        // Publish: key fields before the word (release), the word before the links: an empty cell of the bucket if
        // there is one, else the head of its overflow chain.
        Volatile.Write(ref e.Word, word);
        ref var line = ref _inLines[insert.InProbe >> ProbeTagBits];
        uint empty = line.CellsEqual(0, _cells);
        if (empty != 0)
        {
            e.NextIn = -1;
            Volatile.Write(ref line[BitOperations.TrailingZeroCount(empty)], InboundBucket.Cell((uint)insert.InProbe & ProbeTagMask, i));
        }
        else
        {
            e.NextIn = InboundBucket.IndexOf(line[InboundBucket.OverflowCell]);
            Volatile.Write(ref line[InboundBucket.OverflowCell], InboundBucket.Cell(0, i));
        }

        if (outbound)
        {
            r.NextOut = _outHeads[insert.OutBucket];
            Volatile.Write(ref _outHeads[insert.OutBucket], i);
        }

        FileLocked(i, e.Expiry);
        _count++;
        index = i;
        return AddConnectionResult.Added;
    }

    // ---------------------------------------------------------------- removal

    public bool Remove(int index, uint generation, bool force, ConnectionEndReason reason)
    {
        if ((uint)index >= (uint)_entries.Length)
        {
            return false;
        }

        if (_observer is null)
        {
            lock (_writeLock)
            {
                return RemoveLocked(index, generation, force);
            }
        }

        return RemoveAndReport(index, generation, force, reason);
    }

    /// <summary><see cref="Remove"/> with an observer: the entry is described under the lock and reported after it.</summary>
    private bool RemoveAndReport(int index, uint generation, bool force, ConnectionEndReason reason)
    {
        ConnectionEnd end = default;
        bool removed;
        lock (_writeLock)
        {
            removed = RemoveLocked(index, generation, force);
            if (removed)
            {
                end = DescribeEnd(index, reason);
            }
        }

        if (removed)
        {
            _observer!.OnConnectionEnded(in end);
        }

        return removed;
    }

    /// <summary>
    /// What a just-removed entry was, for the observer; called under the writer lock right after the removal, while the
    /// slot (now free) still holds the entry and its controlling template is still live.
    /// </summary>
    private ConnectionEnd DescribeEnd(int index, ConnectionEndReason reason)
    {
        ref var e = ref _entries[index];
        ref var r = ref _routes[index];
        uint w = Volatile.Read(ref e.Word);
        bool isTemplate = (e.Meta & TemplateMeta) != 0;
        var method = (ForwardingMethod)(e.Meta & MethodMask);
        var template = ConnectionHandle.None;
        int control = isTemplate ? -1 : (int)(e.Meta >> AuxShift) - 1;
        if (control >= 0)
        {
            template = HandleOf(control, GenerationOf(ref _entries[control], Volatile.Read(ref _entries[control].Word)));
        }

        return new ConnectionEnd(
            HandleOf(index, GenerationOf(ref e, w)),
            (L4Protocol)e.Protocol,
            new InetEndpoint(TAddress.ToIpAddress(e.Client), e.ClientPort),
            new InetEndpoint(TAddress.ToIpAddress(e.Virtual), e.VirtualPort),
            new InetEndpoint(TAddress.ToIpAddress(r.Destination), r.DestinationPort),
            method == ForwardingMethod.FullNat ? new InetEndpoint(TAddress.ToIpAddress(r.Local), r.LocalPort) : default,
            e.RealServer,
            method,
            isTemplate,
            template,
            (byte)(w & StateMask),
            reason);
    }

    /// <summary>Reports ends collected under the writer lock, after its release.</summary>
    private void Report(ReadOnlySpan<ConnectionEnd> ends)
    {
        foreach (ref readonly var end in ends)
        {
            _observer!.OnConnectionEnded(in end);
        }
    }

    /// <summary>The handle of the entry at <paramref name="index"/> with <paramref name="generation"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ConnectionHandle HandleOf(int index, uint generation) => new(_handleOwner, index, generation);

    /// <summary>The handle of the entry at <paramref name="index"/> whose word a lookup read (the generation's high bits are in the same line).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ConnectionHandle HandleFrom(int index, uint word) => new(_handleOwner, index, GenerationOf(ref _entries[index], word));

    /// <summary>The 32-bit generation of an entry whose word is <paramref name="word"/>: the word's 24 bits and the era's 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint GenerationOf(ref ConnectionEntry<TAddress> e, uint word) => (word >> GenerationShift) | ((uint)e.Era << 24);

    /// <summary>Slots retired because their generations ran out (see <see cref="ConnectionHandle"/>).</summary>
    public int Retired => Volatile.Read(ref _retired);

    /// <summary>For tests: sets a free slot's generation (as if it had had that many occupants).</summary>
    internal void SetFreeSlotGeneration(int index, uint generation)
    {
        lock (_writeLock)
        {
            ref var e = ref _entries[index];
            if ((e.Word & LiveBit) != 0)
            {
                throw new InvalidOperationException("The slot is in use.");
            }

            e.Word = (e.Word & ~GenerationMask) | (generation << GenerationShift);
            e.Era = (byte)(generation >> 24);
        }
    }

    /// <summary>Removes every connection of a real server, then its templates that no longer control any (two passes over the slab).</summary>
    public int RemoveAllOf(int realServer)
    {
        int removed = 0;
        foreach (bool templates in (ReadOnlySpan<bool>)[false, true])
        {
            for (int i = 0; i < _entries.Length; i++)
            {
                ref var e = ref _entries[i];
                uint w = Volatile.Read(ref e.Word);
                if ((w & LiveBit) != 0 && e.RealServer == realServer && ((e.Meta & TemplateMeta) != 0) == templates
                    && Remove(i, GenerationOf(ref e, w), force: false, ConnectionEndReason.ServerRemoved))
                {
                    removed++;
                }
            }
        }

        return removed;
    }

    /// <summary>Marks a template invalid (the kernel's <c>ip_vs_check_template</c> rehash to port 0xffff): it is no longer found, and expires normally.</summary>
    public void Invalidate(int index, uint generation)
    {
        ref var e = ref _entries[index];
        while (true)
        {
            uint w = Volatile.Read(ref e.Word);
            if ((w & LiveBit) == 0 || GenerationOf(ref e, w) != generation
                || Interlocked.CompareExchange(ref e.Word, w | InvalidBit, w) == w)
            {
                return;
            }
        }
    }

    private bool RemoveLocked(int index, uint generation, bool force)
    {
        ref var e = ref _entries[index];
        uint w;
        while (true)
        {
            w = Volatile.Read(ref e.Word);
            if ((w & LiveBit) == 0 || GenerationOf(ref e, w) != generation)
            {
                return false;
            }

            bool isTemplate = (e.Meta & TemplateMeta) != 0;
            if (isTemplate && !force && (Volatile.Read(ref e.Meta) >> AuxShift) != 0)
            {
                // A template that still controls connections stays (the kernel's n_control check).
                return false;
            }

            if (Interlocked.CompareExchange(ref e.Word, w & ~LiveBit, w) == w)
            {
                break;
            }
        }

        UnlinkInbound(ProbeOf(InboundHash(ref e)), index);
        ref var r = ref _routes[index];
        if ((e.Meta & OutboundMeta) != 0)
        {
            int outBucket = OutboundBucket(ref e, ref r);
            Unlink(ref _outHeads[outBucket], ref _outVersions[outBucket & _stripeMask], index, outbound: true);
        }

        if (r.WheelPrev != NotFiled)
        {
            UnfileLocked(index);
        }

        var server = _table.Registry[e.RealServer];
        if ((e.Meta & TemplateMeta) != 0)
        {
            server.RemovePersistentConnection();
        }
        else
        {
            server.RemoveConnection(active: (w & InactiveBit) == 0);
            int control = (int)(e.Meta >> AuxShift) - 1;
            if (control >= 0)
            {
                _ = Interlocked.Add(ref _entries[control].Meta, unchecked(0u - AuxUnit));
            }
        }

        r.NextOut = -1;
        if (generation == ConnectionHandle.MaxGeneration)
        {
            // Its generations are used up: reusing it could let a handle of an ended connection match a new one.
            _retired++;
        }
        else
        {
            e.NextIn = _freeHead;
            _freeHead = index;
        }

        _count--;
        return true;
    }

    private void UnlinkInbound(int probe, int index)
    {
        int bucket = probe >> ProbeTagBits;
        ref var line = ref _inLines[bucket];
        ref int version = ref _inVersions[bucket & _stripeMask];
        uint at = line.CellsEqual(InboundBucket.Cell((uint)probe & ProbeTagMask, index), _cells);
        if (at != 0)
        {
            Volatile.Write(ref line[BitOperations.TrailingZeroCount(at)], 0);

            // Bump before the slot can be reused, so a reader that passed through it looks again (see remarks).
            _ = Interlocked.Increment(ref version);
            return;
        }

        ref uint head = ref line[InboundBucket.OverflowCell];
        int first = InboundBucket.IndexOf(head);
        if (first == index)
        {
            Volatile.Write(ref head, InboundBucket.Cell(0, _entries[index].NextIn));
            _ = Interlocked.Increment(ref version);
            return;
        }

        if ((uint)first < (uint)_entries.Length)
        {
            Unlink(ref _entries[first].NextIn, ref version, index, outbound: false);
        }
    }

    private void Unlink(ref int link, ref int version, int index, bool outbound)
    {
        int steps = 0;
        while (link >= 0 && steps++ < _entries.Length)
        {
            if (link == index)
            {
                Volatile.Write(ref link, outbound ? _routes[index].NextOut : _entries[index].NextIn);

                // Bump before the slot can be reused, so a reader that passed through it walks again (see remarks).
                _ = Interlocked.Increment(ref version);
                return;
            }

            link = ref outbound ? ref _routes[link].NextOut : ref _entries[link].NextIn;
        }
    }

    // ---------------------------------------------------------------- timer wheel

    private void FileLocked(int index, uint expiry)
    {
        uint tick = expiry;
        uint earliest = _lastTick + 1;
        uint latest = _lastTick + WheelSize;
        if ((int)(tick - earliest) < 0)
        {
            tick = earliest;
        }
        else if ((int)(tick - latest) > 0)
        {
            tick = latest;
        }

        int slot = (int)(tick & (WheelSize - 1));
        ref var r = ref _routes[index];
        int head = _wheel[slot];
        r.WheelNext = head;
        r.WheelPrev = -1 - slot;
        if (head >= 0)
        {
            _routes[head].WheelPrev = index;
        }

        _wheel[slot] = index;
    }

    private void UnfileLocked(int index)
    {
        ref var r = ref _routes[index];
        int prev = r.WheelPrev;
        int next = r.WheelNext;
        if (prev >= 0)
        {
            _routes[prev].WheelNext = next;
        }
        else
        {
            _wheel[-1 - prev] = next;
        }

        if (next >= 0)
        {
            _routes[next].WheelPrev = prev;
        }

        r.WheelPrev = NotFiled;
        r.WheelNext = -1;
    }

    private void RefileLocked(int index, uint generation)
    {
        if (TryReadWord(index, generation, out _) && _routes[index].WheelPrev != NotFiled)
        {
            UnfileLocked(index);
            FileLocked(index, Volatile.Read(ref _entries[index].Expiry));
        }
    }

    /// <summary>Processes every wheel slot up to <paramref name="now"/>: expires what is due and re-files what was refreshed.</summary>
    public int ExpireUntil(uint now)
    {
        int expired = 0;

        // With an observer, the ends of each lock hold are described here and reported after the release.
        Span<ConnectionEnd> ends = _observer is null ? default : stackalloc ConnectionEnd[ObservedHousekeepingBatch];
        int endCount = 0;
        while (true)
        {
            Report(ends[..endCount]);
            endCount = 0;
            lock (_writeLock)
            {
                if ((int)(now - _lastTick) <= 0)
                {
                    return expired;
                }

                // Timeout changes start flood defence's window promptly, and the log it has read can be collected.
                _idleTimeouts.CatchUp(now);

                // Timeouts shortened since the last pass go to their earlier slots first, so that none is passed over.
                while (_refiles.TryDequeue(out int refile, out uint refileGeneration))
                {
                    RefileLocked(refile, refileGeneration);
                }

                uint tick = _lastTick + 1;
                int slot = (int)(tick & (WheelSize - 1));
                int budget = _observer is null ? HousekeepingBatch : ObservedHousekeepingBatch;
                while (_wheel[slot] >= 0 && budget-- > 0)
                {
                    int i = _wheel[slot];
                    ref var e = ref _entries[i];
                    UnfileLocked(i);
                    uint expiry = Volatile.Read(ref e.Expiry);
                    if ((int)(expiry - tick) > 0)
                    {
                        FileLocked(i, expiry);
                        continue;
                    }

                    uint w = Volatile.Read(ref e.Word);
                    if ((e.Meta & TemplateMeta) != 0 && (Volatile.Read(ref e.Meta) >> AuxShift) != 0)
                    {
                        // The kernel's expire_later also makes 60 s the template's timeout from then on (cp->timeout =
                        // 60*HZ), so each connection it places afterwards re-arms it with 60 s, not the persistence timeout.
                        uint rearmed = now + ExpiryRounding + TemplateGraceTicks;
                        _routes[i].NextOut = (int)TemplateGraceTicks;
                        Volatile.Write(ref e.Expiry, rearmed);
                        FileLocked(i, rearmed);
                        continue;
                    }

                    if (RemoveLocked(i, GenerationOf(ref e, w), force: true))
                    {
                        expired++;
                        _expired++;
                        if (endCount < ends.Length)
                        {
                            ends[endCount++] = DescribeEnd(i, ConnectionEndReason.Expired);
                        }
                    }
                }

                if (_wheel[slot] < 0)
                {
                    _lastTick = tick;
                }
            }
        }
    }

    // ---------------------------------------------------------------- flood defence

    /// <summary>
    /// Frees one slot when the table is full, like the kernel's <c>ip_vs_random_dropentry</c>: random probes look for
    /// a half-open TCP entry (SYN_RECV, SYNACK, SYN_SENT, NONE) first, else an entry idle for at least 60 s that is
    /// not a template. Established connections in use are never shed.
    /// </summary>
    private bool TryShedLocked(uint now, Span<ConnectionEnd> ends, ref int endCount)
    {
        int idle = -1;
        uint idleWord = 0;
        for (int probe = 0; probe < ShedProbes; probe++)
        {
            _random ^= _random << 13;
            _random ^= _random >> 7;
            _random ^= _random << 17;
            int i = (int)((_random >> 11) % (ulong)_entries.Length);
            ref var e = ref _entries[i];
            uint w = Volatile.Read(ref e.Word);
            if ((w & LiveBit) == 0)
            {
                continue;
            }

            if ((e.Meta & TemplateMeta) != 0)
            {
                // ip_vs_random_dropentry: a template that controls no connection and was never assured (a SYN flood on a
                // persistent service leaves one per spoofed source) goes at once; other templates stay.
                if ((w & AssuredBit) == 0 && (Volatile.Read(ref e.Meta) >> AuxShift) == 0
                    && RemoveLocked(i, GenerationOf(ref e, w), force: false))
                {
                    RecordShed(i, ends, ref endCount);
                    return true;
                }

                continue;
            }

            uint state = w & StateMask;
            if (e.Protocol == (byte)L4Protocol.Tcp && TcpStateMachine.IsHalfOpen((TcpConnectionState)state))
            {
                if (RemoveLocked(i, GenerationOf(ref e, w), force: false))
                {
                    RecordShed(i, ends, ref endCount);
                    return true;
                }

                continue;
            }

            // Idle means the last packet came at least 60 s ago: the entry's expiry minus the timeout that packet set
            // (or, after a timeout change, one no longer; see IdleTimeoutFloor). Before its first packet an entry runs
            // on the 3-second initial timeout and is never idle (the kernel's todrop_entry compares against
            // cp->timeout, which is that initial timeout until the first state change).
            if (idle < 0 && (w & SeenBit) != 0)
            {
                uint lastSeen = Volatile.Read(ref e.Expiry) - ExpiryRounding - (uint)_idleTimeouts.For((L4Protocol)e.Protocol, (int)state, now);
                if ((int)(now - lastSeen) >= (int)IdleSheddingTicks)
                {
                    idle = i;
                    idleWord = w;
                }
            }
        }

        if (idle >= 0 && RemoveLocked(idle, GenerationOf(ref _entries[idle], idleWord), force: false))
        {
            RecordShed(idle, ends, ref endCount);
            return true;
        }

        return false;
    }

    private void RecordShed(int index, Span<ConnectionEnd> ends, ref int endCount)
    {
        _shed++;
        if (endCount < ends.Length)
        {
            ends[endCount++] = DescribeEnd(index, ConnectionEndReason.Dropped);
        }
    }

    // ---------------------------------------------------------------- helpers

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong InboundHash(ref ConnectionEntry<TAddress> e) =>
        FlowHashKey<TAddress>.Hash(
            (e.Meta & TemplateMeta) != 0 ? FlowHashKey<TAddress>.TemplateKind : FlowHashKey<TAddress>.InboundKind,
            e.Protocol,
            e.Client,
            e.ClientPort,
            e.Virtual,
            e.VirtualPort,
            _secret);

    private int OutboundBucket(ref ConnectionEntry<TAddress> e, ref ConnectionRoute<TAddress> r)
    {
        bool fullNat = (ForwardingMethod)(e.Meta & MethodMask) == ForwardingMethod.FullNat;
        return OutboundBucket(e.Protocol, r.Destination, r.DestinationPort, fullNat ? r.Local : e.Client, fullNat ? r.LocalPort : e.ClientPort);
    }

    /// <summary>An inbound probe: the bucket from the hash's high half (see <see cref="BucketOf"/>), the tag from bits 24-31 of its low half, never 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int ProbeOf(ulong hash)
    {
        uint tag = (uint)(hash >> 24) & ProbeTagMask;
        tag += (tag - 1) >> 31;
        return (BucketOf(hash, _inLineCount) << ProbeTagBits) | (int)tag;
    }

    /// <summary>Maps a hash to one of <paramref name="buckets"/> with a multiply (Lemire's fast range reduction) rather than a modulo, so a bucket count need not be a power of two.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BucketOf(ulong hash, uint buckets) => (int)(((hash >> 32) * buckets) >> 32);

    private static int[] NewFilled(int length)
    {
        var array = HugePages.AllocatePinned<int>(length);
        Array.Fill(array, -1);
        return array;
    }

    public bool IsIPv6 => _isIPv6;
}
