namespace Lvs.ConnectionTracking;

/// <summary>
/// A reference to one connection (or template) of a <see cref="ConnectionTable"/>, valid until the connection ends:
/// operations on a handle whose connection has ended (and whose slot may hold another connection), or on a handle
/// of another table, fail instead of touching the wrong connection.
/// </summary>
/// <remarks>
/// <para>
/// One 64-bit word: the slot index (bits 0-23), the slot's 32-bit generation (bits 24-55), the owning table's tag
/// (bits 56-62) and the family (bit 63). It is built in a register and stored with one write: built as two 32-bit
/// fields it went through the stack and was reloaded as one word, a load that store forwarding cannot serve, which
/// cost the batched lookup about a tenth of its time.
/// </para>
/// <para>
/// The guarantee: a handle whose connection has ended is always detected, because a slot's generation never repeats
/// (a slot whose generation reaches 2^32 - 1 is retired rather than reused). A handle of another table is detected
/// whenever the two tables' tags differ: tags run through 127 values in order of construction, so two tables
/// created fewer than 127 constructions apart never share one. docs/connection-tracking.md has the details.
/// </para>
/// </remarks>
public readonly record struct ConnectionHandle
{
    /// <summary>The largest slot generation; a slot whose occupant had it is retired.</summary>
    internal const uint MaxGeneration = uint.MaxValue;

    private readonly ulong _value;

    /// <summary>A handle from its owner bits (tag and family, placed by <see cref="OwnerBits"/>), index and generation.</summary>
    internal ConnectionHandle(ulong owner, int index, uint generation) =>
        _value = owner | (uint)index | ((ulong)generation << 24);

    /// <summary>The empty handle, referring to nothing.</summary>
    public static ConnectionHandle None => default;

    /// <summary>True when this handle was returned by a table (it may still refer to an ended connection).</summary>
    public bool IsSome => _value != 0;

    internal int Index => (int)(_value & 0xFF_FFFF);

    internal uint Generation => (uint)(_value >> 24);

    /// <summary>The owning table's tag (1-127; 0 for <see cref="None"/>).</summary>
    internal uint Tag => (uint)(_value >> 56) & 0x7F;

    internal bool IsIPv6 => (long)_value < 0;

    /// <summary>The bits of a handle that say which table and family it belongs to.</summary>
    internal static ulong OwnerBits(uint tag, bool isIPv6) => ((ulong)tag << 56) | (isIPv6 ? 1UL << 63 : 0);
}
