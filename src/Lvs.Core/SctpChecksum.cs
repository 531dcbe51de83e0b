using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvs.Core.Headers;

namespace Lvs.Core;

/// <summary>
/// The SCTP checksum (RFC 9260 appendix B): CRC32c (Castagnoli) over the whole SCTP packet with the checksum field
/// taken as zero, initial value and final XOR all ones, stored in the common header in little-endian byte order
/// (the kernel's <c>sctp_compute_cksum</c>).
/// </summary>
/// <remarks>Uses <see cref="BitOperations.Crc32C(uint, ulong)"/>, the CPU's CRC32c instruction where there is one; allocates nothing.</remarks>
public static class SctpChecksum
{
    /// <summary>The checksum of an SCTP packet, as the value to store little-endian at <see cref="SctpHeader.ChecksumOffset"/>.</summary>
    /// <param name="packet">The SCTP packet, from its common header to its end (at least <see cref="SctpHeader.Length"/> bytes).</param>
    /// <returns>The checksum; the field's current value is ignored.</returns>
    /// <exception cref="ArgumentException">The packet is shorter than the common header.</exception>
    public static uint Compute(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < SctpHeader.Length)
        {
            throw new ArgumentException("An SCTP packet has at least its 12-byte common header.", nameof(packet));
        }

        ref byte start = ref MemoryMarshal.GetReference(packet);
        uint crc = BitOperations.Crc32C(uint.MaxValue, ReadLittleEndian64(ref start));
        crc = BitOperations.Crc32C(crc, 0u);
        return ~Update(crc, packet[SctpHeader.Length..]);
    }

    /// <summary>Computes the checksum of an SCTP packet and writes it into its common header.</summary>
    /// <param name="packet">The SCTP packet, from its common header to its end (at least <see cref="SctpHeader.Length"/> bytes).</param>
    /// <exception cref="ArgumentException">The packet is shorter than the common header.</exception>
    public static void Write(Span<byte> packet) =>
        BinaryPrimitives.WriteUInt32LittleEndian(packet[SctpHeader.ChecksumOffset..], Compute(packet));

    /// <summary>True when the checksum stored in an SCTP packet is right.</summary>
    /// <param name="packet">The SCTP packet, from its common header to its end.</param>
    /// <returns>False when it is wrong or the packet is shorter than the common header.</returns>
    public static bool IsValid(ReadOnlySpan<byte> packet) =>
        packet.Length >= SctpHeader.Length && BinaryPrimitives.ReadUInt32LittleEndian(packet[SctpHeader.ChecksumOffset..]) == Compute(packet);

    // The CRC32c instruction takes the bytes of each word in memory order, least significant first, as the reflected
    // CRC wants them: the little-endian reads below are right on any host only after a byte swap on big-endian ones.
    private static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        ref byte p = ref MemoryMarshal.GetReference(data);
        int length = data.Length;
        int i = 0;
        for (; i <= length - 8; i += 8)
        {
            crc = BitOperations.Crc32C(crc, ReadLittleEndian64(ref Unsafe.Add(ref p, i)));
        }

        if (i <= length - 4)
        {
            crc = BitOperations.Crc32C(crc, ReadLittleEndian32(ref Unsafe.Add(ref p, i)));
            i += 4;
        }

        for (; i < length; i++)
        {
            crc = BitOperations.Crc32C(crc, Unsafe.Add(ref p, i));
        }

        return crc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadLittleEndian64(ref byte at)
    {
        ulong raw = Unsafe.ReadUnaligned<ulong>(ref at);
        return BitConverter.IsLittleEndian ? raw : BinaryPrimitives.ReverseEndianness(raw);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ReadLittleEndian32(ref byte at)
    {
        uint raw = Unsafe.ReadUnaligned<uint>(ref at);
        return BitConverter.IsLittleEndian ? raw : BinaryPrimitives.ReverseEndianness(raw);
    }
}
