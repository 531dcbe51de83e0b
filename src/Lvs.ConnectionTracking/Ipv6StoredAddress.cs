using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <summary>An IPv6 address in 16 bytes (the two big-endian halves of <see cref="InetAddress"/>).</summary>
internal readonly struct Ipv6StoredAddress : IStoredAddress<Ipv6StoredAddress>
{
    private readonly ulong _high;
    private readonly ulong _low;

    private Ipv6StoredAddress(ulong high, ulong low)
    {
        _high = high;
        _low = low;
    }

    public static bool Fits(InetAddress address) => address.IsIPv6;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Ipv6StoredAddress From(InetAddress address) => new(address.High, address.Low);

    public static InetAddress ToIpAddress(Ipv6StoredAddress address) => new(address._high, address._low);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AreEqual(Ipv6StoredAddress left, Ipv6StoredAddress right) =>
        left._low == right._low && left._high == right._high;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Hash(Ipv6StoredAddress first, Ipv6StoredAddress second, ulong tail, in FlowHashSecret secret)
    {
        ulong a = FlowHashSecret.Fold(first._high ^ secret.K0, first._low ^ secret.K1);
        ulong b = FlowHashSecret.Fold(second._high ^ secret.K2, second._low ^ secret.K3);
        return secret.Finish(FlowHashSecret.Fold(a ^ tail ^ secret.K1, b ^ secret.K0));
    }
}
