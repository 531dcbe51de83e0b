using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Lvs.ConnectionTracking;

/// <summary>
/// Software prefetch for the batched lookups. A table of a million connections is far larger than the caches, so each
/// lookup waits for two or three dependent reads from DRAM (the chain head, then the entries); a plain load of the
/// next key's data holds back the CPU's instruction window until it arrives, but a prefetch retires at once, so a
/// batch can have a dozen or more lines in flight and pay the memory latency once per stage instead of once per key.
/// </summary>
internal static class MemoryPrefetch
{
    /// <summary>
    /// Starts loading the cache line holding <paramref name="target"/> into every cache level (PREFETCHT0). A hint:
    /// it never faults, so an address that is stale because the GC moved the array costs nothing but the wasted load
    /// (the slabs are pinned, on the pinned object heap, so it never does). Without SSE (Arm64) it does
    /// nothing, and the batched lookup still overlaps its plain loads as far as the out-of-order window allows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Line<T>(ref T target)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref target));
        }
    }
}
