using System.Runtime.InteropServices;

namespace Lvs.Scheduling;

/// <summary>
/// A 64-bit word alone on its cache line: 64 bytes of padding on each side. For a scheduler's cursor that every packet
/// thread moves on new connections (rr's shared count of positions): the line is contended by
/// design, as the kernel's <c>sched_lock</c> is, but no other field or object may share it, or every read of that one
/// (the server list, the service) misses as well.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 136)]
internal struct IsolatedWord
{
    /// <summary>The word.</summary>
    [FieldOffset(64)]
    public long Value;
}
