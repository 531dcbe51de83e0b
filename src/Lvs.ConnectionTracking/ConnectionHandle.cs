namespace Lvs.ConnectionTracking;

/// <summary>
/// A reference to one connection (or template) of a <see cref="ConnectionTable"/>, valid until the connection ends:
/// operations on a handle whose connection has ended (and whose slot may hold another connection) fail instead of
/// touching the newcomer, because the handle carries the slot's generation.
/// </summary>
/// <remarks>
/// One 64-bit word (index low, generation and family high), so that a handle is built in a register and stored with
/// one write: built as two 32-bit fields it went through the stack and was reloaded as one word, a load that store
/// forwarding cannot serve, which cost the batched lookup about a tenth of its time.
/// </remarks>
public readonly record struct ConnectionHandle
{
    private readonly ulong _value;

    internal ConnectionHandle(bool isIPv6, int index, uint generation) =>
        _value = (uint)index | ((ulong)(generation | (isIPv6 ? 0x8000_0000u : 0u)) << 32);

    /// <summary>The empty handle, referring to nothing.</summary>
    public static ConnectionHandle None => default;

    /// <summary>True when this handle was returned by the table (it may still refer to an ended connection).</summary>
    public bool IsSome => Tag != 0;

    internal int Index => (int)_value;

    internal uint Tag => (uint)(_value >> 32);

    internal bool IsIPv6 => (Tag & 0x8000_0000u) != 0;

    internal uint Generation => Tag & 0x7FFF_FFFFu;
}
