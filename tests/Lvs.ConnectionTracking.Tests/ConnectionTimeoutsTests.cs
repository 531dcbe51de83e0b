
namespace Lvs.ConnectionTracking.Tests;

public class ConnectionTimeoutsTests
{
    [Fact]
    public void Defaults_AreKernelTimeouts()
    {
        var t = new ConnectionTimeouts();
        int[] kernel = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120];
        for (int s = 0; s < kernel.Length; s++)
        {
            Assert.Equal(kernel[s], t.GetTcp((TcpConnectionState)s));
        }

        Assert.Equal(300, t.Udp);
    }

    [Fact]
    public void SetIpvsadm_TcpTcpfinUdp_SetEstablishedFinWaitUdp()
    {
        var t = new ConnectionTimeouts();
        t.SetIpvsadm(7200, 30, 60);
        Assert.Equal(7200, t.GetTcp(TcpConnectionState.Established));
        Assert.Equal(30, t.GetTcp(TcpConnectionState.FinWait));
        Assert.Equal(60, t.Udp);
        Assert.Equal(120, t.GetTcp(TcpConnectionState.TimeWait));
    }

    [Fact]
    public void SetIpvsadm_Zero_LeavesValueUnchanged()
    {
        var t = new ConnectionTimeouts();
        t.SetIpvsadm(0, 0, 45);
        Assert.Equal(900, t.GetTcp(TcpConnectionState.Established));
        Assert.Equal(120, t.GetTcp(TcpConnectionState.FinWait));
        Assert.Equal(45, t.Udp);
    }

    [Fact]
    public void SetIpvsadm_Negative_ThrowsAndChangesNothing()
    {
        var t = new ConnectionTimeouts();
        Assert.Throws<ArgumentOutOfRangeException>(() => t.SetIpvsadm(100, -1, 10));
        Assert.Equal(900, t.GetTcp(TcpConnectionState.Established));
        Assert.Equal(300, t.Udp);
    }
}
