using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>The link-layer edits shared by the rewriters: MAC addresses, and moving the Ethernet header (with its VLAN tags) when headers are added or removed behind it.</summary>
internal static class EthernetRewrite
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetAddresses(Span<byte> frame, MacAddress source, MacAddress destination)
    {
        destination.WriteTo(frame);
        source.WriteTo(frame[6..]);
    }

    /// <summary>Copies the link header (<paramref name="linkLength"/> bytes, tags included) from <paramref name="from"/> to <paramref name="to"/> and sets its final EtherType.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Move(Span<byte> buffer, int from, int to, int linkLength, ushort etherType)
    {
        buffer.Slice(from, linkLength).CopyTo(buffer.Slice(to, linkLength));
        BinaryPrimitives.WriteUInt16BigEndian(buffer[(to + linkLength - 2)..], etherType);
    }

    public static ushort EtherTypeOf(int ipVersion) => ipVersion == 4 ? (ushort)0x0800 : (ushort)0x86DD;
}
