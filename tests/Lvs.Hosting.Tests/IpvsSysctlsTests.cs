using Lvs.Director;

namespace Lvs.Hosting.Tests;

public class IpvsSysctlsTests
{
    [Fact]
    public void Apply_EverySupportedName_SetsItsOption()
    {
        var options = IpvsSysctls.Apply(new DirectorOptions(), ["conn_reuse_mode=2", "expire_nodest_conn=1", "expire_quiescent_template=1", "nat_icmp_send=1", "schedule_icmp=1", "secure_tcp=3", "sloppy_tcp=1"]);
        Assert.Equal(2, options.Connections.ConnectionReuseMode);
        Assert.True(options.ScheduleIcmpErrors);
        Assert.True(options.Connections.ExpireNoDestinationConnections);
        Assert.True(options.Connections.ExpireQuiescentTemplate);
        Assert.Equal(3, options.Connections.SecureTcp);
        Assert.True(options.SloppyTcp);
        Assert.True(options.NatIcmpSend);
    }

    [Fact]
    public void Apply_SloppySctp_SetsSloppySctp_OffByDefault()
    {
        Assert.True(IpvsSysctls.Apply(new DirectorOptions(), ["net.ipv4.vs.sloppy_sctp=1"]).SloppySctp);
        Assert.False(IpvsSysctls.Apply(new DirectorOptions(), ["sloppy_sctp = 0"]).SloppySctp);
        Assert.False(new DirectorOptions().SloppySctp);
        Assert.Contains("sloppy_sctp", IpvsSysctls.Supported);
    }

    [Fact]
    public void Apply_PmtuDisc_SetsTunnelPathMtuDiscovery_OnByDefault_OtherForwardingOptionsKept()
    {
        var start = new DirectorOptions { Forwarding = new Lvs.Forwarding.ForwardingOptions { Mtu = 9000 } };
        var off = IpvsSysctls.Apply(start, ["net.ipv4.vs.pmtu_disc=0"]);
        Assert.False(off.Forwarding.TunnelPathMtuDiscovery);
        Assert.Equal(9000, off.Forwarding.Mtu);
        Assert.True(IpvsSysctls.Apply(off, ["pmtu_disc = 1"]).Forwarding.TunnelPathMtuDiscovery);
        Assert.True(new DirectorOptions().Forwarding.TunnelPathMtuDiscovery);
        Assert.Contains("pmtu_disc", IpvsSysctls.Supported);
    }

    [Fact]
    public void Apply_RunEstimation_SetsRunEstimation_OnByDefault()
    {
        Assert.False(IpvsSysctls.Apply(new DirectorOptions(), ["net.ipv4.vs.run_estimation=0"]).RunEstimation);
        Assert.True(IpvsSysctls.Apply(new DirectorOptions { RunEstimation = false }, ["run_estimation = 1"]).RunEstimation);
        Assert.True(new DirectorOptions().RunEstimation);
        Assert.Contains("run_estimation", IpvsSysctls.Supported);
    }

    [Fact]
    public void Apply_NoSettings_KernelDefaults()
    {
        var options = IpvsSysctls.Apply(new DirectorOptions(), []);
        Assert.Equal(1, options.Connections.ConnectionReuseMode);
        Assert.False(options.Connections.ExpireNoDestinationConnections);
        Assert.False(options.SloppyTcp);
        Assert.False(options.ScheduleIcmpErrors);
        Assert.False(options.NatIcmpSend);
    }

    [Fact]
    public void Apply_SysctlDLineWithPrefixAndSpaces_LaterSettingWins()
    {
        var options = IpvsSysctls.Apply(new DirectorOptions(), ["net.ipv4.vs.conn_reuse_mode = 3", "conn_reuse_mode=0"]);
        Assert.Equal(0, options.Connections.ConnectionReuseMode);
    }

    [Fact]
    public void Apply_KeepsTheOtherOptions()
    {
        var start = new DirectorOptions { HopLimit = 12, Connections = new() { Capacity = 1234 } };
        var options = IpvsSysctls.Apply(start, ["conn_reuse_mode=3"]);
        Assert.Equal(12, options.HopLimit);
        Assert.Equal(1234, options.Connections.Capacity);
    }

    [Theory]
    [InlineData("conn_reuse_mode", "expected NAME=VALUE")]
    [InlineData("=3", "expected NAME=VALUE")]
    [InlineData("conn_reuse_mode=x", "'x' is not an integer")]
    [InlineData("conn_reuse_mode=4", "4 is out of range (0 to 3)")]
    [InlineData("secure_tcp=-1", "-1 is out of range (0 to 3)")]
    [InlineData("net.ipv4.vs.drop_entry=1", "drop_entry: not an IPVS sysctl this director applies")]
    public void Apply_BadSetting_SaysWhatIsWrong(string setting, string message)
    {
        var error = Assert.Throws<FormatException>(() => IpvsSysctls.Apply(new DirectorOptions(), [setting]));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
