using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Director.Configuration;
using Lvs.Scheduling;

namespace Lvs.Director.Tests.Configuration;

/// <summary>ipvsadm rules in: realistic files give the table ipvsadm builds; broken files give every error with its line.</summary>
public sealed class IpvsadmRulesParserTests
{
    private static readonly InetEndpoint Vip = InetEndpoint.Parse("192.0.2.10:80");

    [Fact]
    public void Parse_IpvsadmSaveOutput_BuildsTheTableIpvsadmBuilds()
    {
        const string Saved = """
            -A -t 192.0.2.10:80 -s wrr -p 300 -M 255.255.255.0
            -a -t 192.0.2.10:80 -r 10.1.0.2:80 -m -w 5
            -a -t 192.0.2.10:80 -r 10.1.0.1:80 -g -w 1
            -A -u 192.0.2.10:53 -s sh -o -b sh-port
            -a -u 192.0.2.10:53 -r 10.1.0.3:53 -i -w 2 --tun-type gre --tun-csum
            -A -f 42 -6 -s rr
            -a -f 42 -6 -r [2001:db8::7]:0 -g -w 3
            """;
        var table = new ServiceTable();
        IpvsadmRulesParser.Parse(Saved, "saved.rules").ApplyTo(table);

        var web = table.Snapshot.Find(VirtualServiceKey.ForAddress(L4Protocol.Tcp, Vip))!;
        Assert.Equal("wrr", web.Options.Scheduler);
        Assert.Equal(300, web.Options.PersistenceTimeout);
        Assert.Equal(24, web.Options.PersistencePrefixLength);
        // Kernel list order: the server added last is at the head.
        Assert.Equal([InetEndpoint.Parse("10.1.0.1:80"), InetEndpoint.Parse("10.1.0.2:80")], web.RealServers.Select(s => s.Endpoint));
        var nat = web.FindRealServer(InetEndpoint.Parse("10.1.0.2:80"))!;
        Assert.Equal(ForwardingMethod.Nat, nat.Options.Method);
        Assert.Equal(5, nat.Options.Weight);

        var dns = table.Snapshot.Find(VirtualServiceKey.ForAddress(L4Protocol.Udp, InetEndpoint.Parse("192.0.2.10:53")))!;
        Assert.True(dns.Options.OnePacket);
        Assert.Equal(SchedulerFlags.Port, dns.Options.SchedulerFlags);
        var tunnel = dns.Configured.Single().Options;
        Assert.Equal((ForwardingMethod.Tunnel, TunnelType.Gre, TunnelFlags.Checksum), (tunnel.Method, tunnel.TunnelType, tunnel.TunnelFlags));

        var mark = table.Snapshot.Find(VirtualServiceKey.ForFirewallMark(42, isIPv6: true))!;
        Assert.Equal(InetEndpoint.Parse("[2001:db8::7]:0"), mark.Configured.Single().Options.Endpoint);
    }

    [Fact]
    public void Parse_CommandLineSyntax_LongOptionsDefaultsAndComments()
    {
        const string Script = """
            #!/bin/sh
            # the web farm
            ipvsadm --clear
            ipvsadm --add-service --tcp-service 192.0.2.10:80 --persistent   # no value: 300 s
            ipvsadm --add-server --tcp-service=192.0.2.10:80 --real-server=10.1.0.1 \
                    --weight=7 --u-threshold 100 --l-threshold 10
            ipvsadm -a -t 192.0.2.10:80 -r 10.1.0.2:8080 -g -w4
            ipvsadm -e -t 192.0.2.10:80 -r 10.1.0.2 --masquerading -w 9
            ipvsadm --set 3600 60 0
            """;
        var table = new ServiceTable();
        var timeouts = new ConnectionTimeouts();
        var rules = IpvsadmRulesParser.Parse(Script, "farm.sh");
        Assert.Equal([3, 4, 5, 7, 8, 9], rules.Commands.Select(c => c.Line));
        rules.ApplyTo(table, timeouts);

        var service = table.Snapshot.Find(VirtualServiceKey.ForAddress(L4Protocol.Tcp, Vip))!;
        Assert.Equal(SchedulerNames.WeightedLeastConnection, service.Options.Scheduler);
        Assert.Equal(VirtualServiceOptions.DefaultPersistenceTimeout, service.Options.PersistenceTimeout);
        var first = service.FindRealServer(InetEndpoint.Parse("10.1.0.1:80"))!.Options;
        Assert.Equal((7, 100, 10, ForwardingMethod.DirectRouting), (first.Weight, first.UpperThreshold, first.LowerThreshold, first.Method));
        // -g keeps the service's port (ipvsadm overwrites the 8080); -e then names the server by that port.
        var second = service.FindRealServer(InetEndpoint.Parse("10.1.0.2:80"))!.Options;
        Assert.Equal((9, ForwardingMethod.Nat), (second.Weight, second.Method));
        Assert.Equal(3600, timeouts.GetTcp(TcpConnectionState.Established));
        Assert.Equal(60, timeouts.GetTcp(TcpConnectionState.FinWait));
        Assert.Equal(300, timeouts.Udp);
    }

    [Fact]
    public void Parse_SctpService_BuildsAnSctpServiceThatListsAndSavesAsIpvsadm()
    {
        const string Rules = """
            -A --sctp-service 192.0.2.10:36412 -s rr
            -a --sctp-service 192.0.2.10:36412 -r 10.1.0.1:9000 -m -w 2
            -a --sctp-service=192.0.2.10:36412 --real-server=10.1.0.2 --gatewaying
            -A -t 192.0.2.10:36412 -s wlc
            """;
        var table = new ServiceTable();
        IpvsadmRulesParser.Parse(Rules, "sctp.rules").ApplyTo(table);

        var sctp = table.Snapshot.Find(VirtualServiceKey.ForAddress(L4Protocol.Sctp, InetEndpoint.Parse("192.0.2.10:36412")))!;
        Assert.Equal("rr", sctp.Options.Scheduler);
        Assert.Equal([InetEndpoint.Parse("10.1.0.2:36412"), InetEndpoint.Parse("10.1.0.1:9000")], sctp.RealServers.Select(s => s.Endpoint));
        Assert.Equal(ForwardingMethod.Nat, sctp.FindRealServer(InetEndpoint.Parse("10.1.0.1:9000"))!.Options.Method);
        Assert.Equal(ForwardingMethod.DirectRouting, sctp.FindRealServer(InetEndpoint.Parse("10.1.0.2:36412"))!.Options.Method);
        Assert.NotNull(table.Snapshot.Find(VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("192.0.2.10:36412"))));

        // ipvsadm's print_service_entry: "--sctp-service" in rules (-S), "SCTP" in the listing; SCTP (132) sorts after TCP.
        string saved = IpvsadmListing.Save(table.Snapshot);
        Assert.Equal(
            [
                "-A -t 192.0.2.10:36412 -s wlc",
                "-A --sctp-service 192.0.2.10:36412 -s rr",
                "-a --sctp-service 192.0.2.10:36412 -r 10.1.0.1:9000 -m -w 2",
                "-a --sctp-service 192.0.2.10:36412 -r 10.1.0.2:36412 -g -w 1",
            ],
            saved.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        string listed = IpvsadmListing.List(table.Snapshot);
        Assert.Contains("\nSCTP  192.0.2.10:36412 rr\n", listed, StringComparison.Ordinal);

        // What -S saves parses back to the same table.
        var again = new ServiceTable();
        IpvsadmRulesParser.Parse(saved, "saved.rules").ApplyTo(again);
        Assert.Equal(saved, IpvsadmListing.Save(again.Snapshot));
    }

    [Fact]
    public void Parse_BrokenFile_ReportsEveryErrorWithFileAndLine()
    {
        const string Broken = """
            -A -t 192.0.2.10:80 -s rr
            -A -t www.example.com:80
            -a -t 192.0.2.10:http -r 10.1.0.1
            -a -t 192.0.2.10:80 -r 10.1.0.1 -w 70000
            -A -t 192.0.2.11:0 -s rr
            -A -t 192.0.2.12:80 -o
            --sctp-service 192.0.2.10:80 -A
            -A --sctp-service 192.0.2.10:80
            -A -t 192.0.2.13:5060 --pe sip -p
            -a -t 192.0.2.10:80 -r 10.1.0.5 -m -i
            -a -t 192.0.2.10:80 -r 10.1.0.5 -i --tun-type gue
            -a -t 192.0.2.10:80 -r 10.1.0.5 -i --tun-type gre --tun-port 5555
            -a -t 192.0.2.10:80 -r 10.1.0.5 -i --tun-type gue --tun-port 6080 --tun-nocsum --tun-csum
            -a -t 192.0.2.10:80 -r 10.1.0.5 -m --tun-type gue
            -a -t 192.0.2.10:80 -r [2001:db8::5]:80 -m
            -A -t 192.0.2.14:80 -s sh -b mh-port
            -A -t 192.0.2.14:80 -b bogus
            -A -t 192.0.2.14:80 -w 3
            -a -t 192.0.2.10:80
            -A -t 192.0.2.14:80 -p 3000000
            --set 1 2
            -L -n
            -A -t 192.0.2.14:80 extra
            -a -t 192.0.2.10:80 -r 10.1.0.5 -x 5 -y 10
            -A -t 192.0.2.15:80 -p 60 -M 255.0.255.0
            -A -f 0
            -A -t 192.0.2.15:80 -6
            """;
        var error = Assert.Throws<ConfigurationException>(() => IpvsadmRulesParser.Parse(Broken, "broken.rules"));
        Assert.Equal(
            [
                "broken.rules:2: illegal virtual server address[:port] specified: host name 'www.example.com' is not resolved (give a numeric address)",
                "broken.rules:3: illegal virtual server address[:port] specified: service name 'http' is not resolved (give a numeric port)",
                "broken.rules:4: illegal weight specified",
                "broken.rules:5: Zero port specified for non-persistent service",
                "broken.rules:6: One-Packet Scheduling is only for UDP virtual services",
                "broken.rules:7: a rule begins with its command (-A -E -D -C -a -e -d --set), not `--sctp-service'",
                "broken.rules:9: --pe sip: persistence engines are not supported by this director",
                "broken.rules:10: multiple 'forwarding-method' options specified",
                "broken.rules:11: You need to supply the 'tun-port' option for the 'gue' tunnel type",
                "broken.rules:12: Illegal 'tun-port' option with the 'gre' tunnel type",
                "broken.rules:13: The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gue' tunnel type",
                "broken.rules:14: Tunnel options conflict with forward method",
                "broken.rules:15: Different address family is allowed only for tunneling servers",
                "broken.rules:16: incompatible scheduler flag `mh-port'",
                "broken.rules:17: invalid scheduler flag `bogus'",
                "broken.rules:18: Illegal 'weight' option with the 'add-service' command",
                "broken.rules:19: You need to supply the 'real-server' option for the 'add-server' command",
                "broken.rules:20: invalid timeout value `3000000' specified",
                "broken.rules:21: --set option requires 3 timeout values",
                "broken.rules:22: `-L' is not a rule: a rules file holds only -A -E -D -C -a -e -d --set (and the FULLNAT forks' -P -Q)",
                "broken.rules:23: unexpected argument extra",
                "broken.rules:24: lower threshold is higher than upper threshold",
                "broken.rules:25: netmask 255.0.255.0 is not contiguous: this director keeps the persistence granularity as a prefix length",
                "broken.rules:26: invalid fwmark value `0' specified",
                "broken.rules:27: -6 used before -f",
            ],
            error.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Parse_CommandNotFirst_IsRefusedAsIpvsadmDoes()
    {
        var error = Assert.Throws<ConfigurationException>(() => IpvsadmRulesParser.Parse("-t 192.0.2.10:80 -A\n", "x"));
        Assert.Equal("x:1: a rule begins with its command (-A -E -D -C -a -e -d --set), not `-t'", error.Errors.Single().ToString());
    }

    [Fact]
    public void ApplyTo_FileThatWouldFail_ChangesNothingAndReportsEveryFailure()
    {
        var table = new ServiceTable();
        _ = table.AddService(new VirtualServiceOptions(VirtualServiceKey.ForAddress(L4Protocol.Tcp, Vip)));
        const string Rules = """
            -A -t 192.0.2.10:80 -s rr
            -A -t 192.0.2.20:80 -s nosuch
            -a -t 192.0.2.99:80 -r 10.1.0.1
            -a -t 192.0.2.10:80 -r 10.1.0.1
            -a -t 192.0.2.10:80 -r 10.1.0.1
            -e -t 192.0.2.10:80 -r 10.1.0.2
            -d -t 192.0.2.10:80 -r 10.1.0.3
            -E -t 192.0.2.30:80
            -D -t 192.0.2.30:80
            --set 10 10 10
            """;
        long version = table.Snapshot.Version;
        var error = Assert.Throws<ConfigurationException>(() => IpvsadmRulesParser.Parse(Rules, "live.rules").ApplyTo(table));
        Assert.Equal(
            [
                "live.rules:1: Service already exists",
                "live.rules:2: Scheduler not found: 'nosuch'",
                "live.rules:3: Service not defined",
                "live.rules:5: Destination already exists",
                "live.rules:6: No such destination",
                "live.rules:7: No such destination",
                "live.rules:8: No such service",
                "live.rules:9: No such service",
                "live.rules:10: --set needs the connection timeouts to change (pass the engine's Connections.Timeouts)",
            ],
            error.Errors.Select(e => e.ToString()));
        Assert.Equal(version, table.Snapshot.Version);
    }

    [Fact]
    public void Parse_Ipv6_BracketsWithPortAndBareAddressWithout()
    {
        var rules = IpvsadmRulesParser.Parse("-A -t [2001:db8::1]:443\n-a -t [2001:db8::1]:443 -r 2001:db8::2 -m\n-A -u 2001:db8::1 -p 60 -M 64\n");
        Assert.Equal(InetEndpoint.Parse("[2001:db8::1]:443"), rules.Commands[0].Service.Endpoint);
        // A bare IPv6 real server has no port: the service's is copied.
        Assert.Equal(InetEndpoint.Parse("[2001:db8::2]:443"), rules.Commands[1].Server!.Endpoint);
        Assert.Equal((ushort)0, rules.Commands[2].Service.Endpoint.Port);
        Assert.Equal(64, rules.Commands[2].ServiceOptions!.PersistencePrefixLength);
    }

    [Fact]
    public void Parse_FullNatWithLocalAddresses_KeepsMethodAndLocalAddresses()
    {
        const string Rules = """
            -A -t 192.0.2.10:80 -s rr
            -a -t 192.0.2.10:80 -r 10.1.0.1:8080 --fullnat -w 2
            -P -t 192.0.2.10:80 -z 10.9.0.1
            --add-laddr -t 192.0.2.10:80 --laddr 10.9.0.2
            -Q -t 192.0.2.10:80 -z 10.9.0.1
            """;
        var rules = IpvsadmRulesParser.Parse(Rules);
        var table = new ServiceTable();
        rules.ApplyTo(table);
        var server = table.Snapshot.Services.Single().Configured.Single().Options;
        Assert.Equal((ForwardingMethod.FullNat, (ushort)8080), (server.Method, server.Endpoint.Port));
        Assert.Equal([(VirtualServiceKey.ForAddress(L4Protocol.Tcp, Vip), InetAddress.Parse("10.9.0.2"))], rules.LocalAddresses());
        Assert.Contains("-a -t 192.0.2.10:80 -r 10.1.0.1:8080 --fullnat -w 2\n", IpvsadmListing.Save(table.Snapshot), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EditService_ReplacesEveryOptionAsIpvsadmDoes()
    {
        var table = new ServiceTable();
        IpvsadmRulesParser.Parse("-A -t 192.0.2.10:80 -s sh -b sh-port -p 60\n-E -t 192.0.2.10:80 -s rr\n").ApplyTo(table);
        var options = table.Snapshot.Services.Single().Options;
        // -E without -p makes the service non-persistent; without -s it would be wlc.
        Assert.Equal(("rr", 0, SchedulerFlags.None), (options.Scheduler, options.PersistenceTimeout, options.SchedulerFlags));
    }

    [Theory]
    [InlineData("-A -t 192.0.2.10:80 -n", "Illegal 'numeric' option with the 'add-service' command")]
    [InlineData("-a -t 192.0.2.10:80 -r 10.1.0.1 -p", "Illegal 'persistent' option with the 'add-server' command")]
    [InlineData("-A -a -t 192.0.2.10:80", "multiple commands specified")]
    [InlineData("-A -t 192.0.2.10:80 -s rr -s wrr", "multiple 'scheduler' options specified")]
    [InlineData("-A -t [::ffff:192.0.2.10]:80", "illegal virtual server address[:port] specified: IPv4-mapped IPv6 address '::ffff:192.0.2.10' is not supported (give the IPv4 address)")]
    [InlineData("-A -t 192.0.2.10:80 -M web", "illegal virtual server persistent mask specified: host name 'web' is not resolved (give a dotted netmask)")]
    [InlineData("-a -t 192.0.2.10:80 -r db.example:5432 -m", "illegal real server address[:port] specified: host name 'db.example' is not resolved (give a numeric address)")]
    [InlineData("-A -t 192.0.2.10 --bogus", "invalid option `--bogus'")]
    [InlineData("-a -t 192.0.2.10:80 -r 10.1.0.1 -i --tun-type vxlan", "illegal tunnel type specified")]
    [InlineData("-A -u [2001:db8::1]:53 -p 60 -M 129", "illegal ipv6 netmask specified")]
    [InlineData("-D", "You need to supply the 'service-address' option for the 'delete-service' command")]
    public void Parse_InvalidLine_GivesIpvsadmsMessage(string line, string message)
    {
        var error = Assert.Throws<ConfigurationException>(() => IpvsadmRulesParser.Parse(line + "\n", "one.rules"));
        Assert.Equal($"one.rules:1: {message}", Assert.Single(error.Errors).ToString());
    }

    [Fact]
    public void Parse_SortAndCommentsAndBlankLines_AreAccepted()
    {
        var rules = IpvsadmRulesParser.Parse("\n# comment\n   \n-A -t 192.0.2.10:80 --sort # trailing\r\n");
        Assert.Equal(4, Assert.Single(rules.Commands).Line);
    }
}
