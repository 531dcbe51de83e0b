using System.Buffers.Binary;
using Lvs.Core;

namespace Lvs.Forwarding.Tests;

/// <summary>Edits of PacketDotNet-built IPv4 frames into the awkward shapes the rewriters must handle.</summary>
public static class FrameMutations
{
    /// <summary>Inserts 4 bytes of IPv4 options (NOP, NOP, NOP, EOL) and fixes IHL, total length and the header checksum.</summary>
    public static byte[] WithIPv4Options(byte[] frame)
    {
        byte[] result = [.. frame[..34], 1, 1, 1, 0, .. frame[34..]];
        result[14] = 0x46;
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(16), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(result.AsSpan(16)) + 4));
        FixIPv4HeaderChecksum(result);
        return result;
    }

    /// <summary>Makes an IPv4 frame a non-first fragment (offset 8 bytes), fixing the header checksum.</summary>
    public static byte[] AsNonFirstFragment(byte[] frame)
    {
        byte[] result = [.. frame];
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(20), 0x0001);
        FixIPv4HeaderChecksum(result);
        return result;
    }

    public static void FixIPv4HeaderChecksum(byte[] frame)
    {
        int length = (frame[14] & 0x0F) * 4;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(24), 0);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(24), Checksum.Compute(frame.AsSpan(14, length)));
    }
}
