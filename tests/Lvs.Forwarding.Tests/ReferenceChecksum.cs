namespace Lvs.Forwarding.Tests;

/// <summary>A plain RFC 1071 checksum, written independently of Lvs.Core's, for headers PacketDotNet cannot build (GRE, GUE).</summary>
public static class ReferenceChecksum
{
    public static ushort Compute(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i < data.Length; i += 2)
        {
            sum += (uint)(data[i] << 8) + (i + 1 < data.Length ? data[i + 1] : 0u);
        }

        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
