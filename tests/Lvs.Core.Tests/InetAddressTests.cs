using System.Net;

namespace Lvs.Core.Tests;

public class InetAddressTests
{
    [Theory]
    [InlineData("10.1.2.3")]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    [InlineData("2001:db8::1")]
    [InlineData("::")]
    [InlineData("fe80::1:2:3:4")]
    public void Parse_RoundTripsThroughText(string text)
    {
        var address = InetAddress.Parse(text);
        Assert.Equal(IPAddress.Parse(text).ToString(), address.ToString());
        Assert.Equal(IPAddress.Parse(text), address.ToIPAddress());
    }

    [Theory]
    [InlineData("1")]
    [InlineData("1.2")]
    [InlineData("1.2.3")]
    [InlineData("256.1.1.1")]
    [InlineData("")]
    [InlineData("fe80::1%eth0")]
    [InlineData("hello")]
    public void TryParse_NotAnAddress_ReturnsFalse(string text)
    {
        Assert.False(InetAddress.TryParse(text, out _));
    }

    [Fact]
    public void IPv4_IsIPv4AndWritesFourBytes()
    {
        var address = InetAddress.FromIPv4(192, 168, 1, 20);
        Assert.True(address.IsIPv4);
        Assert.Equal(0xC0A80114u, address.IPv4Value);
        Span<byte> bytes = stackalloc byte[16];
        Assert.Equal(4, address.WriteTo(bytes));
        Assert.Equal(new byte[] { 192, 168, 1, 20 }, bytes[..4].ToArray());
    }

    /// <summary>IPv4 is exactly ::ffff:0:0/96: every bit outside the 32 address bits decides.</summary>
    [Theory]
    [InlineData(0UL, 0x0000_FFFF_0A00_0001UL, true)]
    [InlineData(0UL, 0x0000_FFFF_0000_0000UL, true)]
    [InlineData(0UL, 0x0000_FFFE_0A00_0001UL, false)]
    [InlineData(0UL, 0x0001_FFFF_0A00_0001UL, false)]
    [InlineData(0UL, 0xFFFF_FFFF_0A00_0001UL, false)]
    [InlineData(0UL, 0x0000_0000_0000_0001UL, false)]
    [InlineData(1UL, 0x0000_FFFF_0A00_0001UL, false)]
    [InlineData(0x8000_0000_0000_0000UL, 0x0000_FFFF_0A00_0001UL, false)]
    public void IsIPv4_OnlyForTheMappedPrefix(ulong high, ulong low, bool ipv4)
    {
        Assert.Equal(ipv4, new InetAddress(high, low).IsIPv4);
        Assert.Equal(!ipv4, new InetAddress(high, low).IsIPv6);
    }

    [Fact]
    public void Mask_Prefix_ClearsHostBits()
    {
        Assert.Equal(InetAddress.Parse("10.1.2.0"), InetAddress.Parse("10.1.2.3").Mask(24));
        Assert.Equal(InetAddress.Parse("10.1.2.0"), InetAddress.Parse("10.1.2.3").Mask(InetAddress.Parse("255.255.255.0")));
        Assert.Equal(InetAddress.Parse("2001:db8::"), InetAddress.Parse("2001:db8::ffff:1").Mask(64));
        Assert.Equal(InetAddress.Parse("2001:db8::ff00:0"), InetAddress.Parse("2001:db8::ffff:1").Mask(104));
        Assert.Equal(InetAddress.Parse("0.0.0.0"), InetAddress.Parse("10.1.2.3").Mask(0));
    }

    [FsCheck.Xunit.Property]
    public bool FromIPAddress_ToIPAddress_RoundTrips(byte[] raw, bool v6)
    {
        var bytes = new byte[v6 ? 16 : 4];
        Array.Copy(raw, bytes, Math.Min(raw.Length, bytes.Length));
        var ip = new IPAddress(bytes);
        if (ip.IsIPv4MappedToIPv6)
        {
            return InetAddress.FromIPAddress(ip).IsIPv4;
        }

        return InetAddress.FromIPAddress(ip).ToIPAddress().Equals(ip) && InetAddress.Parse(ip.ToString()) == InetAddress.FromIPAddress(ip);
    }
}
