using System.Globalization;
using System.Text;

namespace Lvs.Samples.Director.Lab;

/// <summary>The lab's keepalived.conf: the VIP's service with wrr, the three real servers with TCP_CHECK every second.</summary>
public static class KeepalivedFile
{
    /// <summary>Writes the file.</summary>
    /// <param name="lab">The lab (its method and addresses).</param>
    /// <param name="path">Where.</param>
    /// <param name="servers">The real servers to list (indexes 0-2) with their weights.</param>
    public static void Write(LoadBalancerLab lab, string path, params (int Index, int Weight)[] servers) => Write(lab, path, ipv6: false, servers);

    /// <summary>Writes the file for the IPv4 or the IPv6 addresses (<see cref="LoadBalancerLab.AddIPv6"/>).</summary>
    /// <param name="lab">The lab (its method and addresses).</param>
    /// <param name="path">Where.</param>
    /// <param name="ipv6">The IPv6 VIP and real servers instead of the IPv4 ones.</param>
    /// <param name="servers">The real servers to list (indexes 0-2) with their weights.</param>
    public static void Write(LoadBalancerLab lab, string path, bool ipv6, params (int Index, int Weight)[] servers) =>
        Write(lab, path, ipv6, tunnel: null, servers);

    /// <summary>Writes the file, for a tunnelling lab with the tunnel's options (keepalived's <c>lvs_method TUN type gue port 6080 csum</c>).</summary>
    /// <param name="lab">The lab (its method and addresses).</param>
    /// <param name="path">Where.</param>
    /// <param name="ipv6">The IPv6 VIP and real servers instead of the IPv4 ones.</param>
    /// <param name="tunnel">What follows <c>lvs_method TUN</c> (e.g. <c>type gre csum</c>); null for none (IPIP).</param>
    /// <param name="servers">The real servers to list (indexes 0-2) with their weights.</param>
    public static void Write(LoadBalancerLab lab, string path, bool ipv6, string? tunnel, params (int Index, int Weight)[] servers)
    {
        string method = lab.Method switch
        {
            LabMethod.Nat => "NAT",
            LabMethod.FullNat => "FNAT",
            LabMethod.DirectRouting => "DR",
            _ => tunnel is null ? "TUN" : $"TUN {tunnel}",
        };
        var text = new StringBuilder();
        _ = text.Append(CultureInfo.InvariantCulture, $$"""
            virtual_server {{(ipv6 ? LoadBalancerLab.Vip6 : LoadBalancerLab.Vip)}} 80 {
                delay_loop 1
                lvs_sched wrr
                lvs_method {{method}}
                protocol TCP

            """);
        foreach (var (index, weight) in servers)
        {
            _ = text.Append(CultureInfo.InvariantCulture, $$"""
                    real_server {{(ipv6 ? lab.ServerAddress6(index) : lab.ServerAddress(index))}} 80 {
                        weight {{weight}}
                        TCP_CHECK {
                            connect_timeout 1
                            retry 1
                            delay_before_retry 1
                        }
                    }

                """);
        }

        _ = text.Append("}\n");
        File.WriteAllText(path, text.ToString());
    }
}
