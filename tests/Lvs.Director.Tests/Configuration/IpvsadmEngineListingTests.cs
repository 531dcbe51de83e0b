using Lvs.Director.Configuration;

namespace Lvs.Director.Tests.Configuration;

/// <summary>The listings of a running engine: its connections, counters and timeouts.</summary>
public sealed class IpvsadmEngineListingTests
{
    [Fact]
    public void List_EngineAfterOneSyn_ShowsActiveConnectionCountersAndConnectionEntry()
    {
        // SYN_RECV counts as active (ip_vs_proto_tcp.c tcp_state_active, "count pre-established TCP states as active").
        using var lab = new Lab();
        IpvsadmRulesParser.Parse("-A -t 10.0.0.100:80 -s rr\n-a -t 10.0.0.100:80 -r 10.1.0.11:8080 -m -w 1\n").ApplyTo(lab.Table, lab.Engine.Connections.Timeouts);
        lab.Engine.Neighbors.Set(1, lab.Server(1), Lab.ServerMac(1));
        var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S");
        int bytes = PacketAssert.Ip(syn.Output(lab.Send(syn, 0))).TotalLength;

        Assert.Equal(
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            + "Prot LocalAddress:Port Scheduler Flags\n"
            + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            + "TCP  10.0.0.100:80 rr\n"
            + "  -> 10.1.0.11:8080               Masq    1      1          0         \n",
            IpvsadmListing.List(lab.Engine, null));

        // "%-33s" then print_largenum ("%9llu") five times, for the service and (after "  -> %-28s") the server.
        string counters = $"        1        1        0{bytes,9}        0\n";
        Assert.Equal(
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            + "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
            + "  -> RemoteAddress:Port\n"
            + "TCP  10.0.0.100:80".PadRight(33) + counters
            + "  -> " + "10.1.0.11:8080".PadRight(28) + counters,
            IpvsadmListing.List(lab.Engine, new IpvsadmListFormat { Stats = true }));

        string connections = IpvsadmListing.Connections(lab.Engine.Connections);
        Assert.StartsWith("IPVS connection entries\npro expire state       source             virtual            destination\nTCP 01:00  SYN_RECV    10.0.0.2:40000     10.0.0.100:80      10.1.0.11:8080\n", connections, StringComparison.Ordinal);
        Assert.Equal("Timeout (tcp tcpfin udp): 900 120 300\n", IpvsadmListing.Timeout(lab.Engine.Connections.Timeouts));

        // --persistent-conn: list_conn's wider header ("pro expire %-11s %-18s %-18s %-18s %-16s %s"); print_conn keeps
        // the narrow line for a connection without persistence-engine data (sscanf read 9 fields, not 11).
        string persistent = IpvsadmListing.Connections(lab.Engine.Connections, persistentConnections: true);
        string header = $"pro expire {"state",-11} {"source",-18} {"virtual",-18} {"destination",-18} {"pe name",-16} pe_data";
        Assert.StartsWith($"IPVS connection entries\n{header}\nTCP 01:00  SYN_RECV    10.0.0.2:40000     10.0.0.100:80      10.1.0.11:8080\n", persistent, StringComparison.Ordinal);
    }
}
