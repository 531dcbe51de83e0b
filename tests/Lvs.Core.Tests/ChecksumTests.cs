using FsCheck.Xunit;

namespace Lvs.Core.Tests;

public class ChecksumTests
{
    [Fact]
    public void Sum_Rfc1071Example_MatchesTheRfc()
    {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (with the carries folded).
        byte[] data = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7];
        Assert.Equal(0xDDF2, Checksum.Sum(data));
        Assert.Equal(0x220D, Checksum.Compute(data));
    }

    [Fact]
    public void Compute_KnownIpv4Header_MatchesHandCheckedValue()
    {
        // 192.168.0.1 -> 192.168.0.199, UDP, TTL 64, total length 115, DF: checksum b861 (worked by hand).
        byte[] header = Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");
        Assert.Equal(0xB861, Checksum.Compute(header));
        header[10] = 0xB8;
        header[11] = 0x61;
        Assert.True(Checksum.IsValid(header));
    }

    [Fact]
    public void Update16_Rfc1624Example_GivesTheEquation3Result()
    {
        // RFC 1624 section 4: HC = 0xDD2F, m = 0x5555 changes to m' = 0x3285: equation 3 gives 0x0000.
        Assert.Equal(0x0000, Checksum.Update16(0xDD2F, 0x5555, 0x3285));
    }

    [Fact]
    public void PseudoHeaderSum_Ipv4_MatchesSummingTheWords()
    {
        var source = InetAddress.Parse("10.1.2.3");
        var destination = InetAddress.Parse("172.16.0.9");
        byte[] pseudo = Convert.FromHexString("0a010203ac100009" + "0006" + "0028");
        Assert.Equal(Checksum.Sum(pseudo), Checksum.PseudoHeaderSum(source, destination, L4Protocol.Tcp, 40));
    }

    [Fact]
    public void PseudoHeaderSum_Ipv6_MatchesSummingTheRfc8200Layout()
    {
        var source = InetAddress.Parse("2001:db8::1");
        var destination = InetAddress.Parse("2001:db8:ffff::abcd:2");
        byte[] pseudo = new byte[40];
        source.WriteTo(pseudo);
        destination.WriteTo(pseudo.AsSpan(16));
        pseudo[35] = 100;
        pseudo[39] = 17;
        Assert.Equal(Checksum.Sum(pseudo), Checksum.PseudoHeaderSum(source, destination, L4Protocol.Udp, 100));
    }

    [Property(MaxTest = 1000)]
    public bool Sum_AnyData_EqualsWordByWordReference(byte[] data, ushort initial)
    {
        return Checksum.Sum(data, initial) == ReferenceSum(data, initial);
    }

    [Property(MaxTest = 1000)]
    public bool Update16_AnyChange_EqualsFullRecomputation(byte[] data, ushort newValue)
    {
        if (data.Length < 4)
        {
            return true;
        }

        // Treat bytes 0-1 as the checksum field and bytes 2-3 as the field that changes.
        data[0] = data[1] = 0;
        ushort check = Checksum.Compute(data);
        ushort old = (ushort)(data[2] << 8 | data[3]);
        data[2] = (byte)(newValue >> 8);
        data[3] = (byte)newValue;
        ushort incremental = Checksum.Update16(check, old, newValue);
        ushort full = Checksum.Compute(data);
        return incremental == full || (incremental is 0 or 0xFFFF && full is 0 or 0xFFFF);
    }

    [Property(MaxTest = 1000)]
    public bool UpdateAddress_AnyIpv6Change_EqualsFullRecomputation(byte[] data, ulong h1, ulong l1, ulong h2, ulong l2)
    {
        var oldAddress = new InetAddress(h1 | 1UL << 63, l1);
        var newAddress = new InetAddress(h2 | 1UL << 63, l2);
        byte[] buffer = new byte[18 + data.Length];
        oldAddress.WriteTo(buffer.AsSpan(2));
        data.CopyTo(buffer, 18);
        ushort check = Checksum.Compute(buffer);
        newAddress.WriteTo(buffer.AsSpan(2));
        ushort incremental = Checksum.UpdateAddress(check, oldAddress, newAddress);
        ushort full = Checksum.Compute(buffer);
        return incremental == full || (incremental is 0 or 0xFFFF && full is 0 or 0xFFFF);
    }

    [Property(MaxTest = 1000)]
    public bool Delta32_Applied_EqualsUpdate32(ushort checksum, uint oldValue, uint newValue) =>
        Checksum.ApplyDelta(checksum, Checksum.Delta32(oldValue, newValue)) == Checksum.Update32(checksum, oldValue, newValue);

    private static ushort ReferenceSum(byte[] data, uint initial)
    {
        // RFC 1071 section 4.1, the straightforward C loop.
        ulong sum = initial;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += (uint)(data[i] << 8 | data[i + 1]);
        }

        if (i < data.Length)
        {
            sum += (uint)data[i] << 8;
        }

        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)sum;
    }
}
