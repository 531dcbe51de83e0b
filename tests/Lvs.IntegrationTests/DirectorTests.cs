using System.Net;
using System.Net.Sockets;
using Lvs.IntegrationTests.Lab;

namespace Lvs.IntegrationTests;

/// <summary>
/// The real <c>lvs-director</c> on AF_PACKET in a network-namespace lab, carrying the client kernel's TCP to three
/// real servers through each method: the scheduler's proportions, a 1 MiB download intact, a failed server taken out
/// by its health check and put back, a reload that removes a server while downloads to the others are in flight, and
/// servers taken out and drained by the files their FILE_CHECKs track.
/// </summary>
public class DirectorTests
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(LabMethod.Nat)]
    [InlineData(LabMethod.FullNat)]
    [InlineData(LabMethod.DirectRouting)]
    [InlineData(LabMethod.Tunnel)]
    public Task Director_OnAfPacket_CarriesKernelTcpThroughMethod(LabMethod method) => CarriesKernelTcpAsync(method, tap: false);

    [Theory]
    [InlineData(LabMethod.Nat)]
    [InlineData(LabMethod.FullNat)]
    [InlineData(LabMethod.DirectRouting)]
    [InlineData(LabMethod.Tunnel)]
    public Task Director_OnTapDevices_CarriesKernelTcpThroughMethod(LabMethod method) => CarriesKernelTcpAsync(method, tap: true);

    /// <summary>
    /// Two workers with a connection-table partition each (<c>--workers 2 --partition-connections</c>). On AF_PACKET
    /// links the flows are steered: the fan-out by flow hash gives every client packet of a flow to one worker, which
    /// finds the flow's connection in its own partition; the servers' replies, steered by their own key, reach either
    /// worker and are found wherever the connection is. On TAP links (whose kernel moves a flow to the queue its reply
    /// was last written on) every lookup looks in both partitions. Many connections from many client ports, so both
    /// workers carry some, scheduled in the weights' proportions, each download intact.
    /// </summary>
    [Theory]
    [InlineData(LabMethod.Nat, false)]
    [InlineData(LabMethod.FullNat, false)]
    [InlineData(LabMethod.DirectRouting, false)]
    [InlineData(LabMethod.Nat, true)]
    [InlineData(LabMethod.FullNat, true)]
    public async Task Director_TwoWorkersWithPartitionedConnections_CarryKernelTcp(LabMethod method, bool tap)
    {
        Prerequisites.Require();
        var cancellation = TestContext.Current.CancellationToken;
        await using var lab = LoadBalancerLab.Create(method, tap);
        var conf = Path.Combine(Path.GetTempPath(), $"{lab.Network.Prefix}-keepalived.conf");
        try
        {
            KeepalivedFile.Write(lab, conf, (0, 1), (1, 2), (2, 3));
            using var director = SampleProgram.Start(lab.Network, lab.Director, "lvs-director", RunArguments(lab, method, conf, "--workers", "2", "--partition-connections"));
            await lab.AttachTapsAsync(Settle);
            using var http = new LabClient(lab.Client, TimeSpan.FromSeconds(5));
            await WaitUntilAsync(http, names => names.Count >= 3, director);

            // wrr's one cursor orders the picks of both workers: 120 new connections are 20, 40 and 60.
            Assert.Equal(Counts(20, 40, 60), await DistributionAsync(http, 120));
            for (int i = 0; i < 6; i++)
            {
                Assert.Equal(HttpResponder.BigContent, await http.BigAsync(LoadBalancerLab.Service, cancellation));
            }

            Assert.Equal(0, director.Stop(TimeSpan.FromSeconds(20)));
            Assert.Contains("2 packet thread", director.Output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(conf);
        }
    }

    /// <summary><c>lvs-director run</c>'s arguments for a lab and keepalived file: its links, FULLNAT's local address, then <paramref name="extra"/>.</summary>
    private static string[] RunArguments(LoadBalancerLab lab, LabMethod method, string conf, params string[] extra)
    {
        List<string> arguments = ["run", "--keepalived", conf, .. lab.LinkArguments()];
        if (method == LabMethod.FullNat)
        {
            arguments.AddRange(["--local-address", LoadBalancerLab.LocalAddress]);
        }

        return [.. arguments, .. extra];
    }

    private static async Task CarriesKernelTcpAsync(LabMethod method, bool tap)
    {
        Prerequisites.Require();
        var cancellation = TestContext.Current.CancellationToken;
        await using var lab = LoadBalancerLab.Create(method, tap);
        var agents = await TunnelAgents.StartAsync(lab);
        var conf = Path.Combine(Path.GetTempPath(), $"{lab.Network.Prefix}-keepalived.conf");
        try
        {
            KeepalivedFile.Write(lab, conf, (0, 1), (1, 2), (2, 3));
            using var director = SampleProgram.Start(lab.Network, lab.Director, "lvs-director", RunArguments(lab, method, conf));
            await lab.AttachTapsAsync(Settle);
            using var http = new LabClient(lab.Client, TimeSpan.FromSeconds(5));
            await WaitUntilAsync(http, names => names.Count >= 3, director);

            // wrr 1:2:3 picks rs3 rs2 rs3 rs1 rs2 rs3 in every six: 60 new connections are 10, 20 and 30.
            Assert.Equal(Counts(10, 20, 30), await DistributionAsync(http, 60));

            // A port of the VIP no service has is refused at once, as the kernel director's host refuses it.
            await AssertRefusedAsync(lab.Client, cancellation);

            // A 1 MiB download through each server, intact.
            for (int i = 0; i < 6; i++)
            {
                Assert.Equal(HttpResponder.BigContent, await http.BigAsync(LoadBalancerLab.Service, cancellation));
            }

            // rs2 fails: its TCP_CHECK takes it out (requests in the meantime may be refused), then it comes back.
            await lab.StopServerAsync(1);
            await WaitUntilAsync(http, names => names.Count == 12 && !names.Contains("rs2"), director);
            Assert.Equal(Counts(10, 0, 30), await DistributionAsync(http, 40));
            lab.StartServer(1);
            await WaitUntilAsync(http, names => names.Contains("rs2"), director);

            // A reload removes rs3 while six slow downloads are in flight: those to rs1 and rs2 finish intact.
            using var slow = new LabClient(lab.Client, TimeSpan.FromSeconds(60), receiveBuffer: 16384);
            var downloads = Enumerable.Range(0, 6)
                .Select(_ => slow.SlowBigAsync(LoadBalancerLab.Service, 65536, TimeSpan.FromMilliseconds(200), cancellation))
                .ToArray();
            await Task.Delay(500, cancellation);
            KeepalivedFile.Write(lab, conf, (0, 1), (1, 2));
            director.Reload();
            foreach (var download in downloads)
            {
                Assert.Equal(HttpResponder.BigContent, await download);
            }

            int rs3Before = lab.Responder(2)!.ClientPorts.Count;
            var portsBefore = lab.Servers.Select((_, i) => lab.Responder(i)!.ClientPorts).SelectMany(p => p).ToHashSet();
            await WaitUntilAsync(http, names => names.Count == 12 && !names.Contains("rs3"), director);
            var afterReload = await DistributionAsync(http, 30);
            var rs3After = lab.Responder(2)!.ClientPorts.Skip(rs3Before).ToList();
            Assert.True(afterReload.SequenceEqual(Counts(10, 20, 0)), $"after the reload: {string.Join(", ", afterReload)}. Client ports rs3 accepted after the reload: {string.Join(' ', rs3After)} (used before the reload: {string.Join(' ', rs3After.Where(portsBefore.Contains))}; rs3's ports: {string.Join(' ', lab.Responder(2)!.ClientPorts)}). Client neighbours: {lab.Client.Ip("neigh")}; servers: {string.Join("; ", lab.Servers.Select(s => s.Ip("-br", "link", "show", "eth0")))}. Director output:\n{director.Output}");

            Assert.Equal(0, director.Stop(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            foreach (var agent in agents)
            {
                agent.Dispose();
            }

            File.Delete(conf);
        }
    }

    /// <summary>
    /// The client kernel's TCP connect to a port of the VIP that no service has fails with "connection refused" (the
    /// director's reset), its connected UDP socket reads "connection refused" after a datagram there (the director's
    /// ICMP port unreachable), and its raw ESP socket "protocol not available" (the director's protocol
    /// unreachable): at once, not after a timeout.
    /// </summary>
    private static async Task AssertRefusedAsync(NetNamespace client, CancellationToken cancellation)
    {
        var vip = IPAddress.Parse(LoadBalancerLab.Vip);
        using (var tcp = client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            var refused = await Assert.ThrowsAsync<SocketException>(async () => await tcp.ConnectAsync(new IPEndPoint(vip, 81), timeout.Token));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }

        using var udp = client.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Connect(new IPEndPoint(vip, 5353));
        udp.ReceiveTimeout = 5000;
        _ = udp.Send([1, 2, 3]);
        var unreachable = Assert.Throws<SocketException>(() => udp.Receive(new byte[16]));
        Assert.Equal(SocketError.ConnectionRefused, unreachable.SocketErrorCode);

        // ESP that follows no IKE connection is the host's, which has no ESP handler: the director's protocol
        // unreachable reaches the client kernel's connected raw socket as ENOPROTOOPT (raw_err: a fatal error).
        using var raw = client.Run(() => RawSocket.OpenIPv4(50));
        raw.Connect(new IPEndPoint(vip, 0));
        raw.ReceiveTimeout = 5000;
        _ = raw.Send(new byte[16]); // at least the 8 bytes after the IP header a quote must hold (icmp_unreach)
        var noProtocol = Assert.Throws<SocketException>(() => raw.Receive(new byte[64]));
        Assert.Equal(SocketError.ProtocolOption, noProtocol.SocketErrorCode);
    }

    /// <summary>
    /// IPv6 end to end: the client's kernel finds the VIP by neighbour discovery (the director answers the
    /// solicitation), and its TCP reaches the three servers through each method in the weights' proportions, a 1 MiB
    /// download intact (FULLNAT from the director's IPv6 local address; TUN as IPv6 in IPv6 to lvs-tunnel-agent).
    /// </summary>
    [Theory]
    [InlineData(LabMethod.Nat)]
    [InlineData(LabMethod.FullNat)]
    [InlineData(LabMethod.DirectRouting)]
    [InlineData(LabMethod.Tunnel)]
    public async Task Director_OnAfPacket_CarriesKernelTcpOverIPv6ThroughMethod(LabMethod method)
    {
        Prerequisites.Require();
        var cancellation = TestContext.Current.CancellationToken;
        await using var lab = LoadBalancerLab.Create(method);
        lab.AddIPv6();
        var agents = await TunnelAgents.StartAsync(lab);
        var conf = Path.Combine(Path.GetTempPath(), $"{lab.Network.Prefix}-keepalived.conf");
        try
        {
            KeepalivedFile.Write(lab, conf, ipv6: true, (0, 1), (1, 2), (2, 3));
            List<string> arguments = ["run", "--keepalived", conf, .. lab.LinkArguments()];
            if (method == LabMethod.FullNat)
            {
                arguments.AddRange(["--local-address", LoadBalancerLab.LocalAddress6]);
            }

            using var director = SampleProgram.Start(lab.Network, lab.Director, "lvs-director", [.. arguments]);
            using var http = new LabClient(lab.Client, TimeSpan.FromSeconds(5));
            await WaitUntilAsync(http, names => names.Count >= 3, director, LoadBalancerLab.Service6);

            Assert.Equal(Counts(10, 20, 30), await DistributionAsync(http, 60, LoadBalancerLab.Service6));
            Assert.Equal(HttpResponder.BigContent, await http.BigAsync(LoadBalancerLab.Service6, cancellation));
            Assert.Contains("fd00::100", lab.Client.Ip("-6", "neigh"), StringComparison.Ordinal);
            Assert.Equal(0, director.Stop(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            foreach (var agent in agents)
            {
                agent.Dispose();
            }

            File.Delete(conf);
        }
    }

    /// <summary>
    /// TUN's other encapsulations with the client kernel's TCP, over IPv4 and IPv6: GUE (UDP to port 6080, with and
    /// without the UDP checksum) and GRE (with and without its checksum), decapsulated on the real servers by
    /// lvs-tunnel-agent, which checks the checksums; the weights' proportions and a 1 MiB download intact.
    /// </summary>
    [Theory]
    [InlineData("type gue port 6080", false)]
    [InlineData("type gue port 6080 csum", false)]
    [InlineData("type gre", false)]
    [InlineData("type gre csum", false)]
    [InlineData("type gue port 6080 csum", true)]
    [InlineData("type gre csum", true)]
    public async Task Director_OnAfPacket_CarriesKernelTcpThroughGueAndGreTunnels(string tunnel, bool ipv6)
    {
        Prerequisites.Require();
        var cancellation = TestContext.Current.CancellationToken;
        await using var lab = LoadBalancerLab.Create(LabMethod.Tunnel);
        if (ipv6)
        {
            lab.AddIPv6();
        }

        var agents = await TunnelAgents.StartAsync(lab, "--gue-port", "6080");
        var conf = Path.Combine(Path.GetTempPath(), $"{lab.Network.Prefix}-keepalived.conf");
        string service = ipv6 ? LoadBalancerLab.Service6 : LoadBalancerLab.Service;
        try
        {
            KeepalivedFile.Write(lab, conf, ipv6, tunnel, (0, 1), (1, 2), (2, 3));
            using var director = SampleProgram.Start(lab.Network, lab.Director, "lvs-director", ["run", "--keepalived", conf, .. lab.LinkArguments()]);
            using var http = new LabClient(lab.Client, TimeSpan.FromSeconds(5));
            await WaitUntilAsync(http, names => names.Count >= 3, director, service);

            Assert.Equal(Counts(10, 20, 30), await DistributionAsync(http, 60, service));
            Assert.Equal(HttpResponder.BigContent, await http.BigAsync(service, cancellation));
            Assert.Equal(0, director.Stop(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            foreach (var agent in agents)
            {
                agent.Dispose();
            }

            File.Delete(conf);
        }
    }

    /// <summary>
    /// keepalived's FILE_CHECK through the real director: an operator drains and takes out real servers by writing
    /// numbers into files, and the director follows at once (inotify). rs2's file, weight 0: 1 takes it out of the pool,
    /// 0 puts it back. rs3's file, weight 1: -3 brings its weight 3 to 0 (drained: in the pool, no new connections),
    /// 0 gives it back its weight.
    /// </summary>
    [Fact]
    public async Task Director_FileCheck_TakesOutAndDrainsServersByTheirFiles()
    {
        Prerequisites.Require();
        await using var lab = LoadBalancerLab.Create(LabMethod.Nat);
        var conf = Path.Combine(Path.GetTempPath(), $"{lab.Network.Prefix}-keepalived.conf");
        var down = Path.Combine(Path.GetTempPath(), $"{lab.Network.Prefix}-rs2-down");
        var weight = Path.Combine(Path.GetTempPath(), $"{lab.Network.Prefix}-rs3-weight");
        try
        {
            File.WriteAllText(down, "0\n");
            File.WriteAllText(weight, "0\n");
            File.WriteAllText(conf, $$"""
                track_file rs2_down {
                    file "{{down}}"
                    weight 0
                }
                track_file rs3_weight {
                    file "{{weight}}"
                }
                virtual_server {{LoadBalancerLab.Vip}} 80 {
                    delay_loop 60
                    lvs_sched wrr
                    lvs_method NAT
                    protocol TCP
                    real_server {{lab.ServerAddress(0)}} 80 {
                        weight 1
                    }
                    real_server {{lab.ServerAddress(1)}} 80 {
                        weight 2
                        FILE_CHECK {
                            track_file rs2_down
                        }
                    }
                    real_server {{lab.ServerAddress(2)}} 80 {
                        weight 3
                        FILE_CHECK {
                            track_file rs3_weight
                        }
                    }
                }
                """);
            using var director = SampleProgram.Start(lab.Network, lab.Director, "lvs-director", ["run", "--keepalived", conf, .. lab.LinkArguments()]);
            using var http = new LabClient(lab.Client, TimeSpan.FromSeconds(5));
            await WaitUntilAsync(http, names => names.Count >= 3, director);
            Assert.Equal(Counts(10, 20, 30), await DistributionAsync(http, 60));

            // delay_loop 60: only the files' change notifications can make the director see these in time.
            File.WriteAllText(down, "1\n");
            await WaitUntilAsync(http, names => names.Count == 12 && !names.Contains("rs2"), director);
            Assert.Equal(Counts(10, 0, 30), await DistributionAsync(http, 40));

            File.WriteAllText(weight, "-3\n");
            await WaitUntilAsync(http, names => names.Count == 12 && names.All(name => name == "rs1"), director);
            Assert.Equal(Counts(12, 0, 0), await DistributionAsync(http, 12));

            File.WriteAllText(down, "0\n");
            File.WriteAllText(weight, "0\n");
            await WaitUntilAsync(http, names => names.Contains("rs2") && names.Contains("rs3"), director);
            Assert.Equal(0, director.Stop(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            File.Delete(conf);
            File.Delete(down);
            File.Delete(weight);
        }
    }

    [Fact]
    public async Task Director_VipIsAKernelAddressOfItsInterface_RefusesToStartAndSaysHowToFix()
    {
        Prerequisites.Require();
        await using var lab = LoadBalancerLab.Create(LabMethod.Nat);
        lab.Director.Ip("addr", "add", $"{LoadBalancerLab.Vip}/32", "dev", "c0");
        var conf = Path.Combine(Path.GetTempPath(), $"{lab.Network.Prefix}-keepalived.conf");
        try
        {
            KeepalivedFile.Write(lab, conf, (0, 1));
            using var director = SampleProgram.Start(lab.Network, lab.Director, "lvs-director", ["run", "--keepalived", conf, .. lab.LinkArguments()]);

            int status = director.WaitForExit(TimeSpan.FromSeconds(60));
            Assert.True(status != 0, director.Output);
            Assert.True(director.Output.Contains($"{LoadBalancerLab.Vip}", StringComparison.Ordinal) && director.Output.Contains("Fix:", StringComparison.Ordinal), director.Output);
        }
        finally
        {
            File.Delete(conf);
        }
    }

    private static Dictionary<string, int> Counts(int rs1, int rs2, int rs3) => new() { ["rs1"] = rs1, ["rs2"] = rs2, ["rs3"] = rs3 };

    private static async Task<Dictionary<string, int>> DistributionAsync(LabClient http, int requests, string? service = null)
    {
        var counts = Counts(0, 0, 0);
        for (int i = 0; i < requests; i++)
        {
            counts[await http.WhoAmIAsync(service ?? LoadBalancerLab.Service)]++;
        }

        return counts;
    }

    /// <summary>Asks /whoami until the last 12 answers (failures clear them) satisfy a condition.</summary>
    private static async Task WaitUntilAsync(LabClient http, Func<List<string>, bool> done, SampleProgram director, string? service = null)
    {
        var deadline = DateTime.UtcNow + Settle;
        var names = new List<string>();
        string? lastError = null;
        while (!done(names))
        {
            if (DateTime.UtcNow > deadline || director.HasExited)
            {
                Assert.Fail($"not settled in {Settle} (last answers: {string.Join(' ', names)}; last error: {lastError}). Director output:\n{director.Output}");
            }

            try
            {
                names.Add(await http.WhoAmIAsync(service ?? LoadBalancerLab.Service));
                if (names.Count > 12)
                {
                    names.RemoveAt(0);
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                lastError = e.Message;
                names.Clear();
                await Task.Delay(200);
            }
        }
    }
}
