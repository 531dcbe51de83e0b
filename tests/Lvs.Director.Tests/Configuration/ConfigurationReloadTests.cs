using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Director.Configuration;

namespace Lvs.Director.Tests.Configuration;

/// <summary>A changed file applied to a running director as a diff: edits in place, connections to the servers that stay kept.</summary>
public sealed class ConfigurationReloadTests
{
    private const string Rules =
        "-A -t 10.0.0.100:80 -s rr\n"
        + "-a -t 10.0.0.100:80 -r 10.1.0.11:8080 -m -w 1\n"
        + "-a -t 10.0.0.100:80 -r 10.1.0.12:8080 -m -w 1\n"
        + "-A -u 10.0.0.100:53 -s rr\n"
        + "-a -u 10.0.0.100:53 -r 10.1.0.11:53 -m -w 1\n";

    private const string Changed =
        "-A -t 10.0.0.100:80 -s wrr\n"
        + "-a -t 10.0.0.100:80 -r 10.1.0.11:8080 -m -w 3\n"
        + "-a -t 10.0.0.100:80 -r 10.1.0.13:8080 -m -w 1\n";

    private static readonly VirtualServiceKey Web = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.100:80"));

    private static Lab Start(bool expireNodest, out Dictionary<ushort, InetAddress> placed)
    {
        var lab = new Lab(new DirectorOptions { Connections = new ConnectionTableOptions { ExpireNoDestinationConnections = expireNodest } });
        IpvsadmRulesParser.Parse(Rules).ApplyTo(lab.Table);
        for (int n = 1; n <= 3; n++)
        {
            lab.Engine.Neighbors.Set(1, lab.Server(n), Lab.ServerMac(n));
        }

        // Two connections: rr puts one on each server.
        placed = [];
        for (ushort port = 40000; port < 40002; port++)
        {
            var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, port, lab.Vip, 80, "S");
            placed[port] = InetAddress.FromIPAddress(PacketAssert.Ip(syn.Output(lab.Send(syn, 0))).DestinationAddress);
        }

        Assert.Equal(2, placed.Values.Distinct().Count());
        return lab;
    }

    private static FrameVerdict Ack(Lab lab, ushort port, out InetAddress? destination)
    {
        var ack = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, port, lab.Vip, 80, "A");
        var verdict = lab.Send(ack, 0);
        destination = verdict.Action == FrameAction.Drop ? null : InetAddress.FromIPAddress(PacketAssert.Ip(ack.Output(verdict)).DestinationAddress);
        return verdict;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reload_IpvsadmRules_SurvivingServerKeepsItsConnectionsAndRemovedOneFollowsExpireNodestConn(bool expireNodest)
    {
        using var lab = Start(expireNodest, out var placed);
        var kept = lab.Table.Snapshot.Find(Web)!.FindRealServer(InetEndpoint.Parse("10.1.0.11:8080"))!.Server;

        var diff = ConfigurationReload.Reload(lab.Table, IpvsadmRulesParser.Parse(Changed));

        Assert.Equal(
            "~ -E -t 10.0.0.100:80 -s wrr (was -E -t 10.0.0.100:80 -s rr)\n"
            + "- -D -u 10.0.0.100:53\n"
            + "- -d -t 10.0.0.100:80 -r 10.1.0.12:8080\n"
            + "~ -e -t 10.0.0.100:80 -r 10.1.0.11:8080 -m -w 3 (was -e -t 10.0.0.100:80 -r 10.1.0.11:8080 -m -w 1)\n"
            + "+ -a -t 10.0.0.100:80 -r 10.1.0.13:8080 -m -w 1\n",
            diff.ToString());

        // A weight change is an edit: the same server object (counters, connections), the new weight.
        var after = lab.Table.Snapshot.Find(Web)!.FindRealServer(InetEndpoint.Parse("10.1.0.11:8080"))!.Server;
        Assert.Same(kept, after);
        Assert.Equal(3, after.Weight);
        Assert.Equal(
            "-A -t 10.0.0.100:80 -s wrr\n-a -t 10.0.0.100:80 -r 10.1.0.11:8080 -m -w 3\n-a -t 10.0.0.100:80 -r 10.1.0.13:8080 -m -w 1\n",
            IpvsadmListing.Save(lab.Table.Snapshot));

        foreach (var (port, server) in placed)
        {
            var verdict = Ack(lab, port, out var destination);
            if (server == lab.Server(1))
            {
                Assert.Equal(server, destination);
            }
            else if (expireNodest)
            {
                // Ended with the packet, which, not a SYN, is not scheduled again but reset as the host would.
                Assert.Equal(DropReason.NotSyn, verdict.Reason);
                Assert.Equal(lab.Client, destination);
            }
            else
            {
                Assert.Equal(server, destination);
            }
        }
    }

    [Fact]
    public void Reload_SameRules_NothingChanges()
    {
        using var lab = Start(false, out _);
        var version = lab.Table.Snapshot.Version;
        var diff = ConfigurationReload.Reload(lab.Table, IpvsadmRulesParser.Parse(Rules));
        Assert.True(diff.IsEmpty);
        Assert.Equal(string.Empty, diff.ToString());
        Assert.Equal(version, lab.Table.Snapshot.Version);
    }

    [Fact]
    public void Reload_KeepalivedFile_ConnectionsToTheServerThatStaysKept()
    {
        using var lab = Start(false, out var placed);
        const string conf = "virtual_server 10.0.0.100 80 {\n lvs_sched rr\n lvs_method NAT\n protocol TCP\n real_server 10.1.0.11 8080 {\n  weight 2\n }\n}\n";
        var diff = ConfigurationReload.Reload(lab.Table, KeepalivedConfigParser.Parse(conf));

        Assert.Equal(
            "- -D -u 10.0.0.100:53\n"
            + "- -d -t 10.0.0.100:80 -r 10.1.0.12:8080\n"
            + "~ -e -t 10.0.0.100:80 -r 10.1.0.11:8080 -m -w 2 (was -e -t 10.0.0.100:80 -r 10.1.0.11:8080 -m -w 1)\n",
            diff.ToString());
        var port = placed.Single(p => p.Value == lab.Server(1)).Key;
        _ = Ack(lab, port, out var destination);
        Assert.Equal(lab.Server(1), destination);
    }

    [Fact]
    public async Task Reload_KeepalivedWithHealth_RemovedServersWatchStopsNewOneStartsUnchangedOneKept()
    {
        const string before = "virtual_server 10.0.0.100 80 {\n lvs_sched rr\n lvs_method NAT\n protocol TCP\n"
            + " real_server 10.1.0.11 8080 {\n  TCP_CHECK {\n  }\n }\n real_server 10.1.0.12 8080 {\n  TCP_CHECK {\n  }\n }\n}\n";
        const string after = "virtual_server 10.0.0.100 80 {\n lvs_sched rr\n lvs_method NAT\n protocol TCP\n"
            + " real_server 10.1.0.11 8080 {\n  TCP_CHECK {\n  }\n }\n real_server 10.1.0.13 8080 {\n  TCP_CHECK {\n  }\n }\n}\n";
        var table = new ServiceTable();
        var first = KeepalivedConfigParser.Parse(before);
        first.ApplyTo(table);
        await using var health = new DirectorHealth(table);
        var registration = first.Watch(health);
        var unchanged = registration.RealServers(Web)[InetEndpoint.Parse("10.1.0.11:8080")];

        var diff = registration.Reload(table, KeepalivedConfigParser.Parse(after));

        Assert.Equal("- -d -t 10.0.0.100:80 -r 10.1.0.12:8080\n+ -a -t 10.0.0.100:80 -r 10.1.0.13:8080 -m -w 1\n", diff.ToString());
        var watched = registration.RealServers(Web);
        Assert.Equal(["10.1.0.11:8080", "10.1.0.13:8080"], watched.Keys.Select(k => k.ToString()).Order());
        Assert.Same(unchanged, watched[InetEndpoint.Parse("10.1.0.11:8080")]);
        var monitored = Assert.Single(health.Monitor.VirtualServices);
        Assert.Equal(["10.1.0.11:8080", "10.1.0.13:8080"], monitored.RealServers.Select(s => s.Endpoint.ToString()).Order());
    }

    [Fact]
    public async Task Reload_ServerWithHttpGetRemoved_ItsCheckerDisposedOthersKeptUntilTheRegistrationIs()
    {
        const string check = "  HTTP_GET {\n   url {\n    path /\n    status_code 200\n   }\n  }\n";
        const string before = "virtual_server 10.0.0.100 80 {\n lvs_sched rr\n lvs_method NAT\n protocol TCP\n"
            + " real_server 10.1.0.11 8080 {\n" + check + " }\n real_server 10.1.0.12 8080 {\n" + check + " }\n}\n";
        const string after = "virtual_server 10.0.0.100 80 {\n lvs_sched rr\n lvs_method NAT\n protocol TCP\n"
            + " real_server 10.1.0.11 8080 {\n" + check + " }\n}\n";
        var table = new ServiceTable();
        var first = KeepalivedConfigParser.Parse(before);
        first.ApplyTo(table);
        await using var health = new DirectorHealth(table);
        var registration = first.Watch(health);
        var removed = Assert.Single(registration.CheckersOf(Web, InetEndpoint.Parse("10.1.0.12:8080")));
        var kept = Assert.Single(registration.CheckersOf(Web, InetEndpoint.Parse("10.1.0.11:8080")));

        _ = registration.Reload(table, KeepalivedConfigParser.Parse(after));

        // With a cancelled token nothing is sent: a disposed checker says so first, a live one reports the cancellation.
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        _ = await Assert.ThrowsAsync<ObjectDisposedException>(async () => await removed.CheckAsync(cancelled.Token));
        _ = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await kept.CheckAsync(cancelled.Token));

        registration.Dispose();
        _ = await Assert.ThrowsAsync<ObjectDisposedException>(async () => await kept.CheckAsync(cancelled.Token));
    }

    [Fact]
    public async Task Reload_KeepalivedServiceRemoved_ItsWatchIsRemovedFromTheMonitor()
    {
        const string two = "virtual_server 10.0.0.100 80 {\n lvs_sched rr\n lvs_method NAT\n protocol TCP\n real_server 10.1.0.11 8080 {\n  TCP_CHECK {\n  }\n }\n}\n"
            + "virtual_server 10.0.0.100 443 {\n lvs_sched rr\n lvs_method NAT\n protocol TCP\n real_server 10.1.0.11 8443 {\n  TCP_CHECK {\n  }\n }\n}\n";
        const string one = "virtual_server 10.0.0.100 80 {\n lvs_sched rr\n lvs_method NAT\n protocol TCP\n real_server 10.1.0.11 8080 {\n  TCP_CHECK {\n  }\n }\n}\n";
        var table = new ServiceTable();
        var first = KeepalivedConfigParser.Parse(two);
        first.ApplyTo(table);
        await using var health = new DirectorHealth(table);
        var registration = first.Watch(health);

        var diff = registration.Reload(table, KeepalivedConfigParser.Parse(one));

        Assert.Equal("- -D -t 10.0.0.100:443\n", diff.ToString());
        Assert.Equal([Web], registration.Services.Keys);
        Assert.Equal(Web, Assert.Single(health.Monitor.VirtualServices).Options.Key);
    }
    [Fact]
    public async Task Reload_SameKeepalivedFile_EmptyDiffAndEveryWatchKept()
    {
        var path = "TestData/keepalived/checkers.conf";
        var table = new ServiceTable();
        var first = KeepalivedConfigParser.Load(path);
        first.ApplyTo(table);
        await using var health = new DirectorHealth(table);
        var registration = first.Watch(health);
        var before = registration.Services.Keys.SelectMany(k => registration.RealServers(k).Values).ToList();
        long version = table.Snapshot.Version;

        var diff = registration.Reload(table, KeepalivedConfigParser.Load(path));

        Assert.True(diff.IsEmpty);
        Assert.Equal(version, table.Snapshot.Version);
        Assert.Equal(before, registration.Services.Keys.SelectMany(k => registration.RealServers(k).Values));
    }
}
