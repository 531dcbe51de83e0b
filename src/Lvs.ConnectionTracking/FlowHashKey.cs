using System.Runtime.CompilerServices;

namespace Lvs.ConnectionTracking;

/// <summary>
/// The hash that places a connection in a chain: two endpoints, the protocol and what kind of key it is (inbound,
/// template, outbound), mixed with four secret words drawn from the process's random seed, so a sender who does not
/// know them cannot aim many flows at one chain.
/// </summary>
/// <remarks>
/// The mixing is the multiply-fold of wyhash and rapidhash (a 64 x 64 to 128-bit multiply, high half xor low half),
/// applied to the key words xored with the secret: two multiplies for an IPv4 key, four for IPv6. It replaced
/// XxHash3 here because the table hashes on every lookup and insert, and for these fixed 16- and 40-byte keys
/// XxHash3 through its span API cost about 10.5 ns against 2.7 ns (the lookup itself is about 15 ns in cache).
/// <see cref="Lvs.Core.FlowKey.Hash()"/> keeps XxHash3 for general use.
/// </remarks>
/// <typeparam name="TAddress">The stored address form.</typeparam>
internal static class FlowHashKey<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    public const byte InboundKind = 1;
    public const byte TemplateKind = 2;
    public const byte OutboundKind = 3;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Hash(byte kind, byte protocol, TAddress first, ushort firstPort, TAddress second, ushort secondPort, in FlowHashSecret secret)
    {
        ulong tail = ((ulong)firstPort << 48) | ((ulong)secondPort << 32) | ((ulong)protocol << 8) | kind;
        return TAddress.Hash(first, second, tail, secret);
    }
}
