using System.Runtime.InteropServices;

namespace Lvs.ConnectionTracking;

/// <summary>
/// Asks Linux to back a large, not yet touched array with transparent huge pages (2 MiB), where the system allows
/// it (<c>/sys/kernel/mm/transparent_hugepage/enabled</c> set to <c>madvise</c> or <c>always</c>). A connection
/// table of millions of entries is read at random: with 4 KiB pages nearly every lookup also misses the TLB and
/// walks the page tables (twice over, in a virtual machine); with 2 MiB pages the whole table fits in the TLB.
/// </summary>
internal static partial class HugePages
{
    private const int HugePageSize = 2 * 1024 * 1024;
    private const int MadviseHugePage = 14; // MADV_HUGEPAGE, include/uapi/asm-generic/mman-common.h

    /// <summary>
    /// Advises the whole 2 MiB pages inside [<paramref name="start"/>, <paramref name="start"/> +
    /// <paramref name="length"/>). Best effort: nothing happens off Linux, for arrays under 4 MiB, or when the kernel
    /// refuses (the memory simply stays on 4 KiB pages).
    /// </summary>
    public static unsafe void Request(byte* start, long length)
    {
        if (!OperatingSystem.IsLinux() || length < 2L * HugePageSize)
        {
            return;
        }

        nint first = ((nint)start + HugePageSize - 1) & ~(nint)(HugePageSize - 1);
        nint end = ((nint)start + (nint)length) & ~(nint)(HugePageSize - 1);
        if (end > first)
        {
            _ = Madvise(first, (nuint)(end - first), MadviseHugePage);
        }
    }

    /// <summary>An array on the pinned object heap (so that the advice stays with its address), advised before its first touch.</summary>
    public static unsafe T[] AllocatePinned<T>(int length)
        where T : unmanaged
    {
        var array = GC.AllocateUninitializedArray<T>(length, pinned: true);
        Request((byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array)), (long)length * sizeof(T));
        return array;
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = false)]
    private static partial int Madvise(nint address, nuint length, int advice);
}
