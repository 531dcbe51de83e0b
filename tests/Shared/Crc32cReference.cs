namespace Lvs.TestSupport;

/// <summary>
/// The bitwise reflected CRC32c (polynomial 0x82F63B78) that the SCTP tests check the code under test against: one
/// bit at a time, independent of Lvs.Core's table- and instruction-based implementation. Compiled into the Core,
/// Forwarding and Director test projects (tests/Shared).
/// </summary>
internal static class Crc32cReference
{
    /// <summary>The CRC32c of the data (0xE3069283 for "123456789").</summary>
    /// <param name="data">The bytes.</param>
    /// <returns>The checksum.</returns>
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = uint.MaxValue;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
            }
        }

        return ~crc;
    }
}
