using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>The link-layer edits shared by the rewriters: MAC addresses, and moving the Ethernet header (with its VLAN tags) when headers are added or removed behind it.</summary>
internal static class EthernetRewrite
{
    /// <summary>Writes destination and source MACs (12 bytes) at the start of <paramref name="frame"/>, which the caller has checked to hold them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetAddresses(Span<byte> frame, MacAddress source, MacAddress destination) =>
        SetAddresses(ref MemoryMarshal.GetReference(frame[..12]), source, destination);

    /// <summary>Writes destination and source MACs (12 bytes) at <paramref name="frame"/>, the start of a frame the caller has checked to hold them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetAddresses(ref byte frame, MacAddress source, MacAddress destination)
    {
        // Bytes 0-7 hold destination (6) and the first two bytes of the source, bytes 8-11 the rest of the source.
        NetworkOrder.WriteUInt64(ref frame, 0, destination.Value << 16 | source.Value >> 32);
        NetworkOrder.WriteUInt32(ref frame, 8, (uint)source.Value);
    }

    /// <summary>
    /// Moves the link header (<paramref name="linkLength"/> bytes, VLAN tags included) from <paramref name="from"/> to
    /// <paramref name="to"/> and sets its final EtherType. With <paramref name="keepAddresses"/> false the MACs are
    /// not copied (the caller writes new ones), so an untagged header costs one 2-byte write.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Move(Span<byte> buffer, int from, int to, int linkLength, ushort etherType, bool keepAddresses)
    {
        int skip = keepAddresses ? 0 : 12;
        if (linkLength - 2 > skip)
        {
            buffer.Slice(from + skip, linkLength - 2 - skip).CopyTo(buffer.Slice(to + skip, linkLength - 2 - skip));
        }

        BinaryPrimitives.WriteUInt16BigEndian(buffer[(to + linkLength - 2)..], etherType);
    }

    public static ushort EtherTypeOf(int ipVersion) => EtherTypeOf(ipVersion == 4);

    /// <summary>The EtherType of IPv4 (0x0800) or IPv6 (0x86DD).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort EtherTypeOf(bool ipv4) => ipv4 ? (ushort)0x0800 : (ushort)0x86DD;
}
