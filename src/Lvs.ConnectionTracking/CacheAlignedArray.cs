using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lvs.ConnectionTracking;

/// <summary>
/// A fixed-length array of unmanaged structs whose elements never straddle a cache line: each element takes a
/// power-of-two stride of at most 64 bytes, and element 0 starts on a 64-byte boundary. A connection lookup that
/// reads one entry then costs one cache line, not two (a 56-byte entry at arbitrary offsets straddles two lines six
/// times in eight, and a lookup that misses the cache paid for both).
/// </summary>
/// <remarks>
/// The storage is a byte array on the pinned object heap: it never moves, so the aligned address found when it is
/// created stays valid for as long as this struct holds the array. It is still managed memory, counted by the GC
/// and freed with the table. A struct, so that the owner's field holds the address and length inline (one load
/// fewer per access on the lookup path).
/// </remarks>
/// <typeparam name="T">The element type, at most 64 bytes.</typeparam>
internal readonly unsafe struct CacheAlignedArray<T>
    where T : unmanaged
{
    private const int CacheLine = 64;
    private readonly byte[] _bytes;
    private readonly byte* _first;

    public CacheAlignedArray(int length)
    {
        if (sizeof(T) > CacheLine)
        {
            throw new NotSupportedException($"An element of {sizeof(T)} bytes does not fit a cache line.");
        }

        Length = length;
        _bytes = GC.AllocateUninitializedArray<byte>(checked(((length + 1) * Stride) + CacheLine), pinned: true);
        byte* start = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_bytes));
        _first = start + ((CacheLine - ((nint)start & (CacheLine - 1))) & (CacheLine - 1));
        HugePages.Request(start, _bytes.Length);
    }

    /// <summary>The bytes each element takes: its size rounded up to a power of two (a constant once compiled).</summary>
    public static int Stride => (int)BitOperations.RoundUpToPowerOf2((uint)sizeof(T));

    /// <summary>The number of elements.</summary>
    public int Length { get; }

    /// <summary>The element at <paramref name="index"/>; throws <see cref="ArgumentOutOfRangeException"/> outside the array.</summary>
    public ref T this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if ((uint)index >= (uint)Length)
            {
                ThrowOutOfRange(index);
            }

            return ref *(T*)(_first + ((nint)index * Stride));
        }
    }

    /// <summary>
    /// The element at <paramref name="index"/>, or the spare element past the end (<see cref="Sentinel"/>) when the
    /// index is outside the array: chosen with a conditional move instead of a branch, for the batched lookup's stages,
    /// where chain ends come at random and a mispredicted branch per packet would cost more than the read it saves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref T AtOrSentinel(int index)
    {
        // Arithmetic select: the JIT turns a conditional expression here into a branch.
        nint inRange = -(nint)Unsafe.BitCast<bool, byte>((uint)index < (uint)Length);
        nint i = Length + (((nint)index - Length) & inRange);
        return ref *(T*)(_first + (i * Stride));
    }

    /// <summary>The spare element past the end, which the owner fills with a value that ends any walk.</summary>
    public ref T Sentinel => ref *(T*)(_first + ((nint)Length * Stride));

    private static void ThrowOutOfRange(int index) => throw new ArgumentOutOfRangeException(nameof(index), index, "Outside the array.");
}
