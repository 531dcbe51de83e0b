using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <summary>An IPv4 address in 4 bytes (host order).</summary>
internal readonly struct Ipv4StoredAddress : IStoredAddress<Ipv4StoredAddress>
{
    private readonly uint _value;

    private Ipv4StoredAddress(uint value) => _value = value;

    public static bool Fits(InetAddress address) => address.IsIPv4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Ipv4StoredAddress From(InetAddress address) => new((uint)address.Low);

    public static InetAddress ToIpAddress(Ipv4StoredAddress address) => InetAddress.FromIPv4(address._value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AreEqual(Ipv4StoredAddress left, Ipv4StoredAddress right) => left._value == right._value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Hash(Ipv4StoredAddress first, Ipv4StoredAddress second, ulong tail, in FlowHashSecret secret) =>
        secret.Finish(FlowHashSecret.Fold((((ulong)first._value << 32) | second._value) ^ secret.K0, tail ^ secret.K1));
}
