using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <summary>
/// An address as a connection entry stores it: 4 bytes for IPv4, 16 for IPv6. The store is generic over it, so the
/// JIT compiles one specialised copy per family with no indirection.
/// </summary>
/// <typeparam name="TSelf">The implementing struct.</typeparam>
internal interface IStoredAddress<TSelf>
    where TSelf : unmanaged, IStoredAddress<TSelf>
{
    /// <summary>True when the address belongs to this family.</summary>
    static abstract bool Fits(InetAddress address);

    /// <summary>Converts from the general form (the caller checked <see cref="Fits"/>).</summary>
    static abstract TSelf From(InetAddress address);

    /// <summary>Converts to the general form.</summary>
    static abstract InetAddress ToIpAddress(TSelf address);

    /// <summary>Bitwise equality.</summary>
    static abstract bool AreEqual(TSelf left, TSelf right);

    /// <summary>Hashes two addresses and the key's other fields (<paramref name="tail"/>) with the table's secret (see <see cref="FlowHashKey{TAddress}"/>).</summary>
    static abstract ulong Hash(TSelf first, TSelf second, ulong tail, in FlowHashSecret secret);
}
