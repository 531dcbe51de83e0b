using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lvs.Core;

/// <summary>
/// The live load of a list of real servers in one contiguous array, so that a least-load scheduler scans 16 bytes a
/// server in list order instead of visiting a heap object per server: the connection counters, the weight and the
/// flags that decide whether a server may be scheduled.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Attach"/> moves each server's counters into the block; from then on <see cref="RealServer.AddConnection"/>
/// and the other counter operations update the block's slot (with interlocked operations, as before) and the weight,
/// overload and availability setters keep the slot's <see cref="StateOffset"/> word current. A server lives in one
/// block at a time: attaching it to another block moves its counts there exactly (an update that raced with the move
/// forwards what it wrote), and the block it left stops being <see cref="IsIntact"/>.
/// </para>
/// <para>
/// The counters are kept per packet thread: the block holds <see cref="Planes"/> copies of its slots, each in cache
/// lines of its own, and a counter update writes the plane of the calling thread's <see cref="PacketThread.Current"/>
/// (modulo <see cref="Planes"/>). Readers sum the planes. When two packet threads created connections at once, the
/// shared counter lines moving between their cores held them back; the kernel keeps these counters as atomics in
/// <c>ip_vs_dest</c>, shared the same way, so this is a deliberate deviation in layout only: every count stays exact.
/// A connection counted on one plane and uncounted on another can leave a plane negative; the sum is exact once the
/// updates have ended, but a sum read while they run can be transiently negative (the server's public counts clamp
/// it at 0). The sums wrap as the planes' interlocked operations do, so a plane that wrapped still sums exactly.
/// </para>
/// <para>
/// <see cref="Slots"/> exposes plane 0's layout: <see cref="SlotLength"/> integers a server, padded with empty slots
/// (weight 0, no connections) to a multiple of <see cref="CountGranularity"/> servers so that vector scans need no
/// tail. Plane 0 holds the state words and, when <see cref="Planes"/> is 1, the whole counts;
/// <see cref="CopySummedSlots(Span{int})"/> writes the same layout with every count summed over the planes.
/// Reads are not a consistent snapshot of several servers (neither are the kernel's); each integer is exact.
/// </para>
/// </remarks>
public sealed class RealServerLoadBlock
{
    /// <summary>Integers per server slot (16 bytes).</summary>
    public const int SlotLength = 4;

    /// <summary>Offset in a slot of the active connection count.</summary>
    public const int ActiveOffset = 0;

    /// <summary>Offset in a slot of the inactive connection count.</summary>
    public const int InactiveOffset = 1;

    /// <summary>Offset in a slot of the persistence template count.</summary>
    public const int PersistentOffset = 2;

    /// <summary>
    /// Offset in a slot of the state word: the weight (<see cref="WeightMask"/>) with <see cref="OverloadedFlag"/> and
    /// <see cref="UnavailableFlag"/> above it, so that the server is schedulable exactly when the word is between 1 and
    /// <see cref="RealServer.MaxWeight"/>.
    /// </summary>
    public const int StateOffset = 3;

    /// <summary>The weight bits of the state word.</summary>
    public const int WeightMask = 0xFFFF;

    /// <summary>Set in the state word while the server is overloaded (<see cref="RealServer.IsOverloaded"/>).</summary>
    public const int OverloadedFlag = 0x1_0000;

    /// <summary>Set in the state word while the server is not available (<see cref="RealServer.IsAvailable"/> false).</summary>
    public const int UnavailableFlag = 0x2_0000;

    /// <summary>The slot count is padded to a multiple of this many servers.</summary>
    public const int CountGranularity = 8;

    /// <summary>Integers before a view's header and between it and the view's slots: a cache line.</summary>
    private const int ViewPadding = 64 / sizeof(int);

    /// <summary>Index in a view of the state version it was refreshed at.</summary>
    private const int ViewVersion = ViewPadding;

    /// <summary>Index in a view of the picks left before its next refresh.</summary>
    private const int ViewPicksLeft = ViewPadding + 1;

    /// <summary>Index in a view of its first slot: the header has a cache line of its own.</summary>
    private const int ViewSlots = 2 * ViewPadding;

    private readonly RealServerLoadSlot[] _slots;
    private readonly RealServer[] _servers;
    private readonly int _paddedCount;
    private readonly int[]?[] _views;
    private int _abandoned;
    private int _stateVersion;

    private RealServerLoadBlock(RealServer[] servers)
    {
        _servers = servers;
        _paddedCount = (servers.Length + CountGranularity - 1) & -CountGranularity;
        _slots = RealServerLoadSlot.NewArray(_paddedCount);
        _views = new int[Planes][];
    }

    /// <summary>
    /// The number of counter planes of every server's slots, in blocks and out of them (see the remarks):
    /// <see cref="PacketThread.Planes"/>. A packet thread writes plane <see cref="PacketThread.Current"/> &amp; (Planes - 1).
    /// </summary>
    public static int Planes => PacketThread.Planes;

    /// <summary>The number of servers (slots beyond it are padding).</summary>
    public int Count => _servers.Length;

    /// <summary>
    /// True while every server of the block still keeps its counters here; false once one of them was attached to
    /// another block, after which the block's figures for it are stale and a scan must read the servers instead.
    /// </summary>
    public bool IsIntact => Volatile.Read(ref _abandoned) == 0;

    /// <summary>
    /// Plane 0's slots, <see cref="SlotLength"/> integers a server in list order, padded (see the remarks): the state
    /// words, but only plane 0's share of the counts unless <see cref="Planes"/> is 1. <see cref="CopySummedSlots(Span{int})"/>
    /// gives the counts.
    /// </summary>
    public ReadOnlySpan<int> Slots => MemoryMarshal.Cast<RealServerLoadSlot, int>(_slots.AsSpan(RealServerLoadSlot.Padding, _paddedCount));

    /// <summary>The length of <see cref="Slots"/>, and of what <see cref="CopySummedSlots(Span{int})"/> writes: <see cref="SlotLength"/> integers per slot, padding included.</summary>
    public int SlotsLength => _paddedCount * SlotLength;

    /// <summary>
    /// Writes the slots with every count summed over the <see cref="Planes"/> (the layout of <see cref="Slots"/>, the
    /// state words from plane 0): the live load a scan reads. Allocates nothing.
    /// </summary>
    /// <param name="destination">At least <see cref="SlotsLength"/> integers; the first <see cref="SlotsLength"/> are written.</param>
    /// <exception cref="ArgumentException">The destination is shorter than <see cref="SlotsLength"/>.</exception>
    /// <remarks>
    /// Each integer is read once from each plane; as with the counts of one server, a sum read while updates run can
    /// be off by the updates in flight, transiently negative included (see the remarks of the class).
    /// </remarks>
    public void CopySummedSlots(Span<int> destination)
    {
        CheckDestination(destination);
        SumPlanes(ref MemoryMarshal.GetReference(destination), skippedPlane: -1);
    }

    /// <summary>
    /// Writes the slots as <see cref="CopySummedSlots(Span{int})"/> does, but with the counts of the planes other than
    /// the calling packet thread's (<see cref="PacketThread.Current"/>) as they were at this plane's last refresh of its
    /// view of them, refreshed every <paramref name="refreshPicks"/> calls from the plane and whenever a state word
    /// changed since: the thread's own counts and every weight and flag are read live, and no call but a refresh reads
    /// the cache lines the other packet threads write. With <paramref name="refreshPicks"/> 0 or one plane it is
    /// <see cref="CopySummedSlots(Span{int})"/>.
    /// </summary>
    /// <param name="destination">At least <see cref="SlotsLength"/> integers; the first <see cref="SlotsLength"/> are written.</param>
    /// <param name="refreshPicks">How many calls from one plane a view serves before it is read again (0: no view).</param>
    /// <exception cref="ArgumentException">The destination is shorter than <see cref="SlotsLength"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="refreshPicks"/> is negative.</exception>
    /// <remarks>
    /// <para>
    /// Two packet threads that create connections at once otherwise each read, on every pick, the counter lines the
    /// other just wrote, and then write their own line after the other read it: two cache-line transfers between their
    /// cores per pick, which is what kept lc, wlc, sed and nq from scaling on two threads (docs/benchmarks.md). With a
    /// view, a count the other planes changed reaches this plane's picks up to <paramref name="refreshPicks"/> picks
    /// later. A change of a weight or flag (<see cref="RealServer.Weight"/>, overload, availability) counts from the
    /// next call: the setter writes the state word and then bumps the block's state version, which every call reads (a
    /// line written only by such changes).
    /// </para>
    /// <para>
    /// A plane's view is allocated by its first call (once per block and plane). Threads of one packet thread number
    /// share their plane's view: a refresh racing with another call can leave that call reading some counts from
    /// before the refresh and some after, each exact at its time, as the planes' sums themselves can be.
    /// </para>
    /// </remarks>
    public void CopySummedSlots(Span<int> destination, int refreshPicks)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(refreshPicks);
        if (refreshPicks == 0 || Planes == 1)
        {
            CopySummedSlots(destination);
            return;
        }

        CheckDestination(destination);
        int length = SlotsLength;
        int plane = PacketThread.Current & (Planes - 1);
        var view = _views[plane] ?? CreateView(plane);
        int version = Volatile.Read(ref _stateVersion);
        if (--view[ViewPicksLeft] < 0 || Volatile.Read(ref view[ViewVersion]) != version)
        {
            Refresh(view, plane, version, refreshPicks);
        }

        ref int target = ref MemoryMarshal.GetReference(destination);
        ref int own = ref Unsafe.Add(ref Unsafe.As<RealServerLoadSlot, int>(ref _slots[RealServerLoadSlot.Padding]), (nuint)plane * (nuint)(RealServerLoadSlot.PlaneStride(_paddedCount) * SlotLength));
        ref int others = ref view[ViewSlots];
        nuint offset = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; offset < (nuint)length; offset += (nuint)Vector<int>.Count)
            {
                (Vector.LoadUnsafe(ref own, offset) + Vector.LoadUnsafe(ref others, offset)).StoreUnsafe(ref target, offset);
            }

            return;
        }

        for (; offset < (nuint)length; offset++)
        {
            Unsafe.Add(ref target, offset) = unchecked(Unsafe.Add(ref own, offset) + Unsafe.Add(ref others, offset));
        }
    }

    /// <summary>The server of slot <paramref name="index"/>.</summary>
    /// <param name="index">The slot, below <see cref="Count"/>.</param>
    /// <returns>The server.</returns>
    public RealServer this[int index] => _servers[index];

    /// <summary>
    /// Returns a block holding the live load of <paramref name="servers"/> in this order: the block they are all in
    /// already when it matches the list exactly and is intact, otherwise a new block to which they are moved.
    /// </summary>
    /// <param name="servers">The servers in list order.</param>
    /// <returns>The block.</returns>
    /// <exception cref="ArgumentNullException">The list or a server is null.</exception>
    /// <exception cref="ArgumentException">A server appears twice.</exception>
    /// <remarks>
    /// Not for the hot path: a new block allocates and moves every server. Moving a server abandons the block it was
    /// in (see <see cref="IsIntact"/>), so a server given to two scanning schedulers with different lists keeps its
    /// counters in the block of the last one.
    /// </remarks>
    public static RealServerLoadBlock Attach(IReadOnlyList<RealServer> servers)
    {
        ArgumentNullException.ThrowIfNull(servers);
        var copy = new RealServer[servers.Count];
        var seen = new HashSet<RealServer>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < copy.Length; i++)
        {
            var server = servers[i] ?? throw new ArgumentNullException(nameof(servers), "A server is null.");
            if (!seen.Add(server))
            {
                throw new ArgumentException($"The server {server.Endpoint} appears twice.", nameof(servers));
            }

            copy[i] = server;
        }

        if (copy.Length > 0 && copy[0].LoadLocation.Block is { } current && current.Matches(copy))
        {
            return current;
        }

        var block = new RealServerLoadBlock(copy);
        for (int i = 0; i < copy.Length; i++)
        {
            copy[i].MoveLoad(new RealServerLoadLocation(block, block._slots, RealServerLoadSlot.Padding + i));
        }

        return block;
    }

    /// <summary>Marks the block stale: one of its servers moved to another block.</summary>
    internal void Abandon() => Volatile.Write(ref _abandoned, 1);

    /// <summary>
    /// Tells the planes' views that a state word changed (called after the word was written): their next call refreshes
    /// (see <see cref="CopySummedSlots(Span{int}, int)"/>).
    /// </summary>
    internal void StateChanged() => Interlocked.Increment(ref _stateVersion);

    /// <exception cref="ArgumentException">The destination is shorter than <see cref="SlotsLength"/>.</exception>
    private void CheckDestination(Span<int> destination)
    {
        if (destination.Length < SlotsLength)
        {
            throw new ArgumentException($"The destination holds {destination.Length} integers, fewer than the {SlotsLength} slots.", nameof(destination));
        }
    }

    /// <summary>
    /// Writes <see cref="SlotsLength"/> integers from <paramref name="target"/>: every slot integer summed over the planes,
    /// leaving out <paramref name="skippedPlane"/> (-1: none). The sums wrap as the planes' interlocked operations do.
    /// </summary>
    private void SumPlanes(ref int target, int skippedPlane)
    {
        ref int first = ref Unsafe.As<RealServerLoadSlot, int>(ref _slots[RealServerLoadSlot.Padding]);
        nuint stride = (nuint)(RealServerLoadSlot.PlaneStride(_paddedCount) * SlotLength);
        int length = SlotsLength;
        int planes = Planes;
        nuint offset = 0;
        if (Vector.IsHardwareAccelerated)
        {
            // The length is a multiple of CountGranularity slots (32 integers), and so of any vector's: no tail.
            for (; offset < (nuint)length; offset += (nuint)Vector<int>.Count)
            {
                var sum = Vector<int>.Zero;
                for (int plane = 0; plane < planes; plane++)
                {
                    if (plane != skippedPlane)
                    {
                        sum += Vector.LoadUnsafe(ref first, offset + ((nuint)plane * stride));
                    }
                }

                sum.StoreUnsafe(ref target, offset);
            }

            return;
        }

        for (; offset < (nuint)length; offset++)
        {
            int sum = 0;
            for (int plane = 0; plane < planes; plane++)
            {
                if (plane != skippedPlane)
                {
                    sum = unchecked(sum + Unsafe.Add(ref first, offset + ((nuint)plane * stride)));
                }
            }

            Unsafe.Add(ref target, offset) = sum;
        }
    }

    /// <summary>Allocates plane <paramref name="plane"/>'s view, or returns the one another thread of the plane allocated first.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int[] CreateView(int plane)
    {
        // A cache line of padding on each side of the header and after the slots, so that what the plane's calls write
        // (the header, on every call) shares no line with another object. The version starts unmatched: the first call
        // refreshes.
        var view = new int[ViewSlots + SlotsLength + ViewPadding];
        view[ViewVersion] = Volatile.Read(ref _stateVersion) - 1;
        return Interlocked.CompareExchange(ref _views[plane], view, null) ?? view;
    }

    /// <summary>Sums the planes other than <paramref name="plane"/> into its view, state words included (plane 0's).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Refresh(int[] view, int plane, int version, int refreshPicks)
    {
        SumPlanes(ref view[ViewSlots], skippedPlane: plane);

        // This call is the first of the next refreshPicks; the version last, so that a thread of the plane that sees it
        // current finds the state words it was read for (a change since bumps the version again).
        view[ViewPicksLeft] = refreshPicks - 1;
        Volatile.Write(ref view[ViewVersion], version);
    }

    private bool Matches(RealServer[] servers)
    {
        if (servers.Length != _servers.Length || !IsIntact)
        {
            return false;
        }

        for (int i = 0; i < servers.Length; i++)
        {
            var location = servers[i].LoadLocation;
            if (location.Block != this || location.Index != RealServerLoadSlot.Padding + i)
            {
                return false;
            }
        }

        return true;
    }
}
