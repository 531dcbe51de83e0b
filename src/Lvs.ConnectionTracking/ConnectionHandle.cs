namespace Lvs.ConnectionTracking;

/// <summary>
/// A reference to one connection (or template) of a <see cref="ConnectionTable"/>, valid until the connection ends:
/// operations on a handle whose connection has ended (and whose slot may hold another connection) fail instead of
/// touching the newcomer, because the handle carries the slot's generation.
/// </summary>
public readonly record struct ConnectionHandle
{
    internal ConnectionHandle(bool isIPv6, int index, uint generation)
    {
        Index = index;
        Tag = generation | (isIPv6 ? 0x8000_0000u : 0u);
    }

    /// <summary>The empty handle, referring to nothing.</summary>
    public static ConnectionHandle None => default;

    /// <summary>True when this handle was returned by the table (it may still refer to an ended connection).</summary>
    public bool IsSome => Tag != 0;

    internal int Index { get; }

    internal uint Tag { get; }

    internal bool IsIPv6 => (Tag & 0x8000_0000u) != 0;

    internal uint Generation => Tag & 0x7FFF_FFFFu;
}
