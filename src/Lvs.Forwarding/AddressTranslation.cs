using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// The in-place address and port rewrite shared by NAT and FULLNAT: IP addresses, TCP/UDP ports, the TTL or hop
/// limit, and the IPv4 header and transport checksums patched incrementally (RFC 1624), as the kernel's
/// tcp_snat_handler / tcp_dnat_handler and udp_*_handler do with inet_proto_csum_replace.
/// </summary>
/// <remarks>
/// This is the hot path of NAT, so it reads and writes through a reference into the frame after
/// <see cref="RewritePolicy.Check"/> has proved every offset used here to lie inside it (IP header at L3, 20 or 40
/// bytes; ports and checksum inside the transport header), and it sums each checksum's changes in one 64-bit
/// accumulator folded once (RFC 1624 equation 3: HC' = ~(~HC + ~m + m') over every changed 16-bit word).
/// </remarks>
internal static class AddressTranslation
{
    /// <summary>
    /// Rewrites the source (when <paramref name="changeSource"/>) and the destination; <paramref name="frame"/> is the
    /// checked frame and <paramref name="l4"/> the transport offset, or -1 for a non-first fragment.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Rewrite(
        Span<byte> frame, int l3, int l4, bool ipv4, bool tcp, bool changeSource, in Endpoint source, in Endpoint destination, bool decrementHopLimit)
    {
        ref byte start = ref MemoryMarshal.GetReference(frame);
        ref byte ip = ref Unsafe.Add(ref start, l3);
        ulong addressSum;
        if (ipv4)
        {
            uint oldDestination = ReadUInt32(ref ip, 16);
            uint newDestination = (uint)destination.Address.Low;
            addressSum = Words(~oldDestination) + Words(newDestination);
            WriteUInt32(ref ip, 16, newDestination);
            if (changeSource)
            {
                uint oldSource = ReadUInt32(ref ip, 12);
                uint newSource = (uint)source.Address.Low;
                addressSum += Words(~oldSource) + Words(newSource);
                WriteUInt32(ref ip, 12, newSource);
            }

            ulong headerSum = addressSum;
            if (decrementHopLimit)
            {
                // TTL is the high byte of the word it shares with the protocol: -1 TTL is ~word + (word - 0x100) (RFC 1624 section 5).
                uint word = ReadUInt16(ref ip, 8);
                headerSum += (ushort)~word + (word - 0x0100u);
                Unsafe.Add(ref ip, 8)--;
            }

            WriteUInt16(ref ip, 10, Apply(ReadUInt16(ref ip, 10), headerSum));
        }
        else
        {
            addressSum = Words(~ReadUInt64(ref ip, 24)) + Words(~ReadUInt64(ref ip, 32))
                + Words(destination.Address.High) + Words(destination.Address.Low);
            WriteUInt64(ref ip, 24, destination.Address.High);
            WriteUInt64(ref ip, 32, destination.Address.Low);
            if (changeSource)
            {
                addressSum += Words(~ReadUInt64(ref ip, 8)) + Words(~ReadUInt64(ref ip, 16))
                    + Words(source.Address.High) + Words(source.Address.Low);
                WriteUInt64(ref ip, 8, source.Address.High);
                WriteUInt64(ref ip, 16, source.Address.Low);
            }

            if (decrementHopLimit)
            {
                Unsafe.Add(ref ip, 7)--;
            }
        }

        if (l4 < 0)
        {
            return; // A non-first fragment: the first fragment's checksum covers the pseudo-header already.
        }

        ref byte transport = ref Unsafe.Add(ref start, l4);
        uint oldPorts = ReadUInt32(ref transport, 0);
        uint newPorts = changeSource ? (uint)source.Port << 16 | destination.Port : (oldPorts & 0xFFFF_0000) | destination.Port;
        WriteUInt32(ref transport, 0, newPorts);
        ulong sum = addressSum + Words(~oldPorts) + Words(newPorts);
        if (tcp)
        {
            WriteUInt16(ref transport, 16, Apply(ReadUInt16(ref transport, 16), sum));
        }
        else
        {
            // An IPv4 UDP checksum of 0 means none was sent (RFC 768): leave it so; a result of 0 is sent as 0xFFFF.
            ushort checksum = ReadUInt16(ref transport, 6);
            if (checksum != 0 || !ipv4)
            {
                WriteUInt16(ref transport, 6, Checksum.UdpResult(Apply(checksum, sum)));
            }
        }
    }

    /// <summary>Decrements the TTL / hop limit in place, patching the IPv4 header checksum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void DecrementHopLimit(Span<byte> ip, int version)
    {
        if (version == 4)
        {
            ushort word = BinaryPrimitives.ReadUInt16BigEndian(ip[8..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Update16(BinaryPrimitives.ReadUInt16BigEndian(ip[10..]), word, (ushort)(word - 0x0100)));
            ip[8]--;
        }
        else
        {
            ip[7]--;
        }
    }

    /// <summary>The TTL / hop limit byte of the IP header.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte HopLimit(ReadOnlySpan<byte> ip, int version) => version == 4 ? ip[8] : ip[7];

    /// <summary>RFC 1624 equation 3 with the changes summed in <paramref name="sum"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Apply(ushort checksum, ulong sum) => (ushort)~Checksum.Fold(sum + (ushort)~checksum);

    // The one's complement sum of a value's 16-bit words, unfolded. Summing 32-bit chunks and folding the total once
    // gives the same 16-bit sum (RFC 1071 section 2(B): the sum is independent of the word size used to add it).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Words(uint value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Words(ulong value) => (value >> 32) + (uint)value;

    // Network order to host order and back (the same swap); the JIT drops the branch.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Network(ushort value) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Network(uint value) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Network(ulong value) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort ReadUInt16(ref byte at, int offset) =>
        Network(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref at, offset)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ReadUInt32(ref byte at, int offset) =>
        Network(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref at, offset)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadUInt64(ref byte at, int offset) =>
        Network(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref at, offset)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteUInt16(ref byte at, int offset, ushort value) =>
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, offset), Network(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteUInt32(ref byte at, int offset, uint value) =>
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, offset), Network(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteUInt64(ref byte at, int offset, ulong value) =>
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, offset), Network(value));
}
