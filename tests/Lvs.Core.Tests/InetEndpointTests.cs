namespace Lvs.Core.Tests;

public class InetEndpointTests
{
    [Theory]
    [InlineData("10.0.0.1:80", "10.0.0.1", 80)]
    [InlineData("[2001:db8::1]:443", "2001:db8::1", 443)]
    [InlineData("0.0.0.0:0", "0.0.0.0", 0)]
    public void Parse_ValidText_RoundTrips(string text, string address, ushort port)
    {
        var endpoint = InetEndpoint.Parse(text);
        Assert.Equal(InetAddress.Parse(address), endpoint.Address);
        Assert.Equal(port, endpoint.Port);
        Assert.Equal(text, endpoint.ToString());
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("10.0.0.1:")]
    [InlineData("10.0.0.1:65536")]
    [InlineData("2001:db8::1:80")]
    [InlineData("[2001:db8::1]80")]
    [InlineData("[2001:db8::1]:-1")]
    public void TryParse_InvalidText_ReturnsFalse(string text)
    {
        Assert.False(InetEndpoint.TryParse(text, out _));
    }

    [Fact]
    public void MacAddress_ParseFormat_RoundTrips()
    {
        var mac = MacAddress.Parse("02:00:5E:10:00:01");
        Assert.Equal("02:00:5e:10:00:01", mac.ToString());
        Assert.Equal(0x02005E100001UL, mac.Value);
        Assert.False(mac.IsMulticast);
        Assert.True(MacAddress.Broadcast.IsBroadcast);
        Assert.False(MacAddress.TryParse("02:00:5e:10:00", out _));
        byte[] bytes = new byte[6];
        mac.WriteTo(bytes);
        Assert.Equal(mac, MacAddress.Read(bytes));
    }

    [Fact]
    public void VirtualServiceKey_Formats_AsIpvsadmDoes()
    {
        Assert.Equal("TCP 10.0.0.1:80", VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.1:80")).ToString());
        Assert.Equal("FWM 7", VirtualServiceKey.ForFirewallMark(7).ToString());
        Assert.Throws<ArgumentException>(() => VirtualServiceKey.ForAddress(L4Protocol.Icmp, default));
    }
}
