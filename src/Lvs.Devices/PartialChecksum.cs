using System.Buffers.Binary;
using Lvs.Core;

namespace Lvs.Devices;

/// <summary>
/// Completes a CHECKSUM_PARTIAL checksum the way a NIC would: the field at <c>start + offset</c> holds the
/// pseudo-header sum; the one's complement of the sum from <c>start</c> to the end of the IP packet goes there.
/// </summary>
internal static class PartialChecksum
{
    /// <summary>Completes the checksum; false when the places lie outside the frame.</summary>
    /// <param name="frame">The Ethernet frame.</param>
    /// <param name="start">Where the checksummed data starts (virtio_net_hdr csum_start, from the frame's start).</param>
    /// <param name="offset">Where the checksum field lies from <paramref name="start"/> (csum_offset).</param>
    internal static bool TryComplete(Span<byte> frame, int start, int offset)
    {
        int end = IpEnd(frame);
        if (start < 14 || offset < 0 || start + offset + 2 > end)
        {
            return false;
        }

        Span<byte> data = frame[start..end];
        ushort result = Checksum.Compute(data);
        // A UDP checksum of 0 means "none": the kernel sends 0xFFFF instead (csum_offset 6 is UDP's field).
        if (result == 0 && offset == 6)
        {
            result = 0xFFFF;
        }

        BinaryPrimitives.WriteUInt16BigEndian(data[offset..], result);
        return true;
    }

    /// <summary>The end of the IP packet (the frame's end when it is not IP or the length field is not usable): Ethernet padding is not summed.</summary>
    private static int IpEnd(ReadOnlySpan<byte> frame)
    {
        int l3 = 14;
        if (frame.Length < l3)
        {
            return frame.Length;
        }

        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (type is 0x8100 or 0x88A8 && frame.Length >= 18)
        {
            l3 = 18;
            type = BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
        }

        int end = frame.Length;
        if (type == 0x0800 && frame.Length >= l3 + 20)
        {
            end = l3 + BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 2)..]);
        }
        else if (type == 0x86DD && frame.Length >= l3 + 40)
        {
            end = l3 + 40 + BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 4)..]);
        }

        return end > frame.Length || end < l3 ? frame.Length : end;
    }
}
