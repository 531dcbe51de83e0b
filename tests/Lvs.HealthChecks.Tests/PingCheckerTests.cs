using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Lvs.Core;
using Lvs.HealthChecks.Tests.Fixtures;

namespace Lvs.HealthChecks.Tests;

/// <summary>
/// keepalived's PING_CHECK against the loopback addresses, which the kernel answers itself. Raw ICMP sockets need
/// CAP_NET_RAW (CI runs as root), ::1 an IPv6 loopback, and the no-reply tests a network namespace of their own (root
/// and iproute2): a test whose prerequisite is missing fails, saying which (a skipped test proves nothing).
/// </summary>
public sealed class PingCheckerTests
{
    // TEST-NET-1 (RFC 5737): a real server address nothing is sent to (connect_ip points elsewhere).
    private static readonly InetAddress Unanswered = InetAddress.Parse("192.0.2.201");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static PingChecker Checker(string address, SocketType[]? socketTypes = null, TimeProvider? clock = null, TimeSpan? timeout = null)
    {
        var connection = new CheckConnectionOptions(new InetEndpoint(InetAddress.Parse(address), 80)) { ConnectTimeout = timeout ?? TimeSpan.FromSeconds(2) };
        return socketTypes is null ? new PingChecker(connection, clock) : new PingChecker(connection, clock, socketTypes);
    }

    [Fact]
    public async Task Check_IPv4Loopback_IsHealthy()
    {
        CheckResult result = await Checker("127.0.0.1").CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
        Assert.Equal("echo reply received", result.Reason);
    }

    [Fact]
    public async Task Check_IPv6Loopback_IsHealthy()
    {
        RequireIPv6Loopback();

        CheckResult result = await Checker("::1").CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public async Task Check_RawSocket_MatchesTheReplyAmongOtherIcmp(string address)
    {
        // A raw socket also reads the request itself on loopback: only the reply may pass.
        RequireRawIcmp();
        if (address == "::1")
        {
            RequireIPv6Loopback();
        }

        CheckResult result = await Checker(address, [SocketType.Raw]).CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
    }

    [Fact]
    public async Task Check_PingSocketOnly_IsHealthyOrSaysItCannotOpenOne()
    {
        // keepalived's socket (SOCK_DGRAM, IPPROTO_ICMP) opens only for a group inside net.ipv4.ping_group_range.
        bool allowed;
        try
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Icmp);
            allowed = true;
        }
        catch (SocketException)
        {
            allowed = false;
        }

        CheckResult result = await Checker("127.0.0.1", [SocketType.Dgram]).CheckAsync(Ct);

        if (allowed)
        {
            Assert.True(result.IsHealthy, result.Reason);
        }
        else
        {
            Assert.False(result.IsHealthy);
            Assert.StartsWith("cannot open an ICMP socket", result.Reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Check_ConnectIp_PingsThatAddressInsteadOfTheRealServer()
    {
        var connection = new CheckConnectionOptions(new InetEndpoint(Unanswered, 80)) { ConnectIp = InetAddress.Parse("127.0.0.1") };

        CheckResult result = await new PingChecker(connection).CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
    }

    [Fact]
    public async Task Check_BindTo_SendsTheRequestFromThatAddress()
    {
        RequireRawIcmp();
        // A raw ICMP socket on 127.0.0.1 reads every ICMP packet to it, the checker's request included.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var connection = new CheckConnectionOptions(new InetEndpoint(InetAddress.Parse("127.0.0.1"), 0)) { BindTo = InetAddress.Parse("127.0.0.2") };

        CheckResult result = await new PingChecker(connection).CheckAsync(Ct);

        Assert.True(result.IsHealthy, result.Reason);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        wait.CancelAfter(TimeSpan.FromSeconds(10));
        byte[] packet = new byte[2048];
        while (true)
        {
            SocketReceiveFromResult received = await listener.ReceiveFromAsync(packet, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), wait.Token);
            int icmp = (packet[0] & 0x0F) * 4;
            if (packet[icmp] == 8 && received.ReceivedBytes - icmp == 8 + 128)
            {
                Assert.Equal(IPAddress.Parse("127.0.0.2"), ((IPEndPoint)received.RemoteEndPoint).Address);
                return;
            }
        }
    }

    [Fact]
    public async Task Check_BindToAnAddressNotLocal_IsUnhealthy()
    {
        // TEST-NET-3 (RFC 5737) is on no interface: the bind fails before anything is sent.
        var connection = new CheckConnectionOptions(new InetEndpoint(InetAddress.Parse("127.0.0.1"), 0)) { BindTo = InetAddress.Parse("203.0.113.7") };

        CheckResult result = await new PingChecker(connection).CheckAsync(Ct);

        Assert.False(result.IsHealthy);
        Assert.Equal("ICMP echo failed: AddressNotAvailable", result.Reason);
    }

    [Fact]
    public async Task Check_Broadcast_SendIsRefusedAndUnhealthy()
    {
        // Without SO_BROADCAST the kernel refuses the limited broadcast at once (EACCES), or finds no route for it
        // (ENETUNREACH, a host with no route but lo's): nothing leaves the machine.
        CheckResult result = await Checker("255.255.255.255").CheckAsync(Ct);

        Assert.False(result.IsHealthy);
        Assert.Matches("^ICMP echo failed: (AccessDenied|NetworkUnreachable)$", result.Reason);
    }

    [Fact]
    public async Task Check_NoReplyWithinTheTimeout_IsUnhealthy()
    {
        using var network = SilentNetworkOrFail();
        var clock = FakeClock.Create();
        var checker = new PingChecker(new CheckConnectionOptions(new InetEndpoint(SilentNetwork.Silent, 0)) { ConnectTimeout = TimeSpan.FromSeconds(3) }, clock);

        ValueTask<CheckResult> pending = network.RunInside(() => checker.CheckAsync(Ct));
        Assert.False(pending.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(3));
        CheckResult result = await pending;

        Assert.False(result.IsHealthy);
        Assert.Equal("no echo reply within 3s", result.Reason);
    }

    [Fact]
    public async Task Check_CallerCancels_StopsWithCancellation()
    {
        using var network = SilentNetworkOrFail();
        var clock = FakeClock.Create();
        var checker = new PingChecker(new CheckConnectionOptions(new InetEndpoint(SilentNetwork.Silent, 0)) { ConnectTimeout = TimeSpan.FromSeconds(60) }, clock);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        ValueTask<CheckResult> pending = network.RunInside(() => checker.CheckAsync(cts.Token));
        Assert.False(pending.IsCompleted);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
    }

    [Fact]
    public async Task Check_AlreadyCancelled_DoesNotPing()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await Checker("127.0.0.1").CheckAsync(cts.Token));
    }

    [Fact]
    public void Constructor_PortOptions_AreRefused()
    {
        var target = new InetEndpoint(InetAddress.Parse("127.0.0.1"), 80);

        var connectPort = Assert.Throws<ArgumentException>(() => new PingChecker(new CheckConnectionOptions(target) { ConnectPort = 8080 }));
        var bindPort = Assert.Throws<ArgumentException>(() => new PingChecker(new CheckConnectionOptions(target) { BindPort = 4000 }));

        Assert.Contains("connect_port", connectPort.Message, StringComparison.Ordinal);
        Assert.Contains("bind_port", bindPort.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_BindToOfAnotherFamily_IsRefused()
    {
        var target = new InetEndpoint(InetAddress.Parse("127.0.0.1"), 80);

        var e = Assert.Throws<ArgumentException>(() => new PingChecker(new CheckConnectionOptions(target) { BindTo = InetAddress.Parse("::1") }));

        Assert.Contains("(keepalived bindto) ::1 and the target 127.0.0.1 are not of the same address family", e.Message, StringComparison.Ordinal);
        _ = new PingChecker(new CheckConnectionOptions(target) { ConnectIp = InetAddress.Parse("::1"), BindTo = InetAddress.Parse("::1") });
    }

    [Fact]
    public void Timing_IsKeepalivedsDefault()
    {
        // check_ping.c keeps queue_checker's defaults: retry 1, delay_before_retry 1 s.
        var timing = CheckTiming.For(Checker("127.0.0.1"));

        Assert.Equal((1, TimeSpan.FromSeconds(1)), (timing.Retry, timing.DelayBeforeRetry));
    }

    /// <summary>Fails the test when a prerequisite is missing: a skipped test proves nothing (CI runs as root).</summary>
    private static void Require(bool available, string missing) => Assert.True(available, $"{missing}: required by this test");

    /// <summary>A namespace of the test's own where the silent address never answers (root and iproute2).</summary>
    private static SilentNetwork SilentNetworkOrFail()
    {
        var network = SilentNetwork.TryCreate(out string? missing);
        Require(network is not null, missing ?? string.Empty);
        return network!;
    }

    private static void RequireRawIcmp()
    {
        bool available;
        try
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp);
            available = true;
        }
        catch (SocketException)
        {
            available = false;
        }

        Require(available, "no raw ICMP socket (needs CAP_NET_RAW)");
    }

    private static void RequireIPv6Loopback()
    {
        bool available;
        try
        {
            using var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
            probe.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            available = true;
        }
        catch (SocketException)
        {
            available = false;
        }

        Require(available, "no IPv6 loopback (::1)");
    }

    /// <summary>Keeps the reply layout of the checker's raw path honest: an IPv4 header then the ICMP echo reply.</summary>
    [Fact]
    public void EchoLayout_RawIPv4Reply_CarriesIdentifierAndSequenceAfterTheIpHeader()
    {
        byte[] packet = new byte[20 + 8];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(24), 0x1234);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(26), 7);

        Assert.True(PingChecker.IsReply(packet, v6: false, raw: true, 0x1234, 7));
        Assert.False(PingChecker.IsReply(packet, v6: false, raw: true, 0x1234, 8));
        Assert.False(PingChecker.IsReply(packet, v6: false, raw: true, 0x4321, 7));
        Assert.True(PingChecker.IsReply(packet.AsSpan(20), v6: false, raw: false, 0x4321, 7));
        Assert.False(PingChecker.IsReply(packet.AsSpan(0, 10), v6: false, raw: true, 0x1234, 7));
        packet[0] = 0x4F; // a header length past the packet's end
        Assert.False(PingChecker.IsReply(packet, v6: false, raw: true, 0x1234, 7));
    }
}
