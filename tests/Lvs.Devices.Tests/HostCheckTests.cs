using Lvs.Core;
using Lvs.Devices.Tests.Lab;

namespace Lvs.Devices.Tests;

public sealed class HostCheckTests : IDisposable
{
    private static readonly InetAddress Vip = InetAddress.Parse("192.0.2.10");
    private readonly NetworkLab _lab = new();

    public void Dispose() => _lab.Dispose();

    [Fact]
    public void Check_CleanHost_NoProblems()
    {
        var settings = new HostSettings
        {
            InterfaceName = "eth0",
            KernelAddresses = new Dictionary<string, IReadOnlyList<InetPrefix>> { ["eth0"] = [InetPrefix.Parse("192.0.2.1/24")] },
        };

        Assert.Empty(HostCheck.Check(settings, [Vip]));
    }

    [Fact]
    public void Check_VipIsAKernelAddressOnLoopback_ProblemWithTheDeleteCommand()
    {
        var settings = new HostSettings
        {
            InterfaceName = "eth0",
            KernelAddresses = new Dictionary<string, IReadOnlyList<InetPrefix>> { ["lo"] = [InetPrefix.Parse("192.0.2.10/32")] },
        };

        HostProblem problem = Assert.Single(HostCheck.Check(settings, [Vip]));
        Assert.Equal("ip addr del 192.0.2.10/32 dev lo", problem.Fix);
        Assert.Contains("kernel address on lo", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_ForwardingAndProxyArpOn_ProblemsWithSysctlCommands()
    {
        var settings = new HostSettings { InterfaceName = "eth0", Ipv4Forwarding = true, ProxyArp = true, Ipv6Forwarding = true };

        IReadOnlyList<HostProblem> ipv4Only = HostCheck.Check(settings, [Vip]);
        Assert.Equal(["sysctl -w net.ipv4.conf.eth0.forwarding=0", "sysctl -w net.ipv4.conf.all.proxy_arp=0 net.ipv4.conf.eth0.proxy_arp=0"], ipv4Only.Select(p => p.Fix));

        IReadOnlyList<HostProblem> withIpv6 = HostCheck.Check(settings, [Vip, InetAddress.Parse("2001:db8::10")]);
        Assert.Contains(withIpv6, p => p.Fix == "sysctl -w net.ipv6.conf.all.forwarding=0");
    }

    [Fact]
    public void Check_InterfaceDown_ProblemWithTheLinkUpCommand()
    {
        HostProblem problem = Assert.Single(HostCheck.Check(new HostSettings { InterfaceName = "eth1", InterfaceUp = false }, []));
        Assert.Equal("ip link set eth1 up", problem.Fix);
    }

    [Fact]
    public void Read_NamespaceWithForwardingAndAVipOnLoopback_CheckFindsBoth()
    {
        LabPrerequisites.Require();
        string ns = _lab.AddNamespace("h");
        (string link, _) = _lab.AddVeth(ns, "192.0.2.1/24", _lab.AddNamespace("o"), null);
        NetworkLab.RunIn(ns, "addr add 192.0.2.10/32 dev lo");
        IReadOnlyList<HostProblem> problems = NetworkLab.InNamespace(ns, () =>
        {
            File.WriteAllText($"/proc/sys/net/ipv4/conf/{link}/forwarding", "1");
            return HostCheck.Check(HostSettings.Read(link), [Vip]);
        });

        Assert.Equal(["ip addr del 192.0.2.10/32 dev lo", $"sysctl -w net.ipv4.conf.{link}.forwarding=0"], problems.Select(p => p.Fix));

        NetworkLab.InNamespace(ns, () => File.WriteAllText($"/proc/sys/net/ipv4/conf/{link}/forwarding", "0"));
        NetworkLab.RunIn(ns, "addr del 192.0.2.10/32 dev lo");
        Assert.Empty(NetworkLab.InNamespace(ns, () => HostCheck.Check(HostSettings.Read(link), [Vip])));
    }
}
