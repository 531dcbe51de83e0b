using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lvs.ConnectionTracking;

/// <summary>
/// The bytes hashed to place a connection in a chain: two endpoints, the protocol and what kind of key it is
/// (inbound, template, outbound). 16 bytes for IPv4 and 40 for IPv6, with no implicit padding, hashed with the
/// process's random seed (XxHash3 keyed by <see cref="Lvs.Core.FlowHash.Seed"/>) so a sender cannot aim at one chain.
/// </summary>
/// <typeparam name="TAddress">The stored address form.</typeparam>
[StructLayout(LayoutKind.Sequential)]
internal struct FlowHashKey<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    public const byte InboundKind = 1;
    public const byte TemplateKind = 2;
    public const byte OutboundKind = 3;

    public TAddress First;
    public TAddress Second;
    public ushort FirstPort;
    public ushort SecondPort;
    public byte Protocol;
    public byte Kind;
    public ushort Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Hash(byte kind, byte protocol, TAddress first, ushort firstPort, TAddress second, ushort secondPort, long seed)
    {
        FlowHashKey<TAddress> key = default;
        key.First = first;
        key.Second = second;
        key.FirstPort = firstPort;
        key.SecondPort = secondPort;
        key.Protocol = protocol;
        key.Kind = kind;
        return XxHash3.HashToUInt64(MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(ref key, 1)), seed);
    }
}
