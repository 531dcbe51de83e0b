using System.Text;
using Lvs.Core;
using Lvs.Director;
using Lvs.Director.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PacketDotNet;

namespace Lvs.Hosting.Tests;

public sealed class LvsDirectorHostTests : IDisposable
{
    private const string Rules = "-A -t 10.0.0.100:80 -s rr\n-a -t 10.0.0.100:80 -r 10.1.0.11:8080 -m -w 1\n";
    private readonly string _rulesFile = Path.Combine(Path.GetTempPath(), $"lvs-hosting-{Guid.NewGuid():N}.rules");
    private readonly FakeFrameLink _client = new("client", LoopLab.ClientLinkMac, [InetPrefix.Parse("10.0.0.1/24")], queues: 2);
    private readonly FakeFrameLink _servers = new("servers", LoopLab.ServerLinkMac, [InetPrefix.Parse("10.1.0.1/24")], queues: 2);

    public LvsDirectorHostTests() => File.WriteAllText(_rulesFile, Rules);

    public void Dispose() => File.Delete(_rulesFile);

    [Fact]
    public void AddLvsDirector_JsonConfiguration_OptionsBoundFromLvsSection()
    {
        var json = """
            {
              "Lvs": {
                "RulesFile": "/etc/lvs/rules",
                "KeepalivedFile": "/etc/keepalived/keepalived.conf",
                "Interfaces": [ "eth0", "eth1" ],
                "Taps": [ "lvs0=10.1.0.1/24" ],
                "LocalAddresses": [ "10.1.0.100", "10.1.0.101" ],
                "Gateway": "10.0.0.254",
                "Workers": 2,
                "StatsInterval": "00:00:10"
              }
            }
            """;
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)));
        builder.Services.AddLvsDirector();
        using var host = builder.Build();

        var options = host.Services.GetRequiredService<IOptions<LvsDirectorOptions>>().Value;
        Assert.Equal("/etc/lvs/rules", options.RulesFile);
        Assert.Equal("/etc/keepalived/keepalived.conf", options.KeepalivedFile);
        Assert.Equal(["eth0", "eth1"], options.Interfaces);
        Assert.Equal(["10.1.0.100", "10.1.0.101"], options.LocalAddresses);
        Assert.Equal(2, options.Workers);
        Assert.Equal(TimeSpan.FromSeconds(10), options.StatsInterval);
        Assert.Equal((InetAddress.Parse("10.0.0.254"), (InetAddress?)null), options.GetGateways());
        Assert.Equal(
            [new LinkSpecification("eth0", LinkKind.Interface, []), new LinkSpecification("eth1", LinkKind.Interface, []), new LinkSpecification("lvs0", LinkKind.Tap, [InetPrefix.Parse("10.1.0.1/24")])],
            options.GetLinkSpecifications(),
            (a, b) => a.Name == b.Name && a.Kind == b.Kind && a.Addresses.SequenceEqual(b.Addresses));
        Assert.Empty(options.Validate());
    }

    [Fact]
    public async Task StartAsync_InvalidOptions_FailsWithEveryProblem()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddLvsDirector(options =>
        {
            options.Workers = 0;
            options.Taps.Add("lvs0");
        });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains(error.Failures, failure => failure.Contains("Workers", StringComparison.Ordinal));
        Assert.Contains(error.Failures, failure => failure.Contains("NAME=ADDRESS/PREFIX", StringComparison.Ordinal));
    }

    /// <summary>
    /// With several packet threads the start names the services' schedulers whose per-thread option is off, each with
    /// its flag (sh keeps nothing per pick and is not named); with the options on, or one thread, nothing is said.
    /// </summary>
    [Theory]
    [InlineData(2, false, "2 packet threads: the schedulers rr (--rr-per-thread), wlc (--counts-refresh-picks N) keep one state")]
    [InlineData(2, true, null)]
    [InlineData(1, false, null)]
    public async Task StartAsync_SeveralWorkers_NamesTheSchedulersSharingStateAcrossThreads(int workers, bool perThreadOptions, string? expected)
    {
        using var logs = new Microsoft.Extensions.Logging.Testing.FakeLoggerProvider();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddProvider(logs);
        builder.Services.AddLvsDirector(options =>
        {
            options.Interfaces.Add("client");
            options.Interfaces.Add("servers");
            options.Gateway = "10.0.0.254";
            options.Workers = workers;
            options.RoundRobinRunsPerThread = perThreadOptions;
            options.OtherThreadCountsRefreshPicks = perThreadOptions ? 64 : 0;
        })
            .UseLinkFactory(new FakeLinkFactory(_client, _servers))
            .ConfigureTable(table =>
            {
                foreach (var (port, scheduler) in new[] { (80, "wlc"), (81, "rr"), (82, "sh"), (83, "wlc") })
                {
                    var key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, new InetEndpoint(InetAddress.Parse("10.0.0.100"), (ushort)port));
                    table.AddService(new VirtualServiceOptions(key) { Scheduler = scheduler });
                    table.AddRealServer(key, new RealServerOptions(new InetEndpoint(InetAddress.Parse("10.1.0.11"), (ushort)port)));
                }
            });
        using var host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        await host.StopAsync(TestContext.Current.CancellationToken);

        var named = logs.Collector.GetSnapshot().Where(r => r.Id.Id == 106).ToList();
        if (expected is null)
        {
            Assert.Empty(named);
        }
        else
        {
            var record = Assert.Single(named);
            Assert.Equal(LogLevel.Information, record.Level);
            Assert.StartsWith(expected, record.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// A reload that brings a scheduler sharing state across the packet threads names it (event 106 again, with every
    /// such scheduler of the table); a reload that brings no new one, or a start with none, says nothing.
    /// </summary>
    [Fact]
    public async Task Reload_NewSchedulerSharingState_IsNamedOnce()
    {
        await File.WriteAllTextAsync(_rulesFile, "-A -t 10.0.0.100:80 -s sh\n-a -t 10.0.0.100:80 -r 10.1.0.11:8080 -m -w 1\n", TestContext.Current.CancellationToken);
        using var logs = new Microsoft.Extensions.Logging.Testing.FakeLoggerProvider();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddProvider(logs);
        builder.Services.AddLvsDirector(options =>
        {
            options.RulesFile = _rulesFile;
            options.Interfaces.Add("client");
            options.Interfaces.Add("servers");
            options.Gateway = "10.0.0.254";
            options.Workers = 2;
        }).UseLinkFactory(new FakeLinkFactory(_client, _servers));
        using var host = builder.Build();
        var director = host.Services.GetRequiredService<LvsDirector>();
        await host.StartAsync(TestContext.Current.CancellationToken);
        List<string> Named() => [.. logs.Collector.GetSnapshot().Where(r => r.Id.Id == 106).Select(r => r.Message)];
        Assert.Empty(Named());

        await File.WriteAllTextAsync(_rulesFile, "-A -t 10.0.0.100:80 -s sh\n-a -t 10.0.0.100:80 -r 10.1.0.11:8080 -m -w 1\n-A -t 10.0.0.100:81 -s wlc\n-a -t 10.0.0.100:81 -r 10.1.0.11:8081 -m -w 1\n", TestContext.Current.CancellationToken);
        Assert.True(director.Reload());
        Assert.StartsWith("2 packet threads: the schedulers wlc (--counts-refresh-picks N) keep one state", Assert.Single(Named()), StringComparison.Ordinal);

        // The same schedulers again, then one fewer: nothing new to say.
        await File.WriteAllTextAsync(_rulesFile, "-A -t 10.0.0.100:81 -s wlc\n-a -t 10.0.0.100:81 -r 10.1.0.11:8081 -m -w 1\n", TestContext.Current.CancellationToken);
        Assert.True(director.Reload());
        Assert.Single(Named());

        await File.WriteAllTextAsync(_rulesFile, "-A -t 10.0.0.100:81 -s wlc\n-a -t 10.0.0.100:81 -r 10.1.0.11:8081 -m -w 1\n-A -u 10.0.0.100:53 -s rr\n-a -u 10.0.0.100:53 -r 10.1.0.11:53 -m -w 1\n", TestContext.Current.CancellationToken);
        Assert.True(director.Reload());
        var named = Named();
        Assert.Equal(2, named.Count);
        Assert.StartsWith("2 packet threads: the schedulers rr (--rr-per-thread), wlc (--counts-refresh-picks N) keep one state", named[1], StringComparison.Ordinal);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task StartAsync_FakeLinks_GratuitousArpForEveryOwnedAddressAndForANewVip()
    {
        using var host = Build(workers: 1);
        await host.StartAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["10.0.0.1", "10.0.0.100"], Announced(_client, count: 2));
        Assert.Equal(["10.1.0.1"], Announced(_servers, count: 1));

        var table = host.Services.GetRequiredService<ServiceTable>();
        table.AddService(new VirtualServiceOptions(VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.101:443"))));
        Assert.Equal(["10.0.0.101"], Announced(_client, count: 1));

        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Theory]
    [InlineData(1, false, 1)]
    [InlineData(2, false, 1)] // one table by default, as the kernel's
    [InlineData(1, true, 1)]
    [InlineData(2, true, 2)]
    [InlineData(4, true, 2)] // the links have two queues each: two packet threads run
    public void PartitionConnections_GivesTheConnectionTableAnIndexPartitionPerPacketThread(int workers, bool partition, int partitions)
    {
        using var host = Build(workers, partition);
        var engine = host.Services.GetRequiredService<DirectorEngine>();
        Assert.Equal(partitions, engine.Connections.IndexPartitions);

        // The links' fan-out gives every client packet of a flow to one worker: the flows are steered.
        Assert.Equal(partition, engine.Connections.Options.SteeredFlows);
    }

    [Fact]
    public void PartitionConnections_WithATapLink_KeepsThePartitionsButDoesNotSteer()
    {
        // A TAP's queues follow a flow's last written reply (the kernel tun's automatic queue selection), so a flow's
        // client packets may move between workers: its connection must be found in any partition.
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddLvsDirector(options =>
        {
            options.RulesFile = _rulesFile;
            options.Interfaces.Add("client");
            options.Taps.Add("servers=10.1.0.1/16");
            options.Workers = 2;
            options.Gateway = "10.0.0.254";
            options.PartitionConnections = true;
        }).UseLinkFactory(new FakeLinkFactory(_client, _servers));
        using var host = builder.Build();
        var engine = host.Services.GetRequiredService<DirectorEngine>();
        Assert.Equal(2, engine.Connections.IndexPartitions);
        Assert.False(engine.Connections.Options.SteeredFlows);
    }

    [Fact]
    public async Task Host_NatServiceThroughPacketThreads_SynRewrittenToRealServer()
    {
        using var host = Build(workers: 1);
        var engine = host.Services.GetRequiredService<DirectorEngine>();
        await host.StartAsync(TestContext.Current.CancellationToken);
        engine.Neighbors.Set(1, InetAddress.Parse("10.1.0.11"), LoopLab.ServerMac);

        _client.Inject(LoopLab.Syn(40000));
        byte[]? forwarded = null;
        while (forwarded is null && _servers.Take(TimeSpan.FromSeconds(10)) is { } frame)
        {
            forwarded = TestFrames.TcpOf(frame) is null ? null : frame;
        }

        Assert.NotNull(forwarded);
        var (ip, tcp) = TestFrames.TcpOf(forwarded)!.Value;
        Assert.Equal("10.1.0.11", ip.DestinationAddress.ToString());
        Assert.Equal(8080, tcp.DestinationPort);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task ListStatistics_AfterDrops_EndsWithTheDropsByReason()
    {
        using var host = Build(workers: 1);
        var director = host.Services.GetRequiredService<LvsDirector>();
        await host.StartAsync(TestContext.Current.CancellationToken);
        Assert.DoesNotContain("Drops:", director.ListStatistics(), StringComparison.Ordinal);

        // Two ACKs that match no connection (NotSyn, as ip_vs_in without sloppy_tcp).
        _client.Inject(TestFrames.Tcp(LoopLab.ClientMac, LoopLab.ClientLinkMac, "10.0.0.2", 40001, "10.0.0.100", 80, syn: false, ack: true));
        _client.Inject(TestFrames.Tcp(LoopLab.ClientMac, LoopLab.ClientLinkMac, "10.0.0.2", 40002, "10.0.0.100", 80, syn: false, ack: true));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (director.Engine.GetDropCount(DropReason.NotSyn) < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        string text = director.ListStatistics();
        Assert.StartsWith(IpvsadmListing.List(director.Engine, new IpvsadmListFormat { Stats = true }), text, StringComparison.Ordinal);
        Assert.EndsWith("Drops: NotSyn 2\n", text, StringComparison.Ordinal);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task StopAsync_TwoPacketThreads_NoThreadLeftAndLinksClosed()
    {
        var host = Build(workers: 2);
        await host.StartAsync(TestContext.Current.CancellationToken);
        var workers = host.Services.GetServices<IHostedService>().OfType<PacketWorkerService>().Single();
        var threads = workers.Threads.ToArray();
        Assert.Equal(2, threads.Length);
        Assert.All(threads, thread => Assert.True(thread.IsAlive));

        await host.StopAsync(TestContext.Current.CancellationToken);
        host.Dispose();

        Assert.All(threads, thread => Assert.False(thread.IsAlive));
        Assert.True(_client.IsDisposed);
        Assert.True(_servers.IsDisposed);
    }

    [Fact]
    public void AddLvsDirector_CalledTwice_OneDirectorAndHostedServicesOnce()
    {
        var services = new ServiceCollection();
        var first = services.AddLvsDirector(options => options.Workers = 3);
        var second = services.AddLvsDirector();

        Assert.Same(first.Setup, second.Setup);
        Assert.Equal(4, services.Count(d => d.ServiceType == typeof(IHostedService)));
        Assert.Single(services, d => d.ServiceType == typeof(LvsDirector));
    }

    [Fact]
    public async Task StartAsync_Sysctls_AppliedToTheEngine()
    {
        using var host = Build(workers: 1, "net.ipv4.vs.conn_reuse_mode = 3", "expire_nodest_conn=1", "sloppy_tcp=1");
        await host.StartAsync(TestContext.Current.CancellationToken);
        var engine = host.Services.GetRequiredService<LvsDirector>().Engine;
        Assert.Equal(3, engine.Options.Connections.ConnectionReuseMode);
        Assert.True(engine.Options.Connections.ExpireNoDestinationConnections);
        Assert.True(engine.Options.SloppyTcp);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task StartAsync_NoHostAnswers_TurnedOffInTheEngine()
    {
        using var host = Build(workers: 1, noHostAnswers: ["tcp-reset", "echo"]);
        await host.StartAsync(TestContext.Current.CancellationToken);
        var engine = host.Services.GetRequiredService<LvsDirector>().Engine;
        Assert.False(engine.Options.ResetUnmatchedTcp);
        Assert.False(engine.Options.AnswerEcho);
        Assert.True(engine.Options.UnreachableUnservedUdp);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StartAsync_AcceptSourceRoute_GivenToTheEngine(bool accept)
    {
        using var host = Build(workers: 1, [], accept);
        await host.StartAsync(TestContext.Current.CancellationToken);
        Assert.Equal(accept, host.Services.GetRequiredService<LvsDirector>().Engine.Options.AcceptSourceRoute);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task StartAsync_UnknownOrOutOfRangeSysctl_FailsNamingIt()
    {
        using var host = Build(workers: 1, "conn_reuse_mode=4", "drop_entry=1");
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains(error.Failures, failure => failure.Contains("conn_reuse_mode: 4 is out of range (0 to 3)", StringComparison.Ordinal));
    }

    [Fact]
    public void UseSchedulerOptions_ReachesEveryServicesScheduler()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddLvsDirector(options =>
        {
            options.Interfaces.Add("client");
            options.Interfaces.Add("servers");
            options.Gateway = "10.0.0.254";
        })
            .UseLinkFactory(new FakeLinkFactory(_client, _servers))
            .UseSchedulerOptions(new Lvs.Scheduling.SchedulerOptions { MaglevKernelCompatible = true, MaglevTableSize = 251 })
            .ConfigureTable(table => table.AddService(new VirtualServiceOptions(VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.100:80"))) { Scheduler = "mh" }));
        using var host = builder.Build();

        var service = host.Services.GetRequiredService<LvsDirector>().Table.Snapshot.Services.Single();
        Assert.Equal(251, Assert.IsType<Lvs.Scheduling.MaglevHashingScheduler>(service.Scheduler).TableSize);
    }

    /// <summary>
    /// A host whose configuration sets <c>Lvs:<paramref name="key"/></c> to <paramref name="value"/>, with one service
    /// of <paramref name="scheduler"/> over 10.1.0.11 (the list head, A) and 10.1.0.12, and <paramref name="schedulerOptions"/>
    /// given to <c>UseSchedulerOptions</c> when not null.
    /// </summary>
    private IHost SchedulerHost(string key, string? value, string scheduler, Lvs.Scheduling.SchedulerOptions? schedulerOptions)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Lvs:" + key] = value });
        var lvs = builder.Services.AddLvsDirector(options =>
        {
            options.Interfaces.Add("client");
            options.Interfaces.Add("servers");
            options.Gateway = "10.0.0.254";
        })
            .UseLinkFactory(new FakeLinkFactory(_client, _servers))
            .ConfigureTable(table =>
            {
                var service = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.100:80"));
                table.AddService(new VirtualServiceOptions(service) { Scheduler = scheduler });
                table.AddRealServer(service, new RealServerOptions(InetEndpoint.Parse("10.1.0.12:80")));
                table.AddRealServer(service, new RealServerOptions(InetEndpoint.Parse("10.1.0.11:80")));
            });
        if (schedulerOptions is not null)
        {
            lvs.UseSchedulerOptions(schedulerOptions);
        }

        return builder.Build();
    }

    /// <summary>The first picks of packet threads 0 and 1 of the director's one service (<see cref="SchedulerHost"/>): A for 10.1.0.11, B for 10.1.0.12.</summary>
    private static string FirstPicksOfThreads0And1(LvsDirector director)
        {
            var scheduler = director.Table.Snapshot.Services.Single().Scheduler;
            int saved = PacketThread.Current;
            try
            {
                string picks = string.Empty;
                foreach (int thread in new[] { 0, 1 })
                {
                    PacketThread.Current = thread;
                    picks += scheduler.Pick(default)!.Endpoint == InetEndpoint.Parse("10.1.0.11:80") ? "A" : "B";
                }

                return picks;
            }
            finally
            {
                PacketThread.Current = saved;
            }
        }

    [Fact]
    public void WeightedRoundRobinPositionPerThread_FromConfiguration_ReachesTheSchedulerOptions_AndDisagreeingSchedulerOptionsAreAnError()
    {
        IHost Host(Lvs.Scheduling.SchedulerOptions? schedulerOptions) =>
            SchedulerHost("WeightedRoundRobinPositionPerThread", "true", "wrr", schedulerOptions);

        // The first picks of packet threads 0 and 1: each starts wrr's sequence with its own position (A, A), where one
        // shared position gives A, B (and so does one plane, on one processor).
        static string FirstPicks(LvsDirector director) => FirstPicksOfThreads0And1(director);

        string perThread = PacketThread.Planes == 1 ? "AB" : "AA";
        using (var host = Host(null))
        {
            var director = host.Services.GetRequiredService<LvsDirector>();
            Assert.True(director.Options.WeightedRoundRobinPositionPerThread);
            Assert.Equal(perThread, FirstPicks(director));
        }

        using (var agreeing = Host(new Lvs.Scheduling.SchedulerOptions { WeightedRoundRobinPositionPerThread = true }))
        {
            Assert.Equal(perThread, FirstPicks(agreeing.Services.GetRequiredService<LvsDirector>()));
        }

        using var conflicting = Host(new Lvs.Scheduling.SchedulerOptions { MaglevTableSize = 251 });
        var error = Assert.Throws<InvalidOperationException>(() => conflicting.Services.GetRequiredService<LvsDirector>());
        Assert.Contains("--wrr-per-thread", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RoundRobinRunsPerThread_FromConfiguration_ReachesTheSchedulerOptions_AndDisagreeingSchedulerOptionsAreAnError()
    {
        // The first picks of packet threads 0 and 1 over two servers: each starts a run of its own with the option (A
        // from positions 0-31, A from 32-63), one shared sequence without it (A, B); with one plane, A, B either way.
        static string FirstPicks(IHost host) => FirstPicksOfThreads0And1(host.Services.GetRequiredService<LvsDirector>());

        string runs = PacketThread.Planes == 1 ? "AB" : "AA";
        using (var host = SchedulerHost("RoundRobinRunsPerThread", "true", "rr", null))
        {
            Assert.True(host.Services.GetRequiredService<LvsDirector>().Options.RoundRobinRunsPerThread);
            Assert.Equal(runs, FirstPicks(host));
        }

        using (var plain = SchedulerHost("RoundRobinRunsPerThread", null, "rr", null))
        {
            Assert.Equal("AB", FirstPicks(plain));
        }

        using (var agreeing = SchedulerHost("RoundRobinRunsPerThread", "true", "rr", new Lvs.Scheduling.SchedulerOptions { RoundRobinRunsPerThread = true }))
        {
            Assert.Equal(runs, FirstPicks(agreeing));
        }

        using var conflicting = SchedulerHost("RoundRobinRunsPerThread", "true", "rr", new Lvs.Scheduling.SchedulerOptions { MaglevTableSize = 251 });
        var error = Assert.Throws<InvalidOperationException>(() => conflicting.Services.GetRequiredService<LvsDirector>());
        Assert.Contains("--rr-per-thread", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OtherThreadCountsRefreshPicks_FromConfiguration_ReachesTheSchedulerOptions_AndDisagreeingSchedulerOptionsAreAnError()
    {
        IHost Host(string? picks, Lvs.Scheduling.SchedulerOptions? schedulerOptions) =>
            SchedulerHost("OtherThreadCountsRefreshPicks", picks, "wlc", schedulerOptions);

        // Packet thread 1 picks; packet thread 2 then gives the server it picked a thousand connections: thread 1's
        // next pick avoids it at once when it reads every thread's counts, and repeats it while its view of the other
        // threads' counts lasts (with one counter plane both numbers share the plane: at once either way).
        static bool SecondPickRepeatsTheFirst(LvsDirector director)
        {
            var scheduler = director.Table.Snapshot.Services.Single().Scheduler;
            int saved = PacketThread.Current;
            try
            {
                PacketThread.Current = 1;
                var first = scheduler.Pick(default)!;
                PacketThread.Current = 2;
                for (int i = 0; i < 1000; i++)
                {
                    first.AddConnection(active: true);
                }

                PacketThread.Current = 1;
                return scheduler.Pick(default) == first;
            }
            finally
            {
                PacketThread.Current = saved;
            }
        }

        bool viewed = PacketThread.Planes > 1;
        using (var host = Host("3", null))
        {
            var director = host.Services.GetRequiredService<LvsDirector>();
            Assert.Equal(3, director.Options.OtherThreadCountsRefreshPicks);
            Assert.Equal(viewed, SecondPickRepeatsTheFirst(director));
        }

        using (var plain = Host(null, null))
        {
            Assert.False(SecondPickRepeatsTheFirst(plain.Services.GetRequiredService<LvsDirector>()));
        }

        using (var agreeing = Host("3", new Lvs.Scheduling.SchedulerOptions { OtherThreadCountsRefreshPicks = 3 }))
        {
            Assert.Equal(viewed, SecondPickRepeatsTheFirst(agreeing.Services.GetRequiredService<LvsDirector>()));
        }

        using var conflicting = Host("3", new Lvs.Scheduling.SchedulerOptions { OtherThreadCountsRefreshPicks = 64 });
        var error = Assert.Throws<InvalidOperationException>(() => conflicting.Services.GetRequiredService<LvsDirector>());
        Assert.Contains("--counts-refresh-picks", error.Message, StringComparison.Ordinal);

        Assert.Contains(new LvsDirectorOptions { OtherThreadCountsRefreshPicks = -1 }.Validate(), e => e.StartsWith("OtherThreadCountsRefreshPicks must be at least 0", StringComparison.Ordinal));
    }

    [Fact]
    public void MaglevKernelCompatible_FromConfiguration_GivesMhTheKernelsTable_AndDisagreeingSchedulerOptionsAreAnError()
    {
        IHost Host(bool useSchedulerOptions)
        {
            var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Lvs:MaglevKernelCompatible"] = "true" });
            var lvs = builder.Services.AddLvsDirector(options =>
            {
                options.Interfaces.Add("client");
                options.Interfaces.Add("servers");
                options.Gateway = "10.0.0.254";
            })
                .UseLinkFactory(new FakeLinkFactory(_client, _servers))
                .ConfigureTable(table => table.AddService(new VirtualServiceOptions(VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.100:80"))) { Scheduler = "mh" }));
            if (useSchedulerOptions)
            {
                lvs.UseSchedulerOptions(new Lvs.Scheduling.SchedulerOptions { MaglevTableSize = 251 });
            }

            return builder.Build();
        }

        using (var host = Host(useSchedulerOptions: false))
        {
            var director = host.Services.GetRequiredService<LvsDirector>();
            Assert.True(director.Options.MaglevKernelCompatible);
            Assert.Equal(4093, Assert.IsType<Lvs.Scheduling.MaglevHashingScheduler>(director.Table.Snapshot.Services.Single().Scheduler).TableSize);
        }

        using var conflicting = Host(useSchedulerOptions: true);
        var error = Assert.Throws<InvalidOperationException>(() => conflicting.Services.GetRequiredService<LvsDirector>());
        Assert.Contains("--mh-kernel", error.Message, StringComparison.Ordinal);
    }

    private IHost Build(int workers, bool partitionConnections) => Build(workers, [], acceptSourceRoute: false, partitionConnections);

    private IHost Build(int workers, params string[] sysctls) => Build(workers, [], sysctls);

    private IHost Build(int workers, string[] noHostAnswers, params string[] sysctls) => Build(workers, noHostAnswers, acceptSourceRoute: false, partitionConnections: false, sysctls);

    private IHost Build(int workers, string[] noHostAnswers, bool acceptSourceRoute, params string[] sysctls) =>
        Build(workers, noHostAnswers, acceptSourceRoute, partitionConnections: false, sysctls);

    private IHost Build(int workers, string[] noHostAnswers, bool acceptSourceRoute, bool partitionConnections, params string[] sysctls)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddLvsDirector(options =>
        {
            options.RulesFile = _rulesFile;
            options.Interfaces.Add("client");
            options.Interfaces.Add("servers");
            options.Workers = workers;
            options.Gateway = "10.0.0.254";
            options.AcceptSourceRoute = acceptSourceRoute;
            options.PartitionConnections = partitionConnections;
            foreach (var sysctl in sysctls)
            {
                options.Sysctls.Add(sysctl);
            }

            foreach (var answer in noHostAnswers)
            {
                options.NoHostAnswers.Add(answer);
            }
        }).UseLinkFactory(new FakeLinkFactory(_client, _servers));
        return builder.Build();
    }

    /// <summary>The addresses of the next gratuitous ARPs (request form: sender and target the address, broadcast) sent on a link.</summary>
    private static List<string> Announced(FakeFrameLink link, int count)
    {
        var result = new List<string>();
        while (result.Count < count && link.Take(TimeSpan.FromSeconds(10)) is { } frame)
        {
            if (TestFrames.Arp(frame) is { Operation: ArpOperation.Request } arp && arp.SenderProtocolAddress.Equals(arp.TargetProtocolAddress))
            {
                Assert.Equal(TestFrames.Phys(link.Mac), arp.SenderHardwareAddress);
                Assert.Equal(System.Net.NetworkInformation.PhysicalAddress.Parse("FF-FF-FF-FF-FF-FF"), TestFrames.Parse(frame).DestinationHardwareAddress);
                result.Add(arp.SenderProtocolAddress.ToString());
            }
        }

        result.Sort(StringComparer.Ordinal);
        return result;
    }
}
