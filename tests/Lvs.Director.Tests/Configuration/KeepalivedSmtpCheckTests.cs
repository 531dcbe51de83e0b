using Lvs.Core;
using Lvs.Director.Configuration;
using Lvs.HealthChecks;

namespace Lvs.Director.Tests.Configuration;

/// <summary>keepalived's SMTP_CHECK in keepalived.conf: its options, its defaults, its host blocks and its errors.</summary>
public sealed class KeepalivedSmtpCheckTests
{
    private static readonly InetEndpoint Server = InetEndpoint.Parse("10.1.0.11:25");

    private static string Config(string check) => $$"""
        virtual_server 192.0.2.25 25 {
            lvs_sched rr
            lvs_method NAT
            protocol TCP
            real_server 10.1.0.11 25 {
        {{check}}
            }
        }
        """;

    private static IReadOnlyList<KeepalivedCheck> Checks(string check) =>
        KeepalivedConfigParser.Parse(Config(check)).VirtualServers[0].RealServers[0].Checks;

    private static string[] Errors(string check) =>
        [.. Assert.Throws<ConfigurationException>(() => KeepalivedConfigParser.Parse(Config(check))).Errors.Select(e => e.ToString())];

    [Fact]
    public void Parse_SmtpCheck_HeloNameConnectionAndTiming()
    {
        var check = Assert.Single(Checks("""
                    SMTP_CHECK {
                        helo_name "lvs1.example.net"
                        connect_ip 10.1.0.99
                        connect_port 2525
                        bindto 10.1.0.1
                        bind_port 40001
                        connect_timeout 3
                        retry 2
                        delay_before_retry 4
                        warmup 0
                    }
            """));

        Assert.Equal(KeepalivedCheckKind.Smtp, check.Kind);
        Assert.Equal(new SmtpCheckOptions { HeloName = "lvs1.example.net" }, check.Smtp);
        Assert.Equal(
            (InetAddress.Parse("10.1.0.99"), (ushort?)2525, InetAddress.Parse("10.1.0.1"), (ushort)40001, TimeSpan.FromSeconds(3)),
            (check.ConnectIp, check.ConnectPort, check.BindTo, check.BindPort, check.ConnectTimeout));
        RealServerCheck created = check.Create(Server);
        var checker = Assert.IsType<SmtpChecker>(created.Checker);
        Assert.Equal(InetEndpoint.Parse("10.1.0.99:2525"), checker.Target);
        Assert.Equal(new CheckTiming { Retry = 2, DelayBeforeRetry = TimeSpan.FromSeconds(4), Warmup = TimeSpan.Zero }, created.Timing);
        Assert.Equal(6, check.Line);
    }

    [Fact]
    public void Parse_EmptySmtpCheck_KeepalivedsDefaults()
    {
        // check_smtp.h SMTP_DEFAULT_HELO; check_api.c queue_checker: the real server as target, 5 s, retry 1, delay_before_retry 1 s.
        var check = Assert.Single(Checks("        SMTP_CHECK {\n        }"));

        Assert.Equal("smtpchecker.keepalived.org", check.Smtp!.HeloName);
        RealServerCheck created = check.Create(Server);
        Assert.Equal(Server, Assert.IsType<SmtpChecker>(created.Checker).Target);
        Assert.Equal(new CheckTiming(), created.Timing);
        Assert.Equal(TimeSpan.FromSeconds(5), check.ConnectTimeout);
    }

    [Fact]
    public void Parse_HeloNameOfSeveralWords_IsJoinedAsKeepalivedSendsIt()
    {
        var check = Assert.Single(Checks("        SMTP_CHECK {\n            helo_name lvs checker\n        }"));

        Assert.Equal("lvs checker", check.Smtp!.HeloName);
    }

    [Fact]
    public void Parse_HeloName_ChangesTheDefinition()
    {
        // A reload keeps a running check only when its definition is the same.
        var a = Assert.Single(Checks("        SMTP_CHECK {\n            helo_name a.example\n        }"));
        var b = Assert.Single(Checks("        SMTP_CHECK {\n            helo_name b.example\n        }"));

        Assert.NotEqual(a.Definition, b.Definition);
        Assert.StartsWith("SMTP_CHECK {", a.Definition, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BadSmtpCheckValues_FileLineErrors()
    {
        string[] errors = Errors("""
                    SMTP_CHECK {
                        helo_name
                        helo_name "hélo"
                        connect_port 70000
                        helo lvs.example.net
                        fwmark 3
                        connect_timeout -1
                    }
                    TCP_CHECK {
                        helo_name lvs.example.net
                    }
            """);

        Assert.Equal(
            [
                "keepalived.conf:7: 'helo_name' takes at least 1 value, not 0",
                "keepalived.conf:8: SMTP_CHECK helo_name 'h\u00e9lo' is not 1 to 505 printable ASCII characters",
                "keepalived.conf:9: port '70000' is not a number from 0 to 65535",
                "keepalived.conf:10: unknown keyword 'helo' in SMTP_CHECK",
                "keepalived.conf:11: fwmark (checks bound to an interface or marked) is not supported by this director",
                "keepalived.conf:12: connect_timeout '-1' is not a time in seconds",
                "keepalived.conf:15: unknown keyword 'helo_name' in TCP_CHECK",
            ],
            errors);
    }

    [Fact]
    public void Parse_HostBlocks_OneCheckerPerHostWithTheBlocksValues()
    {
        // check_smtp.c smtp_check_end_handler: each host { } is a checker of its own, starting from the block's values;
        // the block itself names no target here, so the hosts replace it.
        var configuration = KeepalivedConfigParser.Parse(Config("""
                    SMTP_CHECK {
                        helo_name lvs.example.net
                        connect_timeout 3
                        retry 2
                        host {
                            connect_ip 10.1.0.21
                            connect_port 2525
                        }
                        host {
                            connect_ip 10.1.0.22
                            connect_timeout 7
                        }
                    }
            """));
        var checks = configuration.VirtualServers[0].RealServers[0].Checks;

        Assert.Equal(2, checks.Count);
        Assert.All(checks, check => Assert.Equal((KeepalivedCheckKind.Smtp, "lvs.example.net", 2), (check.Kind, check.Smtp!.HeloName, check.Retry)));
        Assert.Equal(
            [(InetEndpoint.Parse("10.1.0.21:2525"), TimeSpan.FromSeconds(3), 10), (InetEndpoint.Parse("10.1.0.22:25"), TimeSpan.FromSeconds(7), 14)],
            checks.Select(check => (((SmtpChecker)check.Create(Server).Checker).Target, check.ConnectTimeout, check.Line)));
        Assert.NotEqual(checks[0].Definition, checks[1].Definition);
        Assert.Equal(
            ["keepalived.conf:10: The SMTP_CHECK host block is deprecated (keepalived): each host is checked by a checker of its own; better write one SMTP_CHECK per host",
             "keepalived.conf:14: The SMTP_CHECK host block is deprecated (keepalived): each host is checked by a checker of its own; better write one SMTP_CHECK per host"],
            configuration.Notices.Select(n => n.ToString()));
    }

    [Fact]
    public void Parse_HostBlocksAndATargetOfTheBlock_TheBlockIsCheckedToo()
    {
        var checks = Checks("""
                    SMTP_CHECK {
                        connect_port 587
                        host {
                            connect_ip 10.1.0.21
                        }
                    }
            """);

        Assert.Equal(
            [InetEndpoint.Parse("10.1.0.11:587"), InetEndpoint.Parse("10.1.0.21:587")],
            checks.Select(check => ((SmtpChecker)check.Create(Server).Checker).Target));
    }

    [Fact]
    public void Parse_HostBlockWithOtherKeywords_FileLineErrors()
    {
        string[] errors = Errors("""
                    SMTP_CHECK {
                        host {
                            connect_ip 10.1.0.300
                            retry 3
                            helo_name x
                        }
                        host
                    }
            """);

        Assert.Equal(
            [
                "keepalived.conf:8: '10.1.0.300' is not a numeric IP address (host names are not resolved)",
                "keepalived.conf:9: 'retry' is not accepted in an SMTP_CHECK host block (only connect_ip, connect_port, bindto, bind_port and connect_timeout; set the others in SMTP_CHECK itself, or write one SMTP_CHECK per host)",
                "keepalived.conf:10: 'helo_name' is not accepted in an SMTP_CHECK host block (only connect_ip, connect_port, bindto, bind_port and connect_timeout; set the others in SMTP_CHECK itself, or write one SMTP_CHECK per host)",
                "keepalived.conf:12: 'host' needs a { } block",
            ],
            errors);
    }

    [Fact]
    public async Task Watch_SmtpCheck_RegistersAnSmtpCheckerForTheRealServer()
    {
        var configuration = KeepalivedConfigParser.Parse(Config("        SMTP_CHECK {\n            helo_name lvs.example.net\n        }"));
        var table = new ServiceTable();
        configuration.ApplyTo(table);
        await using var health = new DirectorHealth(table);
        using var registration = configuration.Watch(health);

        var key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("192.0.2.25:25"));
        var server = registration.RealServers(key)[Server];
        var checker = Assert.IsType<SmtpChecker>(Assert.Single(server.Options.Checks).Checker);
        Assert.Equal(Server, checker.Target);
    }
}
