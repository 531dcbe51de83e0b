using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Lvs.Forwarding.Tests;

public class NetworkOrderTests
{
    [FsCheck.Xunit.Property(MaxTest = 200)]
    public void Reads_MatchBinaryPrimitivesBigEndian(byte[] bytes, byte offset)
    {
        byte[] data = [.. bytes, .. new byte[8]];
        int at = offset % (data.Length - 7);
        ref byte start = ref MemoryMarshal.GetArrayDataReference(data);
        Assert.Equal(BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(at)), NetworkOrder.ReadUInt16(ref start, at));
        Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at)), NetworkOrder.ReadUInt32(ref start, at));
        Assert.Equal(BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(at)), NetworkOrder.ReadUInt64(ref start, at));
        Assert.Equal(BitConverter.ToUInt32(data, at), NetworkOrder.ReadRaw32(ref start, at));
    }

    [FsCheck.Xunit.Property(MaxTest = 200)]
    public void Writes_MatchBinaryPrimitivesBigEndian(ushort a, uint b, ulong c)
    {
        byte[] expected = new byte[15];
        BinaryPrimitives.WriteUInt16BigEndian(expected, a);
        BinaryPrimitives.WriteUInt32BigEndian(expected.AsSpan(3), b);
        BinaryPrimitives.WriteUInt64BigEndian(expected.AsSpan(7), c);
        byte[] actual = new byte[15];
        ref byte start = ref MemoryMarshal.GetArrayDataReference(actual);
        NetworkOrder.WriteUInt16(ref start, 0, a);
        NetworkOrder.WriteUInt32(ref start, 3, b);
        NetworkOrder.WriteUInt64(ref start, 7, c);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Swap_IsItsOwnInverse_AndBigEndianInMemory()
    {
        byte[] data = new byte[4];
        NetworkOrder.WriteRaw(ref MemoryMarshal.GetArrayDataReference(data), 0, NetworkOrder.Swap(0x0A000005u));
        Assert.Equal(new byte[] { 10, 0, 0, 5 }, data);
        Assert.Equal(0x1234_5678_9ABC_DEF0UL, NetworkOrder.Swap(NetworkOrder.Swap(0x1234_5678_9ABC_DEF0UL)));
        Assert.Equal((ushort)0xBEEF, NetworkOrder.Swap(NetworkOrder.Swap((ushort)0xBEEF)));
    }
}
