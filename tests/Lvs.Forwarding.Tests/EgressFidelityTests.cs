using System.Buffers.Binary;
using System.Net;
using Lvs.Core;
using Microsoft.Extensions.Time.Testing;
using PacketDotNet;

namespace Lvs.Forwarding.Tests;

/// <summary>
/// Issue 16's forwarding items without an option before: DR decrements the TTL as the kernel's <c>ip_vs_dr_xmit</c>
/// (through <c>__ip_vs_get_out_rt</c>'s <c>decrement_ttl</c>); DR, NAT and FULLNAT check the egress MTU
/// (<c>ensure_mtu_is_adequate</c>, then <c>ip_fragment</c>); ICMP errors are rate limited (<c>icmp_global_allow</c>,
/// <c>inet_peer_xrlim_allow</c>); IPv4 identifications are per destination (<c>ip_select_ident</c>).
/// </summary>
public class EgressFidelityTests
{
    private static readonly MacAddress Director = PacketFactory.DirectorMac;
    private static readonly MacAddress NextHop = PacketFactory.NextHopMac;
    private static readonly InetEndpoint RealServer = new(InetAddress.Parse("10.0.0.5"), 8080);
    private static readonly InetEndpoint RealServer6 = new(InetAddress.Parse("fd00::5"), 8080);

    [Theory]
    [InlineData("198.51.100.7", "192.0.2.10", ProtocolType.Tcp)]
    [InlineData("2001:db8:1::7", "2001:db8::10", ProtocolType.Udp)]
    public void DirectRouting_Default_DecrementsTheTtlAsTheKernel(string client, string vip, ProtocolType protocol)
    {
        var input = new FrameSpec { Source = client, Destination = vip, Protocol = protocol, PayloadLength = 50 };
        RewriteHarness.AssertRewritesTo(input, input.Forwarded(), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new DirectRoutingRewriter().Rewrite(b, o, l, p, Director, NextHop));
    }

    [Theory]
    [InlineData("198.51.100.7", "192.0.2.10")]
    [InlineData("2001:db8:1::7", "2001:db8::10")]
    public void DirectRouting_TtlOne_AnswersTimeExceededFromTheVip(string client, string vip)
    {
        var input = new FrameSpec { Source = client, Destination = vip, Ttl = 1 };
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new DirectRoutingRewriter().Rewrite(b, o, l, p, Director, NextHop));

        Assert.Equal(ForwardingAction.SendIcmpError, verdict.Action);
        Assert.Equal(DropReason.HopLimitExceeded, verdict.Reason);
        PacketFactory.AssertChecksumsValid(output);
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<IPPacket>();
        Assert.Equal(IPAddress.Parse(vip), ip.SourceAddress);
        Assert.Equal(IPAddress.Parse(client), ip.DestinationAddress);
    }

    [Theory]
    [InlineData("198.51.100.7", "192.0.2.10")]
    [InlineData("2001:db8:1::7", "2001:db8::10")]
    public void DirectRouting_DontFragmentPacketOverEgressMtu_AnswersFragmentationNeededQuotingTheDecrementedTtl(string client, string vip)
    {
        bool ipv6 = client.Contains(':');
        var input = new FrameSpec { Source = client, Destination = vip, PayloadLength = 1400 };
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new DirectRoutingRewriter().Rewrite(b, o, l, p, Director, NextHop, egressMtu: 1280));

        Assert.Equal(ForwardingAction.SendIcmpError, verdict.Action);
        Assert.Equal(DropReason.FragmentationNeeded, verdict.Reason);
        PacketFactory.AssertChecksumsValid(output);
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<IPPacket>();
        Assert.Equal(IPAddress.Parse(vip), ip.SourceAddress);
        byte[] icmp = ip.PayloadData ?? ip.PayloadPacket.Bytes;
        Assert.Equal(ipv6 ? [2, 0] : [3, 4], icmp[..2]);
        Assert.Equal(1280u, ipv6 ? BinaryPrimitives.ReadUInt32BigEndian(icmp.AsSpan(4)) : BinaryPrimitives.ReadUInt16BigEndian(icmp.AsSpan(6)));
        byte[] decremented = PacketFactory.Build(input with { Ttl = 63 });
        Assert.Equal(decremented.AsSpan(14, icmp.Length - 8).ToArray(), icmp[8..]);
    }

    [Fact]
    public void DirectRouting_PacketAtEgressMtu_Transmits()
    {
        var input = new FrameSpec { PayloadLength = 1280 - 40 };
        RewriteHarness.AssertRewritesTo(input, input.Forwarded(), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new DirectRoutingRewriter().Rewrite(b, o, l, p, Director, NextHop, egressMtu: 1280));
    }

    [Fact]
    public void Nat_IPv6OverEgressMtu_AnswersPacketTooBig()
    {
        var input = new FrameSpec { Source = "2001:db8:1::7", Destination = "2001:db8::10", PayloadLength = 1400 };
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter().RewriteInbound(b, o, l, p, RealServer6, Director, NextHop, egressMtu: 1400));

        Assert.Equal(ForwardingAction.SendIcmpError, verdict.Action);
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<IPv6Packet>();
        byte[] icmp = ip.PayloadData ?? ip.PayloadPacket.Bytes;
        Assert.Equal(2, icmp[0]);
        Assert.Equal(1400u, BinaryPrimitives.ReadUInt32BigEndian(icmp.AsSpan(4)));
    }

    [Fact]
    public void Nat_ReplyOverEgressMtu_FragmentationNeededFromTheRealServerLinkQuotingTheTtlItCameWith()
    {
        // ip_forward checks the MTU before it decrements the TTL; icmp_send routes back to the real server.
        var options = new ForwardingOptions { RealServerLinkIPv4 = InetAddress.Parse("10.0.0.1") };
        var reply = new FrameSpec { Source = "10.0.0.5", SourcePort = 8080, Destination = "198.51.100.7", DestinationPort = 43210, PayloadLength = 1400 };
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(reply), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter(options).RewriteOutbound(b, o, l, p, new InetEndpoint(InetAddress.Parse("192.0.2.10"), 80), Director, NextHop, egressMtu: 1000));

        Assert.Equal(DropReason.FragmentationNeeded, verdict.Reason);
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<IPv4Packet>();
        Assert.Equal(IPAddress.Parse("10.0.0.1"), ip.SourceAddress);
        Assert.Equal(IPAddress.Parse("10.0.0.5"), ip.DestinationAddress);
        byte[] icmp = ip.PayloadData ?? ip.PayloadPacket.Bytes;
        Assert.Equal(PacketFactory.Build(reply).AsSpan(14, icmp.Length - 8).ToArray(), icmp[8..]);
    }

    [Theory]
    [InlineData(1500, 576)]
    [InlineData(3000, 1500)]
    [InlineData(1401, 1400)]
    public void Nat_IPv4WithoutDfOverEgressMtu_FragmentsTheRewrittenPacket(int payloadLength, int mtu)
    {
        var input = new FrameSpec { PayloadLength = payloadLength, DontFragment = false };
        byte[] frame = PacketFactory.Build(input);

        // The oracle: the same rewrite with room for the whole packet.
        var (whole, wholeOutput) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter().RewriteInbound(b, o, l, p, RealServer, Director, NextHop, egressMtu: 9000));
        Assert.Equal(ForwardingAction.Transmit, whole.Action);

        byte[] buffer = PacketFactory.InBuffer(frame, tailroom: (2 * frame.Length) + 256);
        var parsed = PacketFactory.Parse(buffer, FrameHeadroom.Required, frame.Length);
        var verdict = new NatRewriter().RewriteInbound(buffer, FrameHeadroom.Required, frame.Length, parsed, RealServer, Director, NextHop, egressMtu: mtu);

        Assert.Equal(ForwardingAction.TransmitFragments, verdict.Action);
        byte[] ipWhole = wholeOutput[14..];
        int perFragment = (mtu - 20) & ~7;
        int data = ipWhole.Length - 20;
        Assert.Equal((data + perFragment - 1) / perFragment, verdict.FrameCount);
        byte[] reassembled = new byte[data];
        for (int i = 0; i < verdict.FrameCount; i++)
        {
            var (offset, length) = verdict.GetFrame(i);
            byte[] fragment = buffer.AsSpan(offset, length).ToArray();
            Assert.Equal(wholeOutput[..14], fragment[..14]);
            byte[] ip = fragment[14..];
            Assert.InRange(ip.Length, 21, mtu);
            Assert.Equal(ip.Length, BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(2)));
            Assert.Equal(0, ReferenceChecksum.Compute(ip.AsSpan(0, 20)));
            Assert.Equal(ipWhole.AsSpan(4, 2).ToArray(), ip.AsSpan(4, 2).ToArray()); // the identification is the packet's
            Assert.Equal(ipWhole.AsSpan(8, 1).ToArray(), ip.AsSpan(8, 1).ToArray()); // TTL decremented once
            Assert.Equal(ipWhole.AsSpan(12, 8).ToArray(), ip.AsSpan(12, 8).ToArray()); // translated addresses
            ushort flags = BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(6));
            Assert.Equal(i * perFragment, (flags & 0x1FFF) * 8);
            Assert.Equal(i < verdict.FrameCount - 1, (flags & 0x2000) != 0);
            ip.AsSpan(20).CopyTo(reassembled.AsSpan(i * perFragment));
        }

        Assert.Equal(ipWhole[20..], reassembled);
    }

    [Fact]
    public void Nat_IPv4WithoutDfOverEgressMtuWithoutTailroom_DropsExceedsMtu()
    {
        var input = new FrameSpec { PayloadLength = 1500, DontFragment = false };
        var (verdict, _) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new NatRewriter().RewriteInbound(b, o, l, p, RealServer, Director, NextHop, egressMtu: 1000));
        Assert.Equal(ForwardingAction.Drop, verdict.Action);
        Assert.Equal(DropReason.ExceedsMtu, verdict.Reason);
    }

    [Fact]
    public void FullNat_DontFragmentPacketOverOptionsMtu_AnswersFragmentationNeededFromTheVip()
    {
        var input = new FrameSpec { PayloadLength = 1500 };
        var local = new InetEndpoint(InetAddress.Parse("10.0.0.100"), 5000);
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new FullNatRewriter().RewriteInbound(b, o, l, p, local, RealServer, Director, NextHop));
        Assert.Equal(DropReason.FragmentationNeeded, verdict.Reason);
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<IPv4Packet>();
        Assert.Equal(IPAddress.Parse(input.Destination), ip.SourceAddress);
    }

    [Fact]
    public void IcmpRateLimiter_GlobalBucket_EmptiesWithinABurstAndRefillsAfterTwentyMilliseconds()
    {
        var clock = new FakeTimeProvider();
        var limiter = new IcmpRateLimiter(clock, randomSeed: 7) { IPv4DestinationInterval = TimeSpan.Zero };
        int allowed = 0;
        while (limiter.TryAcquire(InetAddress.FromIPv4(0x0A00_0000u + (uint)allowed), 11, 0) && allowed < 1000)
        {
            allowed++;
        }

        // 50 credits, each error taking 0, 1 or 2 of them at random (icmp_global_consume).
        Assert.InRange(allowed, 25, 200);
        Assert.Equal(1, limiter.RefusedGlobal);
        clock.Advance(TimeSpan.FromMilliseconds(19));
        Assert.False(limiter.TryAcquire(InetAddress.FromIPv4(0x0B00_0001u), 11, 0));
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(limiter.TryAcquire(InetAddress.FromIPv4(0x0B00_0001u), 11, 0));
    }

    [Fact]
    public void IcmpRateLimiter_OneDestination_SixAtOnceThenOnePerSecond()
    {
        var clock = new FakeTimeProvider();
        var limiter = new IcmpRateLimiter(clock, randomSeed: 7) { MessagesPerSecond = 1_000_000, Burst = 1_000_000 };
        var client = InetAddress.Parse("198.51.100.7");
        int allowed = 0;
        for (int i = 0; i < 20; i++)
        {
            allowed += limiter.TryAcquire(client, 11, 0) ? 1 : 0;
        }

        Assert.Equal(6, allowed);
        Assert.True(limiter.TryAcquire(InetAddress.Parse("198.51.100.8"), 11, 0));
        clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(limiter.TryAcquire(client, 11, 0));
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(limiter.TryAcquire(client, 11, 0));
        Assert.False(limiter.TryAcquire(client, 11, 0));
    }

    [Theory]
    [InlineData(false, 3, 4, false)] // fragmentation needed: never limited
    [InlineData(true, 2, 0, false)] // packet too big: never limited
    [InlineData(false, 3, 3, true)] // port unreachable
    [InlineData(false, 11, 0, true)] // time exceeded
    [InlineData(false, 0, 0, false)] // echo reply: not in the rate mask
    [InlineData(true, 1, 4, true)]
    [InlineData(true, 3, 0, true)]
    [InlineData(true, 129, 0, false)] // echo reply
    public void IcmpRateLimiter_Types_LimitedAsTheKernelRateMasks(bool ipv6, byte type, byte code, bool limited) =>
        Assert.Equal(limited, IcmpRateLimiter.IsLimited(ipv6, type, code));

    [Fact]
    public void Nat_TtlExpiredFlood_TimeExceededRateLimitedAndNoted()
    {
        var options = new ForwardingOptions { IcmpRateLimiter = new IcmpRateLimiter(new FakeTimeProvider(), randomSeed: 3) };
        var rewriter = new NatRewriter(options);
        var actions = new List<(ForwardingAction Action, ForwardingNotes Notes)>();
        for (int i = 0; i < 10; i++)
        {
            var (verdict, _) = RewriteHarness.Run(PacketFactory.Build(new FrameSpec { Ttl = 1 }), (Span<byte> b, int o, int l, in ParsedFrame p) =>
                rewriter.RewriteInbound(b, o, l, p, RealServer, Director, NextHop));
            actions.Add((verdict.Action, verdict.Notes));
            Assert.Equal(DropReason.HopLimitExceeded, verdict.Reason);
        }

        Assert.All(actions.Take(6), a => Assert.Equal(ForwardingAction.SendIcmpError, a.Action));
        Assert.All(actions.Skip(6), a => Assert.Equal((ForwardingAction.Drop, ForwardingNotes.IcmpErrorRateLimited), a));
    }

    [Fact]
    public void Tunnel_OuterIdentifications_CountPerDestinationAsTheKernel()
    {
        // Packets without DF to two real servers, interleaved: each destination's identifications follow on from its
        // own (ip_idents_reserve), not from a counter shared by both. The clock stands still: no idle jump.
        var options = new ForwardingOptions { TimeProvider = new FakeTimeProvider(), FlowHashSeed = 42 };
        var tunnel = new TunnelEncapsulator(options);
        var first = new TunnelRoute(InetAddress.Parse("10.0.0.1"), InetAddress.Parse("10.0.0.5"), TunnelType.IpIp);
        var second = new TunnelRoute(InetAddress.Parse("10.0.0.1"), InetAddress.Parse("10.0.0.6"), TunnelType.IpIp);
        ushort a1 = OuterIdentification(tunnel, first);
        ushort b1 = OuterIdentification(tunnel, second);
        ushort a2 = OuterIdentification(tunnel, first);
        ushort b2 = OuterIdentification(tunnel, second);
        Assert.Equal((ushort)(a1 + 1), a2);
        Assert.Equal((ushort)(b1 + 1), b2);
    }

    [Fact]
    public void Tunnel_OuterIdentificationsWithCounterPolicy_OneSequenceForAllDestinations()
    {
        var tunnel = new TunnelEncapsulator(new ForwardingOptions { IpIdentification = IpIdentificationPolicy.Counter });
        var first = new TunnelRoute(InetAddress.Parse("10.0.0.1"), InetAddress.Parse("10.0.0.5"), TunnelType.IpIp);
        var second = new TunnelRoute(InetAddress.Parse("10.0.0.1"), InetAddress.Parse("10.0.0.6"), TunnelType.IpIp);
        Assert.Equal([1, 2, 3], new[] { OuterIdentification(tunnel, first), OuterIdentification(tunnel, second), OuterIdentification(tunnel, first) });
    }

    [Fact]
    public void Tunnel_TwoEncapsulatorsOfOneOptions_ShareOneIdentificationSequence()
    {
        // The kernel has one ip_idents array: rewriters configured alike (one options instance, or its copies made with
        // `with` that keep the policy) count together; another options instance counts on its own.
        var options = new ForwardingOptions { IpIdentification = IpIdentificationPolicy.Counter };
        var first = new TunnelEncapsulator(options);
        var second = new TunnelEncapsulator(options with { Mtu = 9000 });
        var other = new TunnelEncapsulator(new ForwardingOptions { IpIdentification = IpIdentificationPolicy.Counter });
        var route = new TunnelRoute(InetAddress.Parse("10.0.0.1"), InetAddress.Parse("10.0.0.5"), TunnelType.IpIp);
        Assert.Equal([1, 2, 3, 1], new[] { OuterIdentification(first, route), OuterIdentification(second, route), OuterIdentification(first, route), OuterIdentification(other, route) });
    }

    [Fact]
    public void Tunnel_OuterIdentificationAfterIdleTime_JumpsBelowTheIdleMilliseconds()
    {
        var clock = new FakeTimeProvider();
        var tunnel = new TunnelEncapsulator(new ForwardingOptions { TimeProvider = clock, FlowHashSeed = 42 });
        var route = new TunnelRoute(InetAddress.Parse("10.0.0.1"), InetAddress.Parse("10.0.0.5"), TunnelType.IpIp);
        _ = OuterIdentification(tunnel, route);
        var steps = new List<int>();
        ushort last = OuterIdentification(tunnel, route);
        for (int i = 0; i < 20; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(1000));
            ushort next = OuterIdentification(tunnel, route);
            steps.Add((ushort)(next - last));
            last = next;
        }

        Assert.All(steps, step => Assert.InRange(step, 1, 1000));
        Assert.Contains(steps, step => step > 1);
    }

    private static ushort OuterIdentification(TunnelEncapsulator tunnel, in TunnelRoute route)
    {
        var copy = route;
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(new FrameSpec { DontFragment = false }), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            tunnel.Encapsulate(b, o, l, p, copy, Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        return BinaryPrimitives.ReadUInt16BigEndian(output.AsSpan(14 + 4));
    }
}
