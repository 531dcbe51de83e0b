using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// The least-load scans of lc, wlc, sed, nq, ovf, lblc and lblcr over a <see cref="RealServerLoadBlock"/>: each returns
/// the index that the kernel's loop over the same servers returns (the first in list order on a tie), or
/// <see cref="None"/>.
/// </summary>
/// <remarks>
/// <para>
/// With AVX2 a scan reads eight slots (128 bytes) per step, transposes them into vectors of active counts, inactive
/// counts and state words, and keeps a running best per lane (with the lane's first index on a tie); the eight lane
/// winners are then compared exactly in scalar. Vector lanes are 32-bit, so the lc overhead (active x 256 + inactive)
/// is computed there only while every active count is below 2^22 and every inactive count below 2^30, and the
/// weighted comparisons run in double precision, where load x weight (below 2^31 x 2^16) is an exact integer. A scan
/// also accumulates whether any count left that range (or is negative); if one did, its result is discarded and the
/// scalar scan of the block runs instead. Without AVX2 the scalar scan runs directly.
/// </para>
/// <para>
/// The weighted scans first screen each step in single precision (load times the approximate reciprocal of the
/// weight, relative error below 2^-11) against each lane's least approximation so far plus a 2^-8 margin, and run the
/// exact comparison only for steps where some lane passes: a server that beats its lane's best exactly always passes.
/// </para>
/// <para>
/// The scalar scans restate the object scans of the schedulers over the block's integers, with 64-bit arithmetic,
/// reading a count below 0 as 0 as the server's counts do (a sum over the counter planes read while updates run can
/// be transiently negative, see <see cref="RealServerLoadBlock"/>).
/// </para>
/// <para>
/// A block keeps its counters in <see cref="RealServerLoadBlock.Planes"/> planes, one per packet thread: with more than
/// one, the scans of a block run over its summed slots (<see cref="RealServerLoadBlock.CopySummedSlots(Span{int})"/>), copied into
/// a buffer of the thread's, so a pick allocates nothing; with one plane they read the block directly. With
/// <see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/> the other planes' counts come from the calling plane's
/// view of them, read again every that many picks (<see cref="RealServerLoadBlock.CopySummedSlots(Span{int}, int)"/>).
/// </para>
/// </remarks>
internal static class LoadBlockScan
{
    /// <summary>No schedulable server.</summary>
    public const int None = -1;

    /// <summary>A vector scan met a count outside the range where its arithmetic is exact.</summary>
    internal const int OutOfRange = -2;

    private const int Slot = RealServerLoadBlock.SlotLength;
    private const int Step = RealServerLoadBlock.CountGranularity * Slot;

    /// <summary>
    /// Below this many servers the scalar scan is faster: a vector scan's fixed cost (comparing its eight lane winners)
    /// is worth one or two steps of eight servers.
    /// </summary>
    private const int VectorMinimum = 2 * RealServerLoadBlock.CountGranularity;

    /// <summary>The calling thread's buffer for a block's summed slots, grown when a larger block than any before on this thread is scanned.</summary>
    [ThreadStatic]
    private static int[]? t_sums;

    /// <summary>lc: the schedulable server with the least active x 256 + inactive.</summary>
    /// <param name="block">The block.</param>
    /// <param name="refreshPicks">The scheduler's <see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/> (0: every plane read live).</param>
    /// <returns>The server's index, or <see cref="None"/>.</returns>
    public static int LeastConnection(RealServerLoadBlock block, int refreshPicks = 0) =>
        LeastConnection(SummedSlots(block, refreshPicks), block.Count);

    /// <summary>wlc (lblc, lblcr): the schedulable server with the least (active x 256 + inactive) / weight.</summary>
    /// <param name="block">The block.</param>
    /// <param name="refreshPicks">The scheduler's <see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/> (0: every plane read live).</param>
    /// <returns>The server's index, or <see cref="None"/>.</returns>
    public static int WeightedLeastConnection(RealServerLoadBlock block, int refreshPicks = 0) =>
        WeightedLeastConnection(SummedSlots(block, refreshPicks), block.Count);

    /// <summary>sed, or nq with <paramref name="idleWins"/>: the schedulable server with the least (active + 1) / weight.</summary>
    /// <param name="block">The block.</param>
    /// <param name="idleWins">True for nq: the first schedulable server with no active connection wins at once.</param>
    /// <param name="refreshPicks">The scheduler's <see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/> (0: every plane read live).</param>
    /// <returns>The server's index, or <see cref="None"/>.</returns>
    public static int ShortestExpectedDelay(RealServerLoadBlock block, bool idleWins, int refreshPicks = 0) =>
        ShortestExpectedDelay(SummedSlots(block, refreshPicks), block.Count, idleWins);

    /// <summary>ovf: the first schedulable server of the highest weight whose active connections do not exceed it.</summary>
    /// <param name="block">The block.</param>
    /// <param name="refreshPicks">The scheduler's <see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/> (0: every plane read live).</param>
    /// <returns>The server's index, or <see cref="None"/>.</returns>
    public static int WeightedOverflow(RealServerLoadBlock block, int refreshPicks = 0) =>
        WeightedOverflow(SummedSlots(block, refreshPicks), block.Count);

    /// <summary>
    /// The second half of the kernel's lblc/lblcr <c>is_overloaded</c>: whether any server (schedulable or not) has
    /// fewer than half its weight in active connections.
    /// </summary>
    /// <param name="block">The block.</param>
    /// <param name="refreshPicks">The scheduler's <see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/> (0: every plane read live).</param>
    /// <returns>True when one has.</returns>
    public static bool AnyBelowHalfWeight(RealServerLoadBlock block, int refreshPicks = 0) =>
        AnyBelowHalfWeight(SummedSlots(block, refreshPicks), block.Count);

    /// <summary>lc over slots laid out as a block's (<see cref="RealServerLoadBlock.Slots"/>, padded).</summary>
    /// <param name="slots">The slots.</param>
    /// <param name="count">The number of servers.</param>
    /// <returns>The server's index, or <see cref="None"/>.</returns>
    internal static int LeastConnection(ReadOnlySpan<int> slots, int count)
    {
        int index = UsesVector(count) ? LeastConnectionVector(slots) : OutOfRange;
        return index != OutOfRange ? index : LeastConnectionScalar(slots, count);
    }

    /// <summary>wlc over slots laid out as a block's.</summary>
    /// <param name="slots">The slots.</param>
    /// <param name="count">The number of servers.</param>
    /// <returns>The server's index, or <see cref="None"/>.</returns>
    internal static int WeightedLeastConnection(ReadOnlySpan<int> slots, int count)
    {
        int index = UsesVector(count) ? WeightedLeastConnectionVector(slots) : OutOfRange;
        return index != OutOfRange ? index : WeightedScalar(slots, count, expectedDelay: false, idleWins: false);
    }

    /// <summary>sed or nq over slots laid out as a block's.</summary>
    /// <param name="slots">The slots.</param>
    /// <param name="count">The number of servers.</param>
    /// <param name="idleWins">True for nq.</param>
    /// <returns>The server's index, or <see cref="None"/>.</returns>
    internal static int ShortestExpectedDelay(ReadOnlySpan<int> slots, int count, bool idleWins)
    {
        int index = !UsesVector(count) ? OutOfRange : idleWins ? NeverQueueVector(slots) : ShortestExpectedDelayVector(slots);
        return index != OutOfRange ? index : WeightedScalar(slots, count, expectedDelay: true, idleWins);
    }

    /// <summary>ovf over slots laid out as a block's.</summary>
    /// <param name="slots">The slots.</param>
    /// <param name="count">The number of servers.</param>
    /// <returns>The server's index, or <see cref="None"/>.</returns>
    internal static int WeightedOverflow(ReadOnlySpan<int> slots, int count) =>
        UsesVector(count) ? WeightedOverflowVector(slots) : WeightedOverflowScalar(slots, count);

    /// <summary><see cref="AnyBelowHalfWeight(RealServerLoadBlock, int)"/> over slots laid out as a block's.</summary>
    /// <param name="slots">The slots.</param>
    /// <param name="count">The number of servers.</param>
    /// <returns>True when a server has fewer than half its weight in active connections.</returns>
    internal static bool AnyBelowHalfWeight(ReadOnlySpan<int> slots, int count) =>
        UsesVector(count) ? AnyBelowHalfWeightVector(slots) : AnyBelowHalfWeightScalar(slots, count);

    /// <summary>
    /// The slots a scan reads: the block's own with one counter plane, else its slots summed over the planes
    /// (<see cref="RealServerLoadBlock.CopySummedSlots(Span{int})"/>) into the thread's buffer, which allocates only when a block
    /// larger than any before on this thread is scanned.
    /// </summary>
    /// <param name="block">The block.</param>
    /// <param name="refreshPicks">
    /// 0 to sum every plane live; otherwise the other planes' counts come from the calling plane's view of them
    /// (<see cref="RealServerLoadBlock.CopySummedSlots(Span{int}, int)"/>).
    /// </param>
    /// <returns>The slots.</returns>
    private static ReadOnlySpan<int> SummedSlots(RealServerLoadBlock block, int refreshPicks)
    {
        if (RealServerLoadBlock.Planes == 1)
        {
            return block.Slots;
        }

        int length = block.SlotsLength;
        var sums = t_sums;
        if (sums is null || sums.Length < length)
        {
            sums = t_sums = new int[length];
        }

        var buffer = sums.AsSpan(0, length);
        block.CopySummedSlots(buffer, refreshPicks);
        return buffer;
    }

    /// <summary>
    /// Whether slots of <paramref name="count"/> servers are scanned with AVX2 first. The counted scans (lc, wlc, sed,
    /// nq) then fall back to the scalar scan when the vector one returns <see cref="OutOfRange"/>; ovf and the lblc
    /// overload test never need to.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool UsesVector(int count) => Avx2.IsSupported && count >= VectorMinimum;

    /// <summary>The scalar lc scan.</summary>
    /// <param name="slots">The block's slots.</param>
    /// <param name="count">The number of servers.</param>
    /// <returns>The server's index, or <see cref="None"/>.</returns>
    internal static int LeastConnectionScalar(ReadOnlySpan<int> slots, int count)
    {
        // Load first, state only for a server that would win, as the object scan: the same result with fewer reads.
        ref int slot = ref MemoryMarshal.GetReference(slots);
        count = Math.Min(count, slots.Length / Slot);
        int least = None;
        long leastOverhead = 0;
        for (int i = 0; i < count; i++, slot = ref Unsafe.Add(ref slot, Slot))
        {
            long overhead = ((long)Count(Unsafe.Add(ref slot, RealServerLoadBlock.ActiveOffset)) << 8) + Count(Unsafe.Add(ref slot, RealServerLoadBlock.InactiveOffset));
            if ((least == None || overhead < leastOverhead) && IsSchedulable(Unsafe.Add(ref slot, RealServerLoadBlock.StateOffset)))
            {
                least = i;
                leastOverhead = overhead;
            }
        }

        return least;
    }

    /// <summary>The scalar wlc, sed and nq scan (<see cref="WeightedLeastLoad"/> over the block).</summary>
    /// <param name="slots">The block's slots.</param>
    /// <param name="count">The number of servers.</param>
    /// <param name="expectedDelay">True for sed and nq (active + 1), false for wlc (the lc overhead).</param>
    /// <param name="idleWins">True for nq.</param>
    /// <returns>The server's index, or <see cref="None"/>.</returns>
    internal static int WeightedScalar(ReadOnlySpan<int> slots, int count, bool expectedDelay, bool idleWins)
    {
        ref int slot = ref MemoryMarshal.GetReference(slots);
        count = Math.Min(count, slots.Length / Slot);
        int least = None;
        long leastLoad = 0;
        long leastWeight = 0;
        for (int i = 0; i < count; i++, slot = ref Unsafe.Add(ref slot, Slot))
        {
            int weight = Unsafe.Add(ref slot, RealServerLoadBlock.StateOffset);
            if (!IsSchedulable(weight))
            {
                continue;
            }

            int active = Count(Unsafe.Add(ref slot, RealServerLoadBlock.ActiveOffset));
            if (idleWins && active == 0)
            {
                return i;
            }

            long load = expectedDelay ? (long)active + 1 : ((long)active << 8) + Count(Unsafe.Add(ref slot, RealServerLoadBlock.InactiveOffset));
            if (least == None || load * leastWeight < leastLoad * weight)
            {
                least = i;
                leastLoad = load;
                leastWeight = weight;
            }
        }

        return least;
    }

    /// <summary>The scalar ovf scan.</summary>
    /// <param name="slots">The block's slots.</param>
    /// <param name="count">The number of servers.</param>
    /// <returns>The server's index, or <see cref="None"/>.</returns>
    internal static int WeightedOverflowScalar(ReadOnlySpan<int> slots, int count)
    {
        ref int slot = ref MemoryMarshal.GetReference(slots);
        count = Math.Min(count, slots.Length / Slot);
        int highest = None;
        int highestWeight = 0;
        for (int i = 0; i < count; i++, slot = ref Unsafe.Add(ref slot, Slot))
        {
            int weight = Unsafe.Add(ref slot, RealServerLoadBlock.StateOffset);
            if (!IsSchedulable(weight) || weight <= highestWeight || Unsafe.Add(ref slot, RealServerLoadBlock.ActiveOffset) > weight)
            {
                continue;
            }

            highest = i;
            highestWeight = weight;
        }

        return highest;
    }

    /// <summary>The scalar <see cref="AnyBelowHalfWeight(RealServerLoadBlock, int)"/>.</summary>
    /// <param name="slots">The block's slots.</param>
    /// <param name="count">The number of servers.</param>
    /// <returns>True when a server has fewer than half its weight in active connections.</returns>
    internal static bool AnyBelowHalfWeightScalar(ReadOnlySpan<int> slots, int count)
    {
        for (int i = 0; i < count; i++)
        {
            var slot = slots.Slice(i * Slot, Slot);
            if ((long)Count(slot[RealServerLoadBlock.ActiveOffset]) * 2 < (slot[RealServerLoadBlock.StateOffset] & RealServerLoadBlock.WeightMask))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The AVX2 lc scan.</summary>
    /// <param name="slots">The block's slots (padded).</param>
    /// <returns>The server's index, <see cref="None"/>, or <see cref="OutOfRange"/>.</returns>
    internal static int LeastConnectionVector(ReadOnlySpan<int> slots)
    {
        ref int start = ref MemoryMarshal.GetReference(slots);
        var best = Vector256.Create(int.MaxValue);
        var bestIndex = Vector256.Create(None);
        var index = LaneSlots();
        var outOfRange = Vector256<int>.Zero;
        for (nuint offset = 0; offset < (nuint)slots.Length; offset += Step)
        {
            Transpose(ref start, offset, out var active, out var inactive, out var state);
            outOfRange |= OverheadOutOfRange(active, inactive);

            // Below 2^22 x 256 + 2^30 the overhead fits, and stays below int.MaxValue, so every schedulable lane
            // improves on the initial best.
            var overhead = (active << 8) + inactive;
            var better = Schedulable(state) & Vector256.LessThan(overhead, best);
            best = Avx2.BlendVariable(best, overhead, better);
            bestIndex = Avx2.BlendVariable(bestIndex, index, better);
            index += Vector256.Create(RealServerLoadBlock.CountGranularity);
        }

        if (outOfRange != Vector256<int>.Zero)
        {
            return OutOfRange;
        }

        int least = None;
        int leastOverhead = 0;
        for (int lane = 0; lane < Vector256<int>.Count; lane++)
        {
            int candidate = bestIndex.GetElement(lane);
            int overhead = best.GetElement(lane);
            if (candidate != None && (least == None || overhead < leastOverhead || (overhead == leastOverhead && candidate < least)))
            {
                least = candidate;
                leastOverhead = overhead;
            }
        }

        return least;
    }

    /// <summary>The AVX2 wlc scan.</summary>
    /// <param name="slots">The block's slots (padded).</param>
    /// <returns>The server's index, <see cref="None"/>, or <see cref="OutOfRange"/>.</returns>
    internal static int WeightedLeastConnectionVector(ReadOnlySpan<int> slots) =>
        WeightedVector<ConnectionOverheadLoad>(slots, idleWins: false);

    /// <summary>The AVX2 sed scan.</summary>
    /// <param name="slots">The block's slots (padded).</param>
    /// <returns>The server's index, <see cref="None"/>, or <see cref="OutOfRange"/>.</returns>
    internal static int ShortestExpectedDelayVector(ReadOnlySpan<int> slots) =>
        WeightedVector<ExpectedDelayLoad>(slots, idleWins: false);

    /// <summary>The AVX2 nq scan.</summary>
    /// <param name="slots">The block's slots (padded).</param>
    /// <returns>The server's index, <see cref="None"/>, or <see cref="OutOfRange"/>.</returns>
    internal static int NeverQueueVector(ReadOnlySpan<int> slots) =>
        WeightedVector<ExpectedDelayLoad>(slots, idleWins: true);

    /// <summary>The AVX2 ovf scan (exact for every count: it only compares 32-bit integers).</summary>
    /// <param name="slots">The block's slots (padded).</param>
    /// <returns>The server's index, or <see cref="None"/>.</returns>
    internal static int WeightedOverflowVector(ReadOnlySpan<int> slots)
    {
        ref int start = ref MemoryMarshal.GetReference(slots);
        var best = Vector256<int>.Zero;
        var bestIndex = Vector256.Create(None);
        var index = LaneSlots();
        for (nuint offset = 0; offset < (nuint)slots.Length; offset += Step)
        {
            Transpose(ref start, offset, out var active, out _, out var state);

            // A best weight of 0 admits only schedulable servers (their weight is positive).
            var weight = SchedulableWeight(state);
            var better = Vector256.LessThanOrEqual(active, weight) & Vector256.GreaterThan(weight, best);
            best = Avx2.BlendVariable(best, weight, better);
            bestIndex = Avx2.BlendVariable(bestIndex, index, better);
            index += Vector256.Create(RealServerLoadBlock.CountGranularity);
        }

        int highest = None;
        int highestWeight = 0;
        for (int lane = 0; lane < Vector256<int>.Count; lane++)
        {
            int candidate = bestIndex.GetElement(lane);
            int weight = best.GetElement(lane);
            if (candidate != None && (weight > highestWeight || (weight == highestWeight && candidate < highest)))
            {
                highest = candidate;
                highestWeight = weight;
            }
        }

        return highest;
    }

    /// <summary>The AVX2 <see cref="AnyBelowHalfWeight(RealServerLoadBlock, int)"/>.</summary>
    /// <param name="slots">The block's slots (padded).</param>
    /// <returns>True when a server has fewer than half its weight in active connections.</returns>
    internal static bool AnyBelowHalfWeightVector(ReadOnlySpan<int> slots)
    {
        ref int start = ref MemoryMarshal.GetReference(slots);
        for (nuint offset = 0; offset < (nuint)slots.Length; offset += Step)
        {
            Transpose(ref start, offset, out var active, out _, out var state);

            // active x 2 < weight, without overflow: active < ceil(weight / 2), a negative active read as 0.
            var half = (Vector256.Create(RealServerLoadBlock.WeightMask) & state) + Vector256<int>.One;
            if (Vector256.LessThan(Vector256.Max(active, Vector256<int>.Zero), Vector256.ShiftRightArithmetic(half, 1)) != Vector256<int>.Zero)
            {
                return true;
            }
        }

        return false;
    }

    private static int WeightedVector<TLoad>(ReadOnlySpan<int> slots, bool idleWins)
        where TLoad : struct, IServerLoad
    {
        // Specialised per load measure (a struct type argument), so the measure's branches fold away.
        // Per lane the best so far is (load, weight, index), starting at 1 / 0 (infinity): a lane takes a server when
        // load x bestWeight < bestLoad x weight, the kernel's cross-multiplication, exact in doubles here. A server of
        // schedulable weight 0 never passes (the right side is 0, the left never negative), the first one of positive
        // weight always does (the left side is 0).
        ref int start = ref MemoryMarshal.GetReference(slots);
        var lowLoad = Vector256.Create(1.0);
        var lowWeight = Vector256<double>.Zero;
        var lowIndex = Vector256.Create((double)None);
        var highLoad = lowLoad;
        var highWeight = lowWeight;
        var highIndex = lowIndex;
        var lowLanes = Vector256.Create(0.0, 2, 4, 6);
        var highLanes = Vector256.Create(1.0, 3, 5, 7);
        var screen = Vector256.Create(float.PositiveInfinity);
        var outOfRange = Vector256<int>.Zero;
        for (nuint offset = 0; offset < (nuint)slots.Length; offset += Step)
        {
            Transpose(ref start, offset, out var active, out var inactive, out var state);
            var weight = SchedulableWeight(state);
            Vector256<int> load;
            if (TLoad.ActiveOnly)
            {
                if (idleWins)
                {
                    var idle = Vector256.Equals(active, Vector256<int>.Zero) & Vector256.GreaterThan(weight, Vector256<int>.Zero);
                    if (idle != Vector256<int>.Zero)
                    {
                        // Earlier steps held no idle schedulable server, so the first one here is nq's answer whatever
                        // the loads.
                        return (int)(offset / Slot) + FirstSlot(idle.ExtractMostSignificantBits());
                    }
                }

                // Active below 0, or at int.MaxValue where + 1 wraps, is out of range.
                load = active + Vector256<int>.One;
                outOfRange |= (active | load) & Vector256.Create(int.MinValue);
            }
            else
            {
                outOfRange |= OverheadOutOfRange(active, inactive);
                load = (active << 8) + inactive;
            }

            // The screen: load x (approximate 1 / weight) in single precision, relative error below 2^-11 (rcpps is
            // within 1.5 x 2^-12). A server whose exact ratio beats its lane's best has an approximation below the
            // lane's least approximation so far times (1 + 2^-8): skip the exact comparison for steps where no lane
            // can. Weight 0 gives infinity or NaN, which never passes and never lowers the screen.
            var approximate = Avx.Multiply(Avx.ConvertToVector256Single(load), Avx.Reciprocal(Avx.ConvertToVector256Single(weight)));
            var passes = Avx.Compare(approximate, screen, FloatComparisonMode.OrderedLessThanNonSignaling);
            screen = Avx.Min(Avx.Multiply(approximate, Vector256.Create(1 + (1f / 256))), screen);
            if (passes == Vector256<float>.Zero)
            {
                continue;
            }

            var lanes = Vector256.Create((double)(offset / Slot));
            var loadLow = Avx.ConvertToVector256Double(load.GetLower());
            var loadHigh = Avx.ConvertToVector256Double(load.GetUpper());
            var weightLow = Avx.ConvertToVector256Double(weight.GetLower());
            var weightHigh = Avx.ConvertToVector256Double(weight.GetUpper());
            var betterLow = Vector256.LessThan(loadLow * lowWeight, lowLoad * weightLow);
            var betterHigh = Vector256.LessThan(loadHigh * highWeight, highLoad * weightHigh);
            lowLoad = Avx.BlendVariable(lowLoad, loadLow, betterLow);
            lowWeight = Avx.BlendVariable(lowWeight, weightLow, betterLow);
            lowIndex = Avx.BlendVariable(lowIndex, lanes + lowLanes, betterLow);
            highLoad = Avx.BlendVariable(highLoad, loadHigh, betterHigh);
            highWeight = Avx.BlendVariable(highWeight, weightHigh, betterHigh);
            highIndex = Avx.BlendVariable(highIndex, lanes + highLanes, betterHigh);
        }

        if (outOfRange != Vector256<int>.Zero)
        {
            return OutOfRange;
        }

        int least = None;
        long leastLoad = 0;
        long leastWeight = 0;
        for (int lane = 0; lane < 2 * Vector256<double>.Count; lane++)
        {
            bool low = lane < Vector256<double>.Count;
            int element = lane & (Vector256<double>.Count - 1);
            int candidate = (int)(low ? lowIndex : highIndex).GetElement(element);
            if (candidate == None)
            {
                continue;
            }

            long load = (long)(low ? lowLoad : highLoad).GetElement(element);
            long weight = (long)(low ? lowWeight : highWeight).GetElement(element);
            if (least == None)
            {
                least = candidate;
                leastLoad = load;
                leastWeight = weight;
                continue;
            }

            long left = load * leastWeight;
            long right = leastLoad * weight;
            if (left < right || (left == right && candidate < least))
            {
                least = candidate;
                leastLoad = load;
                leastWeight = weight;
            }
        }

        return least;
    }

    /// <summary>
    /// Eight slots from <paramref name="offset"/> as three vectors; lane k holds slot <c>[0, 2, 4, 6, 1, 3, 5, 7][k]</c>
    /// (the order two rounds of in-lane unpacking leave, see <see cref="LaneSlots"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(ref int start, nuint offset, out Vector256<int> active, out Vector256<int> inactive, out Vector256<int> state)
    {
        var v0 = Vector256.LoadUnsafe(ref start, offset);
        var v1 = Vector256.LoadUnsafe(ref start, offset + 8);
        var v2 = Vector256.LoadUnsafe(ref start, offset + 16);
        var v3 = Vector256.LoadUnsafe(ref start, offset + 24);
        var t0 = Avx2.UnpackLow(v0, v1).AsInt64();
        var t1 = Avx2.UnpackHigh(v0, v1).AsInt64();
        var t2 = Avx2.UnpackLow(v2, v3).AsInt64();
        var t3 = Avx2.UnpackHigh(v2, v3).AsInt64();
        active = Avx2.UnpackLow(t0, t2).AsInt32();
        inactive = Avx2.UnpackHigh(t0, t2).AsInt32();
        state = Avx2.UnpackHigh(t1, t3).AsInt32();
    }

    /// <summary>The slot of each lane after <see cref="Transpose"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> LaneSlots() => Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7);

    /// <summary>The first slot whose lane bit is set (bits 0-3: slots 0, 2, 4, 6; bits 4-7: slots 1, 3, 5, 7).</summary>
    private static int FirstSlot(uint laneBits)
    {
        int even = (laneBits & 0xF) != 0 ? 2 * BitOperations.TrailingZeroCount(laneBits & 0xF) : int.MaxValue;
        int odd = (laneBits & 0xF0) != 0 ? (2 * BitOperations.TrailingZeroCount(laneBits >> 4)) + 1 : int.MaxValue;
        return Math.Min(even, odd);
    }

    /// <summary>Nonzero lanes where active is not in [0, 2^22) or inactive not in [0, 2^30).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> OverheadOutOfRange(Vector256<int> active, Vector256<int> inactive) =>
        (active & Vector256.Create(unchecked((int)0xFFC0_0000))) | (inactive & Vector256.Create(unchecked((int)0xC000_0000)));

    /// <summary>All ones where the state word is a weight from 1 to 65535 with no flag: a schedulable server.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Schedulable(Vector256<int> state) =>
        // (state - 1) < 0xFFFF as unsigned, by moving the unsigned range onto the bottom of the signed one.
        Vector256.LessThan(state + Vector256.Create(int.MaxValue), Vector256.Create(int.MinValue + RealServerLoadBlock.WeightMask));

    /// <summary>The weight where the server is schedulable, 0 elsewhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SchedulableWeight(Vector256<int> state) =>
        state & Vector256.LessThanOrEqual(state, Vector256.Create(RealServerLoadBlock.WeightMask));

    private static bool IsSchedulable(int state) => (uint)(state - 1) < RealServerLoadBlock.WeightMask;

    /// <summary>A count as the server reports it: below 0 (transient, see <see cref="RealServerLoadBlock"/>) read as 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Count(int count) => Math.Max(count, 0);
}
