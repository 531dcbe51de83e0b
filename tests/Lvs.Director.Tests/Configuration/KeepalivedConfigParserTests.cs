using Lvs.Core;
using Lvs.Director.Configuration;
using Lvs.HealthChecks;

namespace Lvs.Director.Tests.Configuration;

/// <summary>
/// Realistic keepalived.conf files (TestData/keepalived) and the exact table each must build, printed as
/// <c>ipvsadm-save -n</c> (the listing is the oracle: it is what ipvsadm shows of the kernel keepalived fills), with
/// the notices of what was skipped or corrected; broken files and the exact errors each must give.
/// </summary>
public sealed class KeepalivedConfigParserTests
{
    private const string Dir = "TestData/keepalived/";

    public static TheoryData<string, string, string[]> Tables => new()
    {
        {
            "nat.conf",
            "-A -t 192.0.2.10:80 -s wrr\n"
            + "-a -t 192.0.2.10:80 -r 10.1.0.11:8080 -m -w 3\n"
            + "-a -t 192.0.2.10:80 -r 10.1.0.12:8080 -m -w 1\n",
            [
                "nat.conf:2: 'global_defs' is not done by this director: skipped",
                "nat.conf:6: 'vrrp_instance' is not done by this director: skipped",
            ]
        },
        {
            // Port omitted: the service's; a DR port that differs is reset (check_data.c), with keepalived's warning.
            "dr.conf",
            "-A -t 192.0.2.20:443 -s sh -b sh-fallback,sh-port\n"
            + "-a -t 192.0.2.20:443 -r 10.1.0.21:443 -g -w 2\n"
            + "-a -t 192.0.2.20:443 -r 10.1.0.22:443 -g -w 2\n",
            ["dr.conf:12: WARNING - virtual server 192.0.2.20 443 and real server 10.1.0.22:8443 ports don't match - resetting"]
        },
        {
            // The virtual server's TUN options are the default of its servers; ipip crosses families.
            "tun.conf",
            "-A -t 192.0.2.30:80 -s wlc\n"
            + "-a -t 192.0.2.30:80 -r 10.1.0.31:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum\n"
            + "-a -t 192.0.2.30:80 -r 10.1.0.32:80 -i -w 1 --tun-type gre --tun-nocsum\n"
            + "-a -t 192.0.2.30:80 -r [2001:db8:1::33]:80 -i -w 1 --tun-type ipip\n",
            []
        },
        {
            "fullnat.conf",
            "-A -t 192.0.2.40:80 -s rr\n"
            + "-a -t 192.0.2.40:80 -r 10.1.0.41:8080 --fullnat -w 1\n"
            + "-a -t 192.0.2.40:80 -r 10.1.0.42:8080 --fullnat -w 1\n",
            []
        },
        {
            // persistence_timeout without a value is keepalived's 360 s (not ipvsadm's 300); IPv6 granularity is a prefix length.
            "persistence.conf",
            "-A -t 192.0.2.50:0 -s rr -p 360\n"
            + "-a -t 192.0.2.50:0 -r 10.1.0.51:0 -g -w 1\n"
            + "-A -t 192.0.2.50:443 -s wlc -p 600 -M 255.255.255.0\n"
            + "-a -t 192.0.2.50:443 -r 10.1.0.51:443 -g -w 1\n"
            + "-A -t [2001:db8::50]:443 -s rr -p 360 -M 64\n"
            + "-a -t [2001:db8::50]:443 -r [2001:db8:1::51]:443 -g -w 1\n",
            []
        },
        {
            "fwmark.conf",
            "-A -f 7 -s lc -p 120\n"
            + "-a -f 7 -r 10.1.0.71:0 -g -w 5\n"
            + "-a -f 7 -r 10.1.0.72:0 -g -w 5\n"
            + "-A -f 8 -6 -s mh -b mh-port\n"
            + "-a -f 8 -6 -r [2001:db8:1::81]:0 -i -w 1 --tun-type ipip\n",
            ["fwmark.conf:5: WARNING - fwmark virtual server fwmark 7, real server 10.1.0.71 has port specified - port will be ignored"]
        },
        {
            // One service per group entry: an address range, an address with its own port, a firewall mark.
            "group.conf",
            "-A -t 192.0.2.60:80 -s rr\n"
            + "-a -t 192.0.2.60:80 -r 10.1.0.61:80 -g -w 1\n"
            + "-a -t 192.0.2.60:80 -r 10.1.0.62:80 -g -w 1\n"
            + "-A -t 192.0.2.61:80 -s rr\n"
            + "-a -t 192.0.2.61:80 -r 10.1.0.61:80 -g -w 1\n"
            + "-a -t 192.0.2.61:80 -r 10.1.0.62:80 -g -w 1\n"
            + "-A -t 192.0.2.62:80 -s rr\n"
            + "-a -t 192.0.2.62:80 -r 10.1.0.61:80 -g -w 1\n"
            + "-a -t 192.0.2.62:80 -r 10.1.0.62:80 -g -w 1\n"
            + "-A -t 192.0.2.70:8080 -s rr\n"
            + "-a -t 192.0.2.70:8080 -r 10.1.0.61:8080 -g -w 1\n"
            + "-a -t 192.0.2.70:8080 -r 10.1.0.62:8080 -g -w 1\n"
            + "-A -f 9 -s rr\n"
            + "-a -f 9 -r 10.1.0.61:0 -g -w 1\n"
            + "-a -f 9 -r 10.1.0.62:0 -g -w 1\n",
            []
        },
        {
            "sorry.conf",
            "-A -t 192.0.2.90:80 -s wrr\n"
            + "-a -t 192.0.2.90:80 -r 10.1.0.91:8080 -m -w 2\n"
            + "-a -t 192.0.2.90:80 -r 10.1.0.92:8080 -m -w 2\n",
            ["sorry.conf:9: WARNING - virtual server 192.0.2.90 80 and real server 10.1.0.99:8080 ports don't match - resetting"]
        },
        {
            "checkers.conf",
            "-A -t 192.0.2.100:80 -s rr\n"
            + "-a -t 192.0.2.100:80 -r 10.1.0.101:80 -m -w 1\n"
            + "-a -t 192.0.2.100:80 -r 10.1.0.102:443 -m -w 1\n"
            + "-a -t 192.0.2.100:80 -r 10.1.0.103:80 -m -w 1\n"
            + "-a -t 192.0.2.100:80 -r 10.1.0.104:80 -m -w 1\n"
            + "-A -u 192.0.2.100:53 -s rr\n"
            + "-a -u 192.0.2.100:53 -r 10.1.0.105:53 -m -w 1\n",
            []
        },
        {
            // include with a glob and with a brace expression, relative to the including file; an include inside a block.
            "include/main.conf",
            "-A -t 192.0.2.120:80 -s rr\n"
            + "-a -t 192.0.2.120:80 -r 10.1.0.121:8080 -m -w 2\n"
            + "-a -t 192.0.2.120:80 -r 10.1.0.122:8080 -m -w 2\n"
            + "-A -t 192.0.2.121:80 -s rr\n"
            + "-a -t 192.0.2.121:80 -r 10.1.0.131:80 -g -w 1\n"
            + "-A -t 192.0.2.122:443 -s rr\n"
            + "-a -t 192.0.2.122:443 -r 10.1.0.141:443 -g -w 1\n"
            + "-A -u 192.0.2.122:53 -s rr -o\n"
            + "-a -u 192.0.2.122:53 -r 10.1.0.151:53 -g -w 1\n",
            ["include/main.conf:1: 'global_defs' is not done by this director: skipped"]
        },
        {
            // Config id lb1: the @lb1 lines count; $VAR and ${VAR}; a multi-line definition used twice with $N set before each use.
            "conditional.conf",
            "-A -t 192.0.2.110:80 -s rr\n"
            + "-a -t 192.0.2.110:80 -r 10.1.0.111:80 -m -w 5\n"
            + "-a -t 192.0.2.110:80 -r 10.1.0.112:80 -m -w 5\n"
            + "-A -t 192.0.2.111:80 -s rr\n"
            + "-a -t 192.0.2.111:80 -r 10.1.0.121:80 -m -w 2\n"
            + "-a -t 192.0.2.111:80 -r 10.1.0.122:80 -m -w 2\n",
            []
        },
    };

    public static TheoryData<string, string[]> Broken => new()
    {
        {
            "broken/keywords.conf",
            [
                "broken/keywords.conf:3: unknown keyword 'lvs_schedule' in virtual_server",
                "broken/keywords.conf:6: Real server weight '70000' is not a number from 0 to 65535",
                "broken/keywords.conf:7: HTTP_GET has no url",
                "broken/keywords.conf:8: HTTP/SSL_GET checker url has no path",
                "broken/keywords.conf:14: real_server outside a virtual_server",
                "broken/keywords.conf:16: unknown keyword 'vrrp_instanse'",
            ]
        },
        {
            "broken/braces.conf",
            [
                "broken/braces.conf:8: '}' without a matching '{'",
                "broken/braces.conf:9: '{' of 'virtual_server' is never closed (missing '}')",
            ]
        },
        {
            "broken/duplicates.conf",
            [
                "broken/duplicates.conf:6: real server 10.1.0.11 80 is duplicated in virtual_server 192.0.2.10 80",
                "broken/duplicates.conf:9: virtual server TCP 192.0.2.10:80 is defined twice",
                "broken/duplicates.conf:15: include 'missing/*.conf': no such file",
                "broken/duplicates.conf:16: include 'nothere.conf': no such file",
            ]
        },
        {
            // Errors of included files name the included file (joined to the including file's directory), all at once,
            // in the order the files are read (the include at line 4 comes before line 6).
            "broken/include.conf",
            [
                "broken/inc/servers.inc:2: Real server weight '-1' is not a number from 0 to 65535",
                "broken/include.conf:6: unknown keyword 'wieght' in real_server",
                "broken/inc/more.conf:6: port '70000' is not a number from 0 to 65535",
            ]
        },
        {
            "broken/values.conf",
            [
                "broken/values.conf:1: '192.0.2.300' is not a numeric IP address (host names are not resolved)",
                "broken/values.conf:3: port 'http' is not a number from 0 to 65535",
                "broken/values.conf:6: Invalid lvs_scheduler 'fastest'",
                "broken/values.conf:7: Invalid tunnel option type for virtual server (only TUN takes options)",
                "broken/values.conf:9: delay_loop '-1' is not a time in seconds above 0",
                "broken/values.conf:11: gue tunnels require port, otherwise cannot have port.",
                "broken/values.conf:12: FILE_CHECK has no track_file specified",
                "broken/values.conf:14: MISC_CHECK has no misc_path",
                "broken/values.conf:15: misc_timeout 'abc' is not a number from 0 to 4233600",
            ]
        },
    };

    public static TheoryData<string, string[]> BrokenPing => new()
    {
        {
            // keepalived takes connect_port and bind_port in PING_CHECK and ignores them; here they are errors, as is
            // any keyword keepalived's PING_CHECK does not have (it has only the common ones).
            "broken/ping.conf",
            [
                "broken/ping.conf:7: connect_port does not apply to PING_CHECK (an ICMP echo has no ports)",
                "broken/ping.conf:8: bind_port does not apply to PING_CHECK (an ICMP echo has no ports)",
                "broken/ping.conf:9: unknown keyword 'payload' in PING_CHECK",
                "broken/ping.conf:10: bind_if (checks bound to an interface or marked) is not supported by this director",
                "broken/ping.conf:11: connect_timeout 'abc' is not a time in seconds",
                "broken/ping.conf:13: 'PING_CHECK' needs a { } block",
                "broken/ping.conf:16: PING_CHECK bindto 2001:db8::1 and the address pinged 10.1.0.122 are not of the same address family",
            ]
        },
    };

    private static KeepalivedConfiguration Load(string file, string configId = "lb1") =>
        KeepalivedConfigParser.Load(Dir + file, new KeepalivedParserOptions { ConfigId = configId });

    [Theory]
    [MemberData(nameof(Tables))]
    public void Load_RealisticFile_BuildsExactlyKeepalivedsTableWithItsNotices(string file, string save, string[] notices)
    {
        var configuration = Load(file);
        var table = new ServiceTable();
        configuration.ApplyTo(table);

        Assert.Equal(save, IpvsadmListing.Save(table.Snapshot));
        Assert.Equal(notices.Select(n => Dir + n), configuration.Notices.Select(n => n.ToString()));
    }

    [Theory]
    [MemberData(nameof(Broken))]
    public void Load_BrokenFile_ReportsEveryErrorAtOnceAsFileLineMessage(string file, string[] expected)
    {
        var e = Assert.Throws<ConfigurationException>(() => Load(file));
        Assert.Equal(expected.Select(n => Dir + n), e.Errors.Select(error => error.ToString()));
    }

    [Fact]
    public void Load_ConditionalLinesOfAnotherConfigId_AreLeftOut()
    {
        var table = new ServiceTable();
        Load("conditional.conf", "lb2").ApplyTo(table);
        Assert.Equal(
            "-A -t 192.0.2.110:80 -s rr\n"
            + "-a -t 192.0.2.110:80 -r 10.1.0.112:80 -m -w 1\n"
            + "-A -t 192.0.2.111:80 -s rr\n"
            + "-a -t 192.0.2.111:80 -r 10.1.0.121:80 -m -w 2\n"
            + "-a -t 192.0.2.111:80 -r 10.1.0.122:80 -m -w 2\n",
            IpvsadmListing.Save(table.Snapshot));
    }

    [Fact]
    public void Load_FullNat_LocalAddressGroupGivesTheServicesLocalAddresses()
    {
        var key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("192.0.2.40:80"));
        Assert.Equal([(key, InetAddress.Parse("10.1.0.100")), (key, InetAddress.Parse("10.1.0.101"))], Load("fullnat.conf").LocalAddresses());
    }

    [Fact]
    public void Load_EveryChecker_OptionsAndKeepalivedsPerCheckerDefaults()
    {
        var vs = Load("checkers.conf").VirtualServers;
        var web = vs[0].RealServers;

        // HTTP_GET: two urls, status codes, digest, the virtual server's virtualhost and delay_loop; delay_before_retry 3 s (check_http.c).
        var http = web[0].Checks.Single();
        Assert.Equal(KeepalivedCheckKind.HttpGet, http.Kind);
        Assert.Equal(["/health", "/index.html"], http.Http!.Urls.Select(u => u.Path));
        Assert.Equal([new HttpStatusCodeRange(200, 200), new HttpStatusCodeRange(204, 206)], http.Http.Urls[0].StatusCodes);
        Assert.Equal([HttpStatusCodeRange.Success], http.Http.Urls[1].StatusCodes);
        Assert.Equal("9b3a0c85a887a256d6939da88aabd8cd", http.Http.Urls[1].Digest);
        Assert.Equal("www.example.com", http.Http.VirtualHost);
        Assert.False(http.Http.UseTls);
        var httpTiming = http.Create(web[0].Endpoint).Timing;
        Assert.Equal(new CheckTiming { DelayLoop = TimeSpan.FromSeconds(10), Retry = 2, DelayBeforeRetry = TimeSpan.FromSeconds(3) }, httpTiming);
        Assert.Equal(TimeSpan.FromSeconds(3), http.ConnectTimeout);

        var ssl = web[1].Checks.Single();
        Assert.Equal(KeepalivedCheckKind.SslGet, ssl.Kind);
        Assert.True(ssl.Http!.UseTls);
        Assert.True(ssl.Http.EnableSni);
        Assert.Equal(System.Net.HttpVersion.Version11, ssl.Http.HttpVersion);

        // MISC_CHECK: retry 0 (check_misc.c); alpha and inhibit_on_failure from the real server.
        var misc = web[2].Checks.Single();
        Assert.True(web[2].InhibitOnFailure);
        Assert.Equal(new MiscCheckOptions { Path = "/bin/true 10.1.0.103", Timeout = TimeSpan.FromSeconds(5), Dynamic = true }, misc.Misc);
        Assert.Equal(new CheckTiming { DelayLoop = TimeSpan.FromSeconds(10), Retry = 0, Alpha = true }, misc.Create(web[2].Endpoint).Timing);

        // TCP_CHECK: the connection options; retry from the real server.
        var tcp = web[3].Checks.Single();
        Assert.Equal(InetAddress.Parse("10.1.0.204"), tcp.ConnectIp);
        Assert.Equal((ushort)8080, tcp.ConnectPort);
        Assert.Equal(InetAddress.Parse("10.1.0.1"), tcp.BindTo);
        Assert.Equal((ushort)40000, tcp.BindPort);
        Assert.Equal(new CheckTiming { DelayLoop = TimeSpan.FromSeconds(10), Retry = 4, DelayBeforeRetry = TimeSpan.FromSeconds(2.5), Warmup = TimeSpan.Zero }, tcp.Create(web[3].Endpoint).Timing);

        // DNS_CHECK: retry 3, delay_before_retry = delay_loop (check_dns.c); UDP_CHECK: the hex as keepalived reads it.
        var dns = vs[1].RealServers[0].Checks[0];
        Assert.Equal(new DnsCheckOptions { Type = "A", Name = "example.com" }, dns.Dns);
        var dnsTiming = dns.Create(vs[1].RealServers[0].Endpoint).Timing;
        Assert.Equal(3, dnsTiming.Retry);
        Assert.Equal(TimeSpan.FromSeconds(60), dnsTiming.DelayBeforeRetry);
        var udp = vs[1].RealServers[0].Checks[1].Udp!;
        Assert.Equal(new byte[] { 0x01, 0x02, 0x0a }, udp.Payload.ToArray());
        Assert.True(udp.RequireReply);
        Assert.Equal(new byte[] { 0x0a, 0x0b }, udp.ExpectedReply.ToArray());
        Assert.Equal((2, 64), (udp.MinReplyLength, udp.MaxReplyLength));
    }

    [Theory]
    [MemberData(nameof(BrokenPing))]
    public void Load_BrokenPingCheck_ReportsEachWrongKeywordAsFileLine(string file, string[] expected)
    {
        var e = Assert.Throws<ConfigurationException>(() => Load(file));
        Assert.Equal(expected.Select(n => Dir + n), e.Errors.Select(error => error.ToString()));
    }

    [Fact]
    public void Load_PingCheck_ConnectionOptionsAndKeepalivedsDefaults()
    {
        var configuration = Load("ping.conf");
        var vs = configuration.VirtualServers;

        // keepalived's defaults (check_ping.c keeps queue_checker's): retry 1, delay_before_retry 1 s, connect_timeout 5 s.
        var plain = vs[0].RealServers[0].Checks.Single();
        Assert.Equal(KeepalivedCheckKind.Ping, plain.Kind);
        Assert.Equal(TimeSpan.FromSeconds(2), plain.ConnectTimeout);
        Assert.Null(plain.ConnectPort);
        var created = plain.Create(vs[0].RealServers[0].Endpoint);
        Assert.IsType<PingChecker>(created.Checker);
        Assert.Equal(new CheckTiming { DelayLoop = TimeSpan.FromSeconds(10) }, created.Timing);
        Assert.Equal((1, TimeSpan.FromSeconds(1)), (created.Timing.Retry, created.Timing.DelayBeforeRetry));

        // The common keywords: connect_ip, bindto, retry, delay_before_retry, warmup; alpha from the real server.
        var options = vs[0].RealServers[1].Checks.Single();
        Assert.Equal(InetAddress.Parse("10.1.1.122"), options.ConnectIp);
        Assert.Equal(InetAddress.Parse("10.1.0.1"), options.BindTo);
        Assert.Equal(CheckConnectionOptions.DefaultConnectTimeout, options.ConnectTimeout);
        Assert.Equal(
            new CheckTiming { DelayLoop = TimeSpan.FromSeconds(10), Retry = 3, DelayBeforeRetry = TimeSpan.FromSeconds(4), Warmup = TimeSpan.Zero, Alpha = true },
            options.Create(vs[0].RealServers[1].Endpoint).Timing);

        // An IPv6 server gets an ICMPv6 echo; an empty block is all defaults.
        var v6 = vs[1].RealServers[0].Checks.Single();
        Assert.Equal(KeepalivedCheckKind.Ping, v6.Kind);
        Assert.IsType<PingChecker>(v6.Create(vs[1].RealServers[0].Endpoint).Checker);

        Assert.Equal(
            [
                Dir + "ping.conf:16: PING_CHECK bindto: the echo request is sent from 10.1.0.1 (keepalived ignores bindto for PING_CHECK)",
                Dir + "ping.conf:20: log_all_failures: every failed check is logged by the health monitor at debug level already: skipped",
            ],
            configuration.Notices.Select(n => n.ToString()));
    }

    [Fact]
    public async Task Watch_PingCheck_RegistersAPingChecker()
    {
        var configuration = Load("ping.conf");
        var table = new ServiceTable();
        configuration.ApplyTo(table);
        await using var health = new DirectorHealth(table);
        using var registration = configuration.Watch(health);

        var key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("192.0.2.120:80"));
        Assert.IsType<PingChecker>(Assert.Single(registration.CheckersOf(key, InetEndpoint.Parse("10.1.0.121:80"))));
        Assert.IsType<PingChecker>(Assert.Single(registration.RealServers(key)[InetEndpoint.Parse("10.1.0.122:80")].Options.Checks).Checker);
    }

    [Fact]
    public async Task Watch_SorryServerQuorumAndChecks_RegisteredWithTheHealth()
    {
        var configuration = Load("sorry.conf");
        var table = new ServiceTable();
        configuration.ApplyTo(table);
        await using var health = new DirectorHealth(table);
        var registration = configuration.Watch(health);

        var key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("192.0.2.90:80"));
        var service = Assert.Single(registration.Services).Value;
        Assert.Equal(new VirtualServiceHealthOptions(key) { Quorum = 3, Hysteresis = 1, SorryServer = InetEndpoint.Parse("10.1.0.99:80") }, service.Options);
        var servers = registration.RealServers(key);
        var first = servers[InetEndpoint.Parse("10.1.0.91:8080")];
        Assert.True(first.Options.InhibitOnFailure);
        Assert.Equal(2, first.Options.Weight);
        Assert.IsType<TcpChecker>(Assert.Single(first.Options.Checks).Checker);
        Assert.False(servers[InetEndpoint.Parse("10.1.0.92:8080")].Options.InhibitOnFailure);
    }

    [Fact]
    public void Parse_VariableDefinedAfterUse_ExpandedAtUseTimeAndUndefinedLeftAsIs()
    {
        // keepalived.conf(5): "the substitution is done at replacement time and not at definition time".
        const string text = "$BASE=10.1.${SUB}\n$SUB=0\nvirtual_server 192.0.2.1 80 {\n  lvs_sched rr\n  protocol TCP\n  lvs_method NAT\n  real_server ${BASE}.1 80 {\n  }\n  $SUB=9\n  real_server ${BASE}.2 80 {\n    notify_up \"/bin/x ${UNDEFINED}\"\n  }\n}\n";
        var configuration = KeepalivedConfigParser.Parse(text);
        var servers = configuration.VirtualServers[0].RealServers;
        Assert.Equal(["10.1.0.1:80", "10.1.9.2:80"], servers.Select(s => s.Endpoint.ToString()));
        Assert.Equal("/bin/x ${UNDEFINED}", servers[1].NotifyUp);
    }

    [Fact]
    public void Parse_SequenceBlocks_RepeatTheLineWithTheVariableSet()
    {
        // keepalived.conf(5) "Sequence blocks": ~SEQ(var, start, step, end), start and step optional; ~SEQx in hexadecimal.
        const string text = "virtual_server_group v6 {\n  ~SEQx(H, 0xa, 0xc) 2001:db8::${H} 80\n}\n"
            + "virtual_server group v6 {\n  lvs_sched rr\n  lvs_method DR\n  protocol TCP\n  ~SEQ(N, 2) real_server 2001:db8:1::${N} { weight $N }\n}\n"
            + "virtual_server 192.0.2.1 80 {\n  lvs_sched rr\n  lvs_method NAT\n  protocol TCP\n  ~SEQ(N, 15, -2, 11) real_server 10.1.0.${N} 80 { weight 1 }\n}\n";
        var table = new ServiceTable();
        KeepalivedConfigParser.Parse(text).ApplyTo(table);
        Assert.Equal(
            "-A -t 192.0.2.1:80 -s rr\n"
            + "-a -t 192.0.2.1:80 -r 10.1.0.11:80 -m -w 1\n"
            + "-a -t 192.0.2.1:80 -r 10.1.0.13:80 -m -w 1\n"
            + "-a -t 192.0.2.1:80 -r 10.1.0.15:80 -m -w 1\n"
            + string.Concat(new[] { "a", "b", "c" }.Select(h =>
                $"-A -t [2001:db8::{h}]:80 -s rr\n-a -t [2001:db8::{h}]:80 -r [2001:db8:1::1]:80 -g -w 1\n-a -t [2001:db8::{h}]:80 -r [2001:db8:1::2]:80 -g -w 2\n")),
            IpvsadmListing.Save(table.Snapshot));
    }

    [Fact]
    public void Parse_ProtocolAndSchedulerAndMethodMissing_KeepalivedsDefaultsWithItsWarnings()
    {
        // check_data.c validate_check_config: no protocol is UDP, no scheduler wlc, no forwarding method NAT.
        var configuration = KeepalivedConfigParser.Parse("virtual_server 192.0.2.1 53 {\n  real_server 10.1.0.1 53 {\n  }\n}\n", "k.conf");
        var table = new ServiceTable();
        configuration.ApplyTo(table);
        Assert.Equal("-A -u 192.0.2.1:53 -s wlc\n-a -u 192.0.2.1:53 -r 10.1.0.1:53 -m -w 1\n", IpvsadmListing.Save(table.Snapshot));
        Assert.Equal(
            [
                "k.conf:1: Virtual server 192.0.2.1 53: no protocol set - defaulting to UDP",
                "k.conf:1: Virtual server 192.0.2.1 53: no scheduler set, setting default 'wlc'",
                "k.conf:1: Virtual server 192.0.2.1 53: no forwarding method set, setting default NAT",
            ],
            configuration.Notices.Select(n => n.ToString()));
    }

    [Fact]
    public void ApplyTo_ServiceAlreadyInTheTable_NothingChangesAndTheLineIsNamed()
    {
        var table = new ServiceTable();
        IpvsadmRulesParser.Parse("-A -t 192.0.2.10:80 -s rr\n").ApplyTo(table);
        var e = Assert.Throws<ConfigurationException>(() => Load("nat.conf").ApplyTo(table));
        Assert.Equal($"{Dir}nat.conf:16: Service already exists: TCP 192.0.2.10:80", Assert.Single(e.Errors).ToString());
        Assert.Empty(table.Snapshot.Services[0].Configured);
    }
    [Fact]
    public async Task Watch_NotifyScripts_RunOnUpAndDownTransitionsNotOnTheInitialState()
    {
        const string text = "virtual_server 10.0.0.100 80 {\n lvs_sched rr\n lvs_method NAT\n protocol TCP\n quorum_down \"/bin/q down\"\n quorum_up \"/bin/q up\"\n"
            + " real_server 10.1.0.11 8080 {\n  notify_up \"/bin/n up\"\n  notify_down \"/bin/n down\"\n  MISC_CHECK {\n   misc_path \"/bin/sh -c 'test -e /tmp/lvs-notify-test-down && exit 1; exit 0'\"\n   delay_loop 0.1\n   warmup 0\n  }\n }\n}\n";
        var configuration = KeepalivedConfigParser.Parse(text);
        var table = new ServiceTable();
        configuration.ApplyTo(table);
        await using var health = new DirectorHealth(table);
        var ran = new List<string>();
        var registration = configuration.Watch(health, runScript: script => { lock (ran) { ran.Add(script); } });
        string flag = "/tmp/lvs-notify-test-down";
        File.Delete(flag);
        health.Start();
        try
        {
            await Task.Delay(300, TestContext.Current.CancellationToken);
            lock (ran)
            {
                Assert.Empty(ran);
            }

            await File.WriteAllTextAsync(flag, "x", TestContext.Current.CancellationToken);
            await WaitFor(() => { lock (ran) { return ran.Count == 2; } });
            File.Delete(flag);
            await WaitFor(() => { lock (ran) { return ran.Count == 4; } });
            lock (ran)
            {
                Assert.Equal(["/bin/n down", "/bin/q down", "/bin/n up", "/bin/q up"], ran);
            }
        }
        finally
        {
            File.Delete(flag);
        }
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public void Parse_ProtocolSctp_BuildsAnSctpVirtualServer()
    {
        const string Text = """
            virtual_server 192.0.2.10 36412 {
                lb_algo rr
                lb_kind NAT
                protocol SCTP
                real_server 10.1.0.1 9000 {
                    weight 3
                }
            }
            """;
        var table = new ServiceTable();
        KeepalivedConfigParser.Parse(Text, "sctp.conf").ApplyTo(table);
        var service = table.Snapshot.Find(VirtualServiceKey.ForAddress(L4Protocol.Sctp, InetEndpoint.Parse("192.0.2.10:36412")))!;
        var server = Assert.Single(service.RealServers);
        Assert.Equal((InetEndpoint.Parse("10.1.0.1:9000"), ForwardingMethod.Nat, 3), (server.Endpoint, server.ForwardingMethod, server.Weight));
        Assert.Contains("-A --sctp-service 192.0.2.10:36412 -s rr", IpvsadmListing.Save(table.Snapshot), StringComparison.Ordinal);
    }
}
