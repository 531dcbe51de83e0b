using Lvs.Core;
using Lvs.Director.Configuration;
using Lvs.Director.Statistics;

namespace Lvs.Director.Tests.Configuration;

/// <summary>
/// The listings against expected text produced from ipvsadm's own format strings (print_title, print_service_entry,
/// print_largenum) by an independent printf implementation (Python's %-formatting), for a table with IPv4, IPv6 (wide
/// columns), UDP one-packet, persistent with a netmask, firewall-mark, scheduler flags, NAT/DR/GUE servers.
/// </summary>
public sealed class IpvsadmListingTests
{

    // The table every listing test prints, as an ipvsadm script (added in this order: the kernel's list order).
    internal const string Rules = """
        -A -t 10.0.0.100:80 -s wlc
        -a -t 10.0.0.100:80 -r 10.0.0.1 -g -w 1
        -a -t 10.0.0.100:80 -r 10.0.0.2:8080 -m -w 3
        -A -u 10.0.0.100:53 -s rr -o
        -a -u 10.0.0.100:53 -r 10.0.0.3:53 -m -w 0
        -A -f 7 -s sh -b sh-fallback,sh-port -p 600 -M 255.255.255.0
        -a -f 7 -r 10.0.1.5:0 -i --tun-type gue --tun-port 6080 --tun-csum -w 2
        -A -t [2001:db8::100]:443 -s mh -b mh-port
        -a -t [2001:db8::100]:443 -r [2001:db8:ffff:ffff:ffff:ffff:ffff:1]:8443 -m -w 5
        -A -t 200.1.1.1:80 -s rr -p
        -a -t 200.1.1.1:80 -r 192.168.100.200:80 -x 100 -y 50 -g
        """;
    private static readonly string List = Join(
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  200.1.1.1:80 rr persistent 300",
        "  -> 192.168.100.200:80           Route   1      0          0         ",
        "TCP  10.0.0.100:80 wlc",
        "  -> 10.0.0.1:80                  Route   1      0          0         ",
        "  -> 10.0.0.2:8080                Masq    3      0          0         ",
        "UDP  10.0.0.100:53 rr ops",
        "  -> 10.0.0.3:53                  Masq    0      0          0         ",
        "TCP  [2001:db8::100]:443 mh (mh-port)",
        "  -> [2001:db8:ffff:ffff:ffff:ffff:ffff:1]:8443 Masq    5      0          0         ",
        "FWM  7 sh (sh-fallback,sh-port) persistent 600 mask 255.255.255.0",
        "  -> 10.0.1.5:0                   Tunnel  2      0          0         ");

    private static readonly string NoSort = Join(
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  10.0.0.100:80 wlc",
        "  -> 10.0.0.2:8080                Masq    3      0          0         ",
        "  -> 10.0.0.1:80                  Route   1      0          0         ",
        "UDP  10.0.0.100:53 rr ops",
        "  -> 10.0.0.3:53                  Masq    0      0          0         ",
        "FWM  7 sh (sh-fallback,sh-port) persistent 600 mask 255.255.255.0",
        "  -> 10.0.1.5:0                   Tunnel  2      0          0         ",
        "TCP  [2001:db8::100]:443 mh (mh-port)",
        "  -> [2001:db8:ffff:ffff:ffff:ffff:ffff:1]:8443 Masq    5      0          0         ",
        "TCP  200.1.1.1:80 rr persistent 300",
        "  -> 192.168.100.200:80           Route   1      0          0         ");

    private static readonly string Stats = Join(
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
        "  -> RemoteAddress:Port",
        "TCP  200.1.1.1:80                        0        0        0        0        0",
        "  -> 192.168.100.200:80                  0        0        0        0        0",
        "TCP  10.0.0.100:80                     123 99999999  100000K     123G    5000M",
        "  -> 10.0.0.1:80                      100T        1        2        3        4",
        "  -> 10.0.0.2:8080                       0        0        0        0        0",
        "UDP  10.0.0.100:53                       0        0        0        0        0",
        "  -> 10.0.0.3:53                         0        0        0        0        0",
        "TCP  [2001:db8::100]:443                 0        0        0        0        0",
        "  -> [2001:db8:ffff:ffff:ffff:ffff:ffff:1]:8443        0        0        0        0        0",
        "FWM  7                                   0        0        0        0        0",
        "  -> 10.0.1.5:0                          0        0        0        0        0");

    private static readonly string StatsExact = Join(
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
        "  -> RemoteAddress:Port",
        "TCP  200.1.1.1:80                        0        0        0        0        0",
        "  -> 192.168.100.200:80                  0        0        0        0        0",
        "TCP  10.0.0.100:80                     123 99999999 100000000 123456789012 5000000000",
        "  -> 10.0.0.1:80                  100000000000000        1        2        3        4",
        "  -> 10.0.0.2:8080                       0        0        0        0        0",
        "UDP  10.0.0.100:53                       0        0        0        0        0",
        "  -> 10.0.0.3:53                         0        0        0        0        0",
        "TCP  [2001:db8::100]:443                 0        0        0        0        0",
        "  -> [2001:db8:ffff:ffff:ffff:ffff:ffff:1]:8443        0        0        0        0        0",
        "FWM  7                                   0        0        0        0        0",
        "  -> 10.0.1.5:0                          0        0        0        0        0");

    private static readonly string Rate = Join(
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS",
        "  -> RemoteAddress:Port",
        "TCP  200.1.1.1:80                        0        0        0        0        0",
        "  -> 192.168.100.200:80                  0        0        0        0        0",
        "TCP  10.0.0.100:80                       1        2        3        4        5",
        "  -> 10.0.0.1:80                         0        0        0        0        0",
        "  -> 10.0.0.2:8080                123456789        7        8  999999K    1000M",
        "UDP  10.0.0.100:53                       0        0        0        0        0",
        "  -> 10.0.0.3:53                         0        0        0        0        0",
        "TCP  [2001:db8::100]:443                 0        0        0        0        0",
        "  -> [2001:db8:ffff:ffff:ffff:ffff:ffff:1]:8443        0        0        0        0        0",
        "FWM  7                                   0        0        0        0        0",
        "  -> 10.0.1.5:0                          0        0        0        0        0");

    private static readonly string Thresholds = Join(
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn ",
        "  -> RemoteAddress:Port",
        "TCP  200.1.1.1:80 rr persistent 300",
        "  -> 192.168.100.200:80           100        50         0          0         ",
        "TCP  10.0.0.100:80 wlc",
        "  -> 10.0.0.1:80                  0          0          0          0         ",
        "  -> 10.0.0.2:8080                0          0          0          0         ",
        "UDP  10.0.0.100:53 rr ops",
        "  -> 10.0.0.3:53                  0          0          0          0         ",
        "TCP  [2001:db8::100]:443 mh (mh-port)",
        "  -> [2001:db8:ffff:ffff:ffff:ffff:ffff:1]:8443 0          0          0          0         ",
        "FWM  7 sh (sh-fallback,sh-port) persistent 600 mask 255.255.255.0",
        "  -> 10.0.1.5:0                   0          0          0          0         ");

    private static readonly string PersistentConn = Join(
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn ",
        "  -> RemoteAddress:Port",
        "TCP  200.1.1.1:80 rr persistent 300",
        "  -> 192.168.100.200:80           1         0           0          0         ",
        "TCP  10.0.0.100:80 wlc",
        "  -> 10.0.0.1:80                  1         0           0          0         ",
        "  -> 10.0.0.2:8080                3         0           0          0         ",
        "UDP  10.0.0.100:53 rr ops",
        "  -> 10.0.0.3:53                  0         0           0          0         ",
        "TCP  [2001:db8::100]:443 mh (mh-port)",
        "  -> [2001:db8:ffff:ffff:ffff:ffff:ffff:1]:8443 5         0           0          0         ",
        "FWM  7 sh (sh-fallback,sh-port) persistent 600 mask 255.255.255.0",
        "  -> 10.0.1.5:0                   2         0           0          0         ");

    private static readonly string TunInfo = Join(
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn",
        "TCP  200.1.1.1:80 rr persistent 300",
        "  -> 192.168.100.200:80           Route   n/a           1      0          0         ",
        "TCP  10.0.0.100:80 wlc",
        "  -> 10.0.0.1:80                  Route   n/a           1      0          0         ",
        "  -> 10.0.0.2:8080                Masq    n/a           3      0          0         ",
        "UDP  10.0.0.100:53 rr ops",
        "  -> 10.0.0.3:53                  Masq    n/a           0      0          0         ",
        "TCP  [2001:db8::100]:443 mh (mh-port)",
        "  -> [2001:db8:ffff:ffff:ffff:ffff:ffff:1]:8443 Masq    n/a           5      0          0         ",
        "FWM  7 sh (sh-fallback,sh-port) persistent 600 mask 255.255.255.0",
        "  -> 10.0.1.5:0                   Tunnel  gue:6080:+c   2      0          0         ");


    private const string Save = """
        -A -t 200.1.1.1:80 -s rr -p 300
        -a -t 200.1.1.1:80 -r 192.168.100.200:80 -g -w 1
        -A -t 10.0.0.100:80 -s wlc
        -a -t 10.0.0.100:80 -r 10.0.0.1:80 -g -w 1
        -a -t 10.0.0.100:80 -r 10.0.0.2:8080 -m -w 3
        -A -u 10.0.0.100:53 -s rr -o
        -a -u 10.0.0.100:53 -r 10.0.0.3:53 -m -w 0
        -A -t [2001:db8::100]:443 -s mh -b mh-port
        -a -t [2001:db8::100]:443 -r [2001:db8:ffff:ffff:ffff:ffff:ffff:1]:8443 -m -w 5
        -A -f 7 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port
        -a -f 7 -r 10.0.1.5:0 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum

        """;

    [Fact]
    public void List_Numeric_PrintsIpvsadmColumnsSortedAsLibipvs() =>
        Assert.Equal(List, IpvsadmListing.List(Table().Snapshot));

    [Fact]
    public void List_NoSort_PrintsServicesInAddedOrderAndServersInKernelListOrder() =>
        Assert.Equal(NoSort, IpvsadmListing.List(Table().Snapshot, new IpvsadmListFormat { NoSort = true }));

    [Fact]
    public void List_Stats_PrintsLargeCountersWithKMGTSuffixes() =>
        Assert.Equal(Stats, IpvsadmListing.List(Table().Snapshot, new IpvsadmListFormat { Stats = true }, new FakeStatistics()));

    [Fact]
    public void List_StatsExact_PrintsCountersInFullWidened() =>
        Assert.Equal(StatsExact, IpvsadmListing.List(Table().Snapshot, new IpvsadmListFormat { Stats = true, Exact = true }, new FakeStatistics()));

    [Fact]
    public void List_Rate_PrintsServerPacketRatesEightWideAndByteRatesAsLargeNumbers() =>
        Assert.Equal(Rate, IpvsadmListing.List(Table().Snapshot, new IpvsadmListFormat { Rate = true }, new FakeStatistics()));

    [Fact]
    public void List_Thresholds_PrintsUpperAndLowerThresholds() =>
        Assert.Equal(Thresholds, IpvsadmListing.List(Table().Snapshot, new IpvsadmListFormat { Thresholds = true }));

    [Fact]
    public void List_PersistentConn_PrintsWeightAndPersistentConnections() =>
        Assert.Equal(PersistentConn, IpvsadmListing.List(Table().Snapshot, new IpvsadmListFormat { PersistentConnections = true }));

    [Fact]
    public void List_TunInfo_PrintsTunnelTypePortAndChecksum() =>
        Assert.Equal(TunInfo, IpvsadmListing.List(Table().Snapshot, new IpvsadmListFormat { TunnelInfo = true }));

    [Fact]
    public void Save_Numeric_PrintsIpvsadmSaveRulesSorted() =>
        Assert.Equal(Save, IpvsadmListing.Save(Table().Snapshot));

    [Fact]
    public void Save_ThenParse_GivesBackTheSameTable()
    {
        var copy = new ServiceTable();
        IpvsadmRulesParser.Parse(IpvsadmListing.Save(Table().Snapshot)).ApplyTo(copy);
        Assert.Equal(Save, IpvsadmListing.Save(copy.Snapshot));
    }

    [Fact]
    public void Timeout_Defaults_PrintsKernelDefaults()
    {
        var timeouts = new Lvs.ConnectionTracking.ConnectionTimeouts();
        Assert.Equal("Timeout (tcp tcpfin udp): 900 120 300\n", IpvsadmListing.Timeout(timeouts));
        timeouts.SetIpvsadm(3600, 0, 60);
        Assert.Equal("Timeout (tcp tcpfin udp): 3600 120 60\n", IpvsadmListing.Timeout(timeouts));
    }

    [Theory]
    [InlineData(0UL, false, "        0")]
    [InlineData(99_999_999UL, false, " 99999999")]
    [InlineData(100_000_000UL, false, "  100000K")]
    [InlineData(999_999_999UL, false, "  999999K")]
    [InlineData(1_000_000_000UL, false, "    1000M")]
    [InlineData(99_999_999_999UL, false, "   99999M")]
    [InlineData(100_000_000_000UL, false, "     100G")]
    [InlineData(100_000_000_000_000UL, false, "     100T")]
    [InlineData(12_345_678UL, true, " 12345678")]
    [InlineData(123_456_789UL, true, " 123456789")]
    public void LargeNumber_AsPrintLargenum(ulong value, bool exact, string expected) =>
        Assert.Equal(expected, IpvsadmListing.LargeNumber(value, exact));

    [Fact]
    public void List_Ipv6TunnelServerOfIpv4Service_IsNotCutAt28Characters()
    {
        // ipvsadm cuts the server column by the server's family (e->af), not the service's.
        var table = new ServiceTable();
        IpvsadmRulesParser.Parse("-A -f 9 -s rr\n-a -f 9 -r [2001:db8:ffff:ffff:ffff:ffff:ffff:2]:0 -i\n").ApplyTo(table);
        Assert.Equal(
            "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\nFWM  9 rr\n  -> [2001:db8:ffff:ffff:ffff:ffff:ffff:2]:0 Tunnel  1      0          0         \n",
            IpvsadmListing.List(table.Snapshot));
    }

    [Fact]
    public void ListAndSave_ShWithOnlyFlag3_PrintNoFlagNameAsIpvsadm()
    {
        // print_sched_flags names only sh-fallback and sh-port for sh: the listing shows " ()", save leaves -b out.
        var table = new ServiceTable();
        var key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.1:80"));
        _ = table.AddService(new VirtualServiceOptions(key) { Scheduler = "sh", SchedulerFlags = Lvs.Scheduling.SchedulerFlags.Flag3 });
        _ = table.AddRealServer(key, new RealServerOptions(InetEndpoint.Parse("10.0.0.2:80")));
        Assert.EndsWith("TCP  10.0.0.1:80 sh ()\n  -> 10.0.0.2:80                  Route   1      0          0         \n", IpvsadmListing.List(table.Snapshot), StringComparison.Ordinal);
        Assert.Equal("-A -t 10.0.0.1:80 -s sh\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1\n", IpvsadmListing.Save(table.Snapshot));
    }

    internal static ServiceTable Table()
    {
        var table = new ServiceTable();
        IpvsadmRulesParser.Parse(Rules, "table.rules").ApplyTo(table);
        return table;
    }

    private static string Join(params string[] lines) => string.Join("\n", lines) + "\n";

    private sealed class FakeStatistics : IIpvsadmStatistics
    {
        public IpvsCounters GetCounters(VirtualService service) =>
            service.Key.Endpoint == InetEndpoint.Parse("10.0.0.100:80") && service.Key.Protocol == L4Protocol.Tcp
                ? new IpvsCounters(123, 99_999_999, 100_000_000, 123_456_789_012, 5_000_000_000)
                : default;

        public IpvsCounters GetCounters(RealServer server) =>
            server.Endpoint == InetEndpoint.Parse("10.0.0.1:80") ? new IpvsCounters(100_000_000_000_000, 1, 2, 3, 4) : default;

        public IpvsRates GetRates(VirtualService service) =>
            service.Key.Endpoint == InetEndpoint.Parse("10.0.0.100:80") && service.Key.Protocol == L4Protocol.Tcp
                ? new IpvsRates(1, 2, 3, 4, 5)
                : default;

        public IpvsRates GetRates(RealServer server) =>
            server.Endpoint == InetEndpoint.Parse("10.0.0.2:8080") ? new IpvsRates(123_456_789, 7, 8, 999_999_999, 1_000_000_000) : default;
    }
}
