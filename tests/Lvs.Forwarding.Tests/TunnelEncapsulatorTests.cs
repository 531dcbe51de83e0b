using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;
using Lvs.TestSupport;
using PacketDotNet;

namespace Lvs.Forwarding.Tests;

public class TunnelEncapsulatorTests
{
    private const ulong Seed = 0x5EED;
    private static readonly MacAddress Director = PacketFactory.DirectorMac;
    private static readonly MacAddress NextHop = PacketFactory.NextHopMac;

    public static TheoryData<string, string, string, string, TunnelType, TunnelFlags> Routes() => new()
    {
        { "198.51.100.7", "192.0.2.10", "10.0.0.1", "10.0.0.5", TunnelType.IpIp, TunnelFlags.None },
        { "2001:db8:1::7", "2001:db8::10", "fd00::1", "fd00::5", TunnelType.IpIp, TunnelFlags.None },
        { "198.51.100.7", "192.0.2.10", "10.0.0.1", "10.0.0.5", TunnelType.Gue, TunnelFlags.None },
        { "198.51.100.7", "192.0.2.10", "10.0.0.1", "10.0.0.5", TunnelType.Gue, TunnelFlags.Checksum },
        { "2001:db8:1::7", "2001:db8::10", "fd00::1", "fd00::5", TunnelType.Gue, TunnelFlags.Checksum },
        { "198.51.100.7", "192.0.2.10", "10.0.0.1", "10.0.0.5", TunnelType.Gre, TunnelFlags.None },
        { "198.51.100.7", "192.0.2.10", "10.0.0.1", "10.0.0.5", TunnelType.Gre, TunnelFlags.Checksum },
        { "2001:db8:1::7", "2001:db8::10", "fd00::1", "fd00::5", TunnelType.Gre, TunnelFlags.Checksum },
        { "2001:db8:1::7", "2001:db8::10", "10.0.0.1", "10.0.0.5", TunnelType.IpIp, TunnelFlags.None },
    };

    [Theory]
    [MemberData(nameof(Routes))]
    public void Encapsulate_EachTypeAndFamily_MatchesGoldenFrame(string client, string vip, string director, string realServer, TunnelType type, TunnelFlags flags)
    {
        var input = new FrameSpec { Source = client, Destination = vip, PayloadLength = 90, TypeOfService = 0x29 }; // DSCP 10, ECT(1): both copied outside
        var route = new TunnelRoute(InetAddress.Parse(director), InetAddress.Parse(realServer), type, 6080, flags);
        var encapsulator = new TunnelEncapsulator(new ForwardingOptions { FlowHashSeed = Seed, IpIdentification = IpIdentificationPolicy.Counter });
        byte[] frame = PacketFactory.Build(input);
        _ = FrameParser.Parse(frame, out var original);

        var (verdict, output) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) => encapsulator.Encapsulate(b, o, l, p, route, Director, NextHop));

        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(FrameHeadroom.Required - route.Overhead, verdict.FrameOffset);
        byte[] inner = PacketFactory.Build(input with { Ttl = 63 })[14..];
        RewriteHarness.AssertGolden(ExpectedTunnelFrame(inner, route, original.Flow, ttl: 63, dontFragment: !client.Contains(':')), output);
        PacketFactory.AssertChecksumsValid(output, tunnelOuter: true);
    }

    [Fact]
    public void Encapsulate_InnerCongestionExperienced_OuterCarriesEct0()
    {
        var input = new FrameSpec { TypeOfService = 0xB7 }; // DSCP 45, ECN CE
        var route = new TunnelRoute(InetAddress.FromIPv4(10, 0, 0, 1), InetAddress.FromIPv4(10, 0, 0, 5), TunnelType.IpIp);
        var (_, output) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) => new TunnelEncapsulator().Encapsulate(b, o, l, p, route, Director, NextHop));
        Assert.Equal(0xB6, output[15]);
    }

    [Theory]
    [InlineData(TunnelType.IpIp, 1480)]
    [InlineData(TunnelType.Gue, 1468)]
    [InlineData(TunnelType.Gre, 1476)]
    public void Encapsulate_IPv4WithDfOverMtu_ReturnsFragmentationNeededWithReducedMtu(TunnelType type, int innerMtu)
    {
        var input = new FrameSpec { PayloadLength = innerMtu - 40 + 1, DontFragment = true };
        var route = new TunnelRoute(InetAddress.FromIPv4(10, 0, 0, 1), InetAddress.FromIPv4(10, 0, 0, 5), type, 6080);
        byte[] frame = PacketFactory.Build(input);
        var (verdict, output) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) => new TunnelEncapsulator().Encapsulate(b, o, l, p, route, Director, NextHop));

        Assert.Equal(ForwardingAction.SendIcmpError, verdict.Action);
        Assert.Equal(DropReason.FragmentationNeeded, verdict.Reason);
        PacketFactory.AssertChecksumsValid(output, tunnelOuter: true);
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<IPv4Packet>();
        Assert.Equal(576, ip.TotalLength);
        Assert.Equal(IPAddress.Parse(input.Destination), ip.SourceAddress);
        Assert.Equal(IPAddress.Parse(input.Source), ip.DestinationAddress);
        byte[] icmp = ip.PayloadData ?? ip.PayloadPacket.Bytes;
        Assert.Equal([3, 4], icmp[..2]);
        Assert.Equal(innerMtu, BinaryPrimitives.ReadUInt16BigEndian(icmp.AsSpan(6)));

        // The quote has the TTL already decremented: __ip_vs_get_out_rt runs decrement_ttl before ensure_mtu_is_adequate.
        Assert.Equal(PacketFactory.Build(input with { Ttl = 63 }).AsSpan(14, 576 - 28).ToArray(), icmp[8..]);
    }

    [Fact]
    public void Encapsulate_IPv4AtReducedMtu_Transmits()
    {
        var input = new FrameSpec { PayloadLength = 1480 - 40 };
        var route = new TunnelRoute(InetAddress.FromIPv4(10, 0, 0, 1), InetAddress.FromIPv4(10, 0, 0, 5), TunnelType.IpIp);
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) => new TunnelEncapsulator().Encapsulate(b, o, l, p, route, Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(1514, output.Length);
    }

    /// <summary>
    /// An IPv4 packet without DF over the tunnel MTU is encapsulated and the outer packet fragmented, as the kernel's
    /// ip_vs_tunnel_xmit (DF copied from the inner header, ignore_df) then ip_fragment / ip6_fragment do: the fragments,
    /// written after the frame, reassemble to the outer packet an unlimited MTU gives, each within the MTU.
    /// </summary>
    [Theory]
    [InlineData(TunnelType.IpIp, false, 3000)]
    [InlineData(TunnelType.Gue, false, 1461)]
    [InlineData(TunnelType.Gre, false, 8000)]
    [InlineData(TunnelType.IpIp, true, 3000)]
    [InlineData(TunnelType.Gue, true, 1500)]
    [InlineData(TunnelType.Gre, true, 1443)]
    public void Encapsulate_IPv4WithoutDfOverMtu_FragmentsTheOuterPacket(TunnelType type, bool outerIPv6, int payloadLength) =>
        Assert.Equal(ForwardingAction.TransmitFragments, AssertSentLikeTheWholeEncapsulation(type, outerIPv6, payloadLength, mtu: 1500));

    /// <summary>
    /// pmtu_disc off (<see cref="ForwardingOptions.TunnelPathMtuDiscovery"/>): ensure_mtu_is_adequate lets an IPv4 packet
    /// with DF through a tunnel whatever its size, and ip_vs_tunnel_xmit does not copy DF, so the outer packet is
    /// fragmented as a packet without DF is (the inner packet keeps its DF flag).
    /// </summary>
    [Theory]
    [InlineData(TunnelType.IpIp, false, 3000)]
    [InlineData(TunnelType.Gue, false, 1461)]
    [InlineData(TunnelType.Gre, true, 1443)]
    [InlineData(TunnelType.IpIp, true, 8000)]
    public void Encapsulate_PathMtuDiscoveryOffIPv4WithDfOverMtu_FragmentsTheOuterPacket(TunnelType type, bool outerIPv6, int payloadLength) =>
        Assert.Equal(ForwardingAction.TransmitFragments, AssertSentLikeTheWholeEncapsulation(type, outerIPv6, payloadLength, mtu: 1500, dontFragment: true, pathMtuDiscovery: false));

    /// <summary>pmtu_disc off: an IPv4 packet with DF within the MTU goes out with no DF on its IPv4 outer header (and so an identification), its inner header unchanged.</summary>
    [Theory]
    [InlineData(TunnelType.IpIp)]
    [InlineData(TunnelType.Gue)]
    [InlineData(TunnelType.Gre)]
    public void Encapsulate_PathMtuDiscoveryOff_OuterIPv4HeaderHasNoDf(TunnelType type)
    {
        var input = new FrameSpec { PayloadLength = 90, TypeOfService = 0x29, DontFragment = true };
        var route = new TunnelRoute(InetAddress.Parse("10.0.0.1"), InetAddress.Parse("10.0.0.5"), type, 6080);
        var encapsulator = new TunnelEncapsulator(new ForwardingOptions { FlowHashSeed = Seed, IpIdentification = IpIdentificationPolicy.Counter, TunnelPathMtuDiscovery = false });
        byte[] frame = PacketFactory.Build(input);
        _ = FrameParser.Parse(frame, out var original);

        var (verdict, output) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) => encapsulator.Encapsulate(b, o, l, p, route, Director, NextHop));

        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        byte[] inner = PacketFactory.Build(input with { Ttl = 63 })[14..];
        Assert.Equal(0x40, inner[6] & 0x40); // the inner packet keeps DF
        RewriteHarness.AssertGolden(ExpectedTunnelFrame(inner, route, original.Flow, ttl: 63, dontFragment: false), output);
    }

    /// <summary>For any size, MTU, tunnel type and outer family, an IPv4 packet without DF goes out whole or as fragments that reassemble to the whole encapsulation.</summary>
    [FsCheck.Xunit.Property(MaxTest = 150)]
    public Property Encapsulate_IPv4WithoutDfAnySizeAndMtu_SendsTheWholeEncapsulationOrItsFragments()
    {
        var cases = from type in Gen.Elements(TunnelType.IpIp, TunnelType.Gue, TunnelType.Gre)
                    from outerIPv6 in Gen.Elements(false, true)
                    from payload in Gen.Choose(0, 9000)
                    from mtu in Gen.Choose(160, 9100)
                    select (type, outerIPv6, payload, mtu);
        return Prop.ForAll(Arb.From(cases), c => _ = AssertSentLikeTheWholeEncapsulation(c.type, c.outerIPv6, c.payload, c.mtu));
    }

    /// <summary>
    /// Encapsulates an IPv4 TCP packet without DF at <paramref name="mtu"/> and checks what is sent against the same
    /// encapsulation at an MTU that fits it whole: the same frame, or fragments each within the MTU (offsets in 8-byte
    /// units, MF on all but the last, one identification, every other header field as in the whole packet) whose
    /// payloads reassemble to the whole packet's.
    /// </summary>
    private static ForwardingAction AssertSentLikeTheWholeEncapsulation(TunnelType type, bool outerIPv6, int payloadLength, int mtu, bool dontFragment = false, bool pathMtuDiscovery = true)
    {
        var input = new FrameSpec { PayloadLength = payloadLength, DontFragment = dontFragment };
        var route = new TunnelRoute(InetAddress.Parse(outerIPv6 ? "fd00::1" : "10.0.0.1"), InetAddress.Parse(outerIPv6 ? "fd00::5" : "10.0.0.5"), type, 6080, TunnelFlags.Checksum);
        byte[] frame = PacketFactory.Build(input);

        // The oracle: the same encapsulation with an MTU that fits it whole.
        var (whole, wholeOutput) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new TunnelEncapsulator(new ForwardingOptions { Mtu = 65535, FlowHashSeed = Seed, IpIdentification = IpIdentificationPolicy.Counter, TunnelPathMtuDiscovery = pathMtuDiscovery }).Encapsulate(b, o, l, p, route, Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, whole.Action);

        byte[] buffer = PacketFactory.InBuffer(frame, tailroom: (2 * frame.Length) + 256);
        var parsed = PacketFactory.Parse(buffer, FrameHeadroom.Required, frame.Length);
        var verdict = new TunnelEncapsulator(new ForwardingOptions { Mtu = mtu, FlowHashSeed = Seed, IpIdentification = IpIdentificationPolicy.Counter, TunnelPathMtuDiscovery = pathMtuDiscovery }).Encapsulate(buffer, FrameHeadroom.Required, frame.Length, parsed, route, Director, NextHop);
        if (wholeOutput.Length - 14 <= mtu)
        {
            Assert.Equal(ForwardingAction.Transmit, verdict.Action);
            RewriteHarness.AssertGolden(wholeOutput, PacketFactory.Output(buffer, verdict));
            return verdict.Action;
        }

        Assert.Equal(ForwardingAction.TransmitFragments, verdict.Action);
        Assert.Equal(DropReason.ExceedsMtu, verdict.Reason);
        Assert.True(verdict.ShouldSend);
        Assert.Equal(FrameHeadroom.Required + frame.Length, verdict.FrameOffset);
        int ipHeader = outerIPv6 ? 40 : 20;
        int perFragment = (mtu - ipHeader - (outerIPv6 ? 8 : 0)) & ~7;
        int outerPayload = wholeOutput.Length - 14 - ipHeader;
        Assert.Equal((outerPayload + perFragment - 1) / perFragment, verdict.FrameCount);
        byte[] reassembled = new byte[outerPayload];
        int expectedOffset = 0;
        uint? identification = null;
        for (int i = 0; i < verdict.FrameCount; i++)
        {
            var (offset, length) = verdict.GetFrame(i);
            byte[] fragment = buffer.AsSpan(offset, length).ToArray();
            bool last = i == verdict.FrameCount - 1;
            Assert.Equal(wholeOutput[..14], fragment[..14]); // the link header
            byte[] ip = fragment[14..];
            int chunk;
            if (!outerIPv6)
            {
                Assert.Equal(length - 14, BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(2)));
                Assert.InRange(length - 14, 21, mtu);
                Assert.Equal(0, ReferenceChecksum.Compute(ip.AsSpan(0, 20)));
                ushort flags = BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(6));
                Assert.Equal(expectedOffset / 8, flags & 0x1FFF);
                Assert.Equal(last ? 0 : 0x2000, flags & 0xE000); // MF on all but the last, never DF
                identification ??= BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(4));
                Assert.Equal(identification, BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(4)));
                Assert.NotEqual(0u, identification);

                // Every other header field as in the whole packet.
                Assert.Equal(wholeOutput.AsSpan(14, 2).ToArray(), ip[..2]);
                Assert.Equal(wholeOutput.AsSpan(14 + 4, 2).ToArray(), ip[4..6]);
                Assert.Equal(wholeOutput.AsSpan(14 + 8, 2).ToArray(), ip[8..10]);
                Assert.Equal(wholeOutput.AsSpan(14 + 12, 8).ToArray(), ip[12..20]);
                chunk = ip.Length - 20;
                ip[20..].CopyTo(reassembled, expectedOffset);
            }
            else
            {
                Assert.InRange(length - 14, 49, mtu);
                Assert.Equal(length - 14 - 40, BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(4)));
                Assert.Equal(44, ip[6]);
                Assert.Equal(wholeOutput[14 + 6], ip[40]); // the fragment header names the outer payload's protocol
                ushort offsetAndFlags = BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(42));
                Assert.Equal(expectedOffset, offsetAndFlags & 0xFFF8);
                Assert.Equal(last ? 0 : 1, offsetAndFlags & 1);
                identification ??= BinaryPrimitives.ReadUInt32BigEndian(ip.AsSpan(44));
                Assert.Equal(identification, BinaryPrimitives.ReadUInt32BigEndian(ip.AsSpan(44)));
                Assert.Equal(wholeOutput.AsSpan(14, 4).ToArray(), ip[..4]);
                Assert.Equal(wholeOutput[14 + 7], ip[7]);
                Assert.Equal(wholeOutput.AsSpan(14 + 8, 32).ToArray(), ip[8..40]);
                chunk = ip.Length - 48;
                ip[48..].CopyTo(reassembled, expectedOffset);
            }

            Assert.True(last || chunk == perFragment, $"fragment {i} carries {chunk} bytes");
            expectedOffset += chunk;
        }

        Assert.Equal(outerPayload, expectedOffset);
        Assert.Equal(wholeOutput[(14 + ipHeader)..], reassembled);
        return verdict.Action;
    }

    [Fact]
    public void Encapsulate_IPv4WithoutDfWhoseOuterPacketWouldPass65535Bytes_DropsExceedsMtu()
    {
        var input = new FrameSpec { PayloadLength = 65535 - 40, DontFragment = false };
        var route = new TunnelRoute(InetAddress.FromIPv4(10, 0, 0, 1), InetAddress.FromIPv4(10, 0, 0, 5), TunnelType.IpIp);
        byte[] frame = PacketFactory.Build(input);
        byte[] buffer = PacketFactory.InBuffer(frame, tailroom: 2 * frame.Length);
        var parsed = PacketFactory.Parse(buffer, FrameHeadroom.Required, frame.Length);
        var verdict = new TunnelEncapsulator().Encapsulate(buffer, FrameHeadroom.Required, frame.Length, parsed, route, Director, NextHop);
        Assert.Equal(ForwardingAction.Drop, verdict.Action);
        Assert.Equal(DropReason.ExceedsMtu, verdict.Reason);
    }

    /// <summary>
    /// IPv6 is never fragmented on the way (ensure_mtu_is_adequate sends packet too big), whatever room the buffer has,
    /// and whatever pmtu_disc says (<see cref="ForwardingOptions.TunnelPathMtuDiscovery"/>: it is about IPv4 only).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Encapsulate_IPv6WithoutRoomOverMtu_StillAnswersPacketTooBig(bool pathMtuDiscovery)
    {
        var input = new FrameSpec { Source = "2001:db8:1::7", Destination = "2001:db8::10", PayloadLength = 3000 };
        var route = new TunnelRoute(InetAddress.Parse("10.0.0.1"), InetAddress.Parse("10.0.0.5"), TunnelType.IpIp);
        byte[] frame = PacketFactory.Build(input);
        byte[] buffer = PacketFactory.InBuffer(frame, tailroom: 2 * frame.Length);
        var parsed = PacketFactory.Parse(buffer, FrameHeadroom.Required, frame.Length);
        var verdict = new TunnelEncapsulator(new ForwardingOptions { TunnelPathMtuDiscovery = pathMtuDiscovery }).Encapsulate(buffer, FrameHeadroom.Required, frame.Length, parsed, route, Director, NextHop);
        Assert.Equal(ForwardingAction.SendIcmpError, verdict.Action);
        Assert.Equal(DropReason.FragmentationNeeded, verdict.Reason);
        Assert.Equal(1, verdict.FrameCount);
    }

    [Fact]
    public void Encapsulate_IPv4WithoutDfOverMtuWithoutRoomAfterTheFrame_DropsExceedsMtu()
    {
        var input = new FrameSpec { PayloadLength = 1460, DontFragment = false };
        var route = new TunnelRoute(InetAddress.FromIPv4(10, 0, 0, 1), InetAddress.FromIPv4(10, 0, 0, 5), TunnelType.IpIp);
        var (verdict, _) = RewriteHarness.Run(PacketFactory.Build(input), (Span<byte> b, int o, int l, in ParsedFrame p) => new TunnelEncapsulator().Encapsulate(b, o, l, p, route, Director, NextHop));
        Assert.Equal(DropReason.ExceedsMtu, verdict.Reason);
    }

    [Fact]
    public void Encapsulate_IPv6OverMtu_ReturnsPacketTooBigQuotingUpTo1280Bytes()
    {
        var input = new FrameSpec { Source = "2001:db8:1::7", Destination = "2001:db8::10", PayloadLength = 1420 };
        var route = new TunnelRoute(InetAddress.Parse("fd00::1"), InetAddress.Parse("fd00::5"), TunnelType.Gue, 6080);
        byte[] frame = PacketFactory.Build(input);
        var (verdict, output) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) => new TunnelEncapsulator().Encapsulate(b, o, l, p, route, Director, NextHop));

        Assert.Equal(ForwardingAction.SendIcmpError, verdict.Action);
        PacketFactory.AssertChecksumsValid(output);
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<IPv6Packet>();
        Assert.Equal(1280 - 40, ip.PayloadLength);
        byte[] icmp = ip.PayloadData ?? ip.PayloadPacket.Bytes;
        Assert.Equal(2, icmp[0]);
        Assert.Equal(1500u - 40 - 12, BinaryPrimitives.ReadUInt32BigEndian(icmp.AsSpan(4)));
        Assert.Equal(PacketFactory.Build(input with { Ttl = 63 }).AsSpan(14, 1280 - 48).ToArray(), icmp[8..]);
    }

    [Fact]
    public void Encapsulate_NotEnoughHeadroom_Drops()
    {
        var route = new TunnelRoute(InetAddress.FromIPv4(10, 0, 0, 1), InetAddress.FromIPv4(10, 0, 0, 5), TunnelType.IpIp);
        var (verdict, _) = RewriteHarness.Run(PacketFactory.Build(new FrameSpec()), (Span<byte> b, int o, int l, in ParsedFrame p) => new TunnelEncapsulator().Encapsulate(b, o, l, p, route, Director, NextHop), headroom: 19);
        Assert.Equal(DropReason.InsufficientHeadroom, verdict.Reason);
    }

    [Fact]
    public void Encapsulate_MixedFamilyRouteOrGueWithoutPort_Drops()
    {
        var mixed = new TunnelRoute(InetAddress.FromIPv4(10, 0, 0, 1), InetAddress.Parse("fd00::5"), TunnelType.IpIp);
        var noPort = new TunnelRoute(InetAddress.FromIPv4(10, 0, 0, 1), InetAddress.FromIPv4(10, 0, 0, 5), TunnelType.Gue);
        var encapsulator = new TunnelEncapsulator();
        Assert.Equal(DropReason.InvalidTunnelRoute, RewriteHarness.Run(PacketFactory.Build(new FrameSpec()), (Span<byte> b, int o, int l, in ParsedFrame p) => encapsulator.Encapsulate(b, o, l, p, mixed, Director, NextHop)).Verdict.Reason);
        Assert.Equal(DropReason.InvalidTunnelRoute, RewriteHarness.Run(PacketFactory.Build(new FrameSpec()), (Span<byte> b, int o, int l, in ParsedFrame p) => encapsulator.Encapsulate(b, o, l, p, noPort, Director, NextHop)).Verdict.Reason);
    }

    [Fact]
    public void Constructor_MtuOutOfRange_Throws()
    {
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => new TunnelEncapsulator(new ForwardingOptions { Mtu = 67 }));
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => new TunnelEncapsulator(new ForwardingOptions { Mtu = 65536 }));
    }

    [Theory]
    [InlineData("198.51.100.7", "192.0.2.10", 87)] // 87 - 20 = 67 < 68
    [InlineData("2001:db8:1::7", "2001:db8::10", 1299)] // IPv6 inside IPv4: 1299 - 20 = 1279 < 1280
    public void Encapsulate_ReducedMtuBelowMinimum_DropsMtuTooSmall(string client, string vip, int mtu)
    {
        var route = new TunnelRoute(InetAddress.FromIPv4(10, 0, 0, 1), InetAddress.FromIPv4(10, 0, 0, 5), TunnelType.IpIp);
        var encapsulator = new TunnelEncapsulator(new ForwardingOptions { Mtu = mtu });
        var (verdict, _) = RewriteHarness.Run(PacketFactory.Build(new FrameSpec { Source = client, Destination = vip }), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            encapsulator.Encapsulate(b, o, l, p, route, Director, NextHop));
        Assert.Equal(DropReason.MtuTooSmall, verdict.Reason);
    }

    /// <summary>A VLAN-tagged frame keeps its tag in front of the outer header: the output is the untagged frame's output with the tag inserted after the MACs.</summary>
    [Theory]
    [InlineData("198.51.100.7", "192.0.2.10", "10.0.0.1", "10.0.0.5", TunnelType.IpIp)]
    [InlineData("2001:db8:1::7", "2001:db8::10", "fd00::1", "fd00::5", TunnelType.IpIp)]
    [InlineData("198.51.100.7", "192.0.2.10", "10.0.0.1", "10.0.0.5", TunnelType.Gre)]
    [InlineData("2001:db8:1::7", "2001:db8::10", "10.0.0.1", "10.0.0.5", TunnelType.Gue)]
    public void Encapsulate_VlanTaggedFrame_KeepsTheTagInFrontOfTheOuterHeader(string client, string vip, string director, string realServer, TunnelType type)
    {
        var route = new TunnelRoute(InetAddress.Parse(director), InetAddress.Parse(realServer), type, 6080);
        byte[] untagged = PacketFactory.Build(new FrameSpec { Source = client, Destination = vip, PayloadLength = 50 });
        byte[] tag = [0x81, 0x00, 0x20, 0x64]; // priority 1, VLAN 100
        byte[] tagged = [.. untagged[..12], .. tag, .. untagged[12..]];

        var (plain, plainOutput) = RewriteHarness.Run(untagged, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new TunnelEncapsulator(new ForwardingOptions { FlowHashSeed = Seed, IpIdentification = IpIdentificationPolicy.Counter }).Encapsulate(b, o, l, p, route, Director, NextHop));
        var (verdict, output) = RewriteHarness.Run(tagged, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new TunnelEncapsulator(new ForwardingOptions { FlowHashSeed = Seed, IpIdentification = IpIdentificationPolicy.Counter }).Encapsulate(b, o, l, p, route, Director, NextHop));

        Assert.Equal(ForwardingAction.Transmit, plain.Action);
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(plain.FrameOffset, verdict.FrameOffset);
        RewriteHarness.AssertGolden([.. plainOutput[..12], .. tag, .. plainOutput[12..]], output);
    }

    [Fact]
    public void Encapsulate_TtlOne_ReturnsTimeExceeded()
    {
        var route = new TunnelRoute(InetAddress.FromIPv4(10, 0, 0, 1), InetAddress.FromIPv4(10, 0, 0, 5), TunnelType.Gre);
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(new FrameSpec { Ttl = 1 }), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new TunnelEncapsulator().Encapsulate(b, o, l, p, route, Director, NextHop));
        Assert.Equal(ForwardingAction.SendIcmpError, verdict.Action);
        Assert.Equal(DropReason.HopLimitExceeded, verdict.Reason);
        PacketFactory.AssertChecksumsValid(output);
    }

    /// <summary>decapsulate(encapsulate(f)) gives back f's IP packet for every tunnel type, family and checksum flag; the encapsulated frame passes PacketDotNet's checksums.</summary>
    [FsCheck.Xunit.Property(MaxTest = 200)]
    public Property DecapsulateOfEncapsulate_IsIdentity()
    {
        var routes = from type in Gen.Elements(TunnelType.IpIp, TunnelType.Gue, TunnelType.Gre)
                     from flags in Gen.Elements(TunnelFlags.None, TunnelFlags.Checksum)
                     from outerIPv6 in Gen.Elements(false, true)
                     select new TunnelRoute(InetAddress.Parse(outerIPv6 ? "fd00::1" : "10.0.0.1"), InetAddress.Parse(outerIPv6 ? "fd00::5" : "10.0.0.5"), type, 6080, flags);
        return Prop.ForAll(Arb.From(FrameGenerators.Flows()), Arb.From(routes), (flow, route) =>
        {
            var input = flow.Request with { PayloadLength = Math.Min(flow.Request.PayloadLength, 1300) };
            byte[] frame = PacketFactory.Build(input);
            var encapsulator = new TunnelEncapsulator(new ForwardingOptions { DecrementHopLimit = false });
            var decapsulator = new TunnelDecapsulator(new TunnelDecapsulatorOptions { GuePort = 6080 });
            byte[] buffer = PacketFactory.InBuffer(frame);
            var parsed = PacketFactory.Parse(buffer, FrameHeadroom.Required, frame.Length);
            var encapsulated = encapsulator.Encapsulate(buffer, FrameHeadroom.Required, frame.Length, parsed, route, Director, NextHop);
            Assert.Equal(ForwardingAction.Transmit, encapsulated.Action);
            PacketFactory.AssertChecksumsValid(PacketFactory.Output(buffer, encapsulated), tunnelOuter: true);

            var outer = PacketFactory.Parse(buffer, encapsulated.FrameOffset, encapsulated.FrameLength);
            var decapsulated = decapsulator.Decapsulate(buffer, encapsulated.FrameOffset, encapsulated.FrameLength, outer);
            Assert.Equal(ForwardingAction.Transmit, decapsulated.Action);
            Assert.Equal(FrameHeadroom.Required, decapsulated.FrameOffset);
            byte[] result = PacketFactory.Output(buffer, decapsulated);
            Assert.Equal(frame[12..], result[12..]);
        });
    }

    /// <summary>
    /// include/net/udp.h udp_flow_src_port(net, skb, 0, 0, false): min and max from inet_get_local_port_range, whose
    /// default is 32768-60999; the 32-bit flow hash, obfuscated by hash ^= hash &lt;&lt; 16, scaled by (max - min).
    /// </summary>
    private static ushort KernelGueSourcePort(ulong flowHash)
    {
        const uint min = 32768;
        const uint max = 60999;
        uint hash = (uint)(flowHash ^ (flowHash >> 32));
        hash ^= hash << 16;
        return (ushort)((((ulong)hash * (max - min)) >> 32) + min);
    }

    /// <summary>The GUE source port is the kernel's udp_flow_src_port with the default local port range 32768-60999, for every flow.</summary>
    [Fact]
    public void Encapsulate_Gue_SourcePortIsUdpFlowSrcPortOverDefaultLocalPortRange()
    {
        var route = new TunnelRoute(InetAddress.FromIPv4(10, 0, 0, 1), InetAddress.FromIPv4(10, 0, 0, 5), TunnelType.Gue, 6080);
        var encapsulator = new TunnelEncapsulator(new ForwardingOptions { FlowHashSeed = Seed, IpIdentification = IpIdentificationPolicy.Counter });
        int highest = 0;
        for (int i = 0; i < 2000; i++)
        {
            var input = new FrameSpec { Source = $"198.51.{i / 250}.{(i % 250) + 1}", SourcePort = (ushort)(1024 + (i * 31)) };
            byte[] frame = PacketFactory.Build(input);
            _ = FrameParser.Parse(frame, out var original);
            var (verdict, output) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) => encapsulator.Encapsulate(b, o, l, p, route, Director, NextHop));
            Assert.Equal(ForwardingAction.Transmit, verdict.Action);
            ushort port = BinaryPrimitives.ReadUInt16BigEndian(output.AsSpan(14 + 20));
            Assert.Equal(KernelGueSourcePort(original.Flow.Hash(Seed)), port);
            highest = Math.Max(highest, port);
        }

        Assert.InRange(highest, 60000, 60998);
    }

    /// <summary>The tunnel frame the kernel would send, built with PacketDotNet (IP and UDP) and the reference checksum (GRE).</summary>
    private static byte[] ExpectedTunnelFrame(byte[] inner, TunnelRoute route, FlowKey flow, byte ttl, bool dontFragment)
    {
        bool innerIPv4 = inner[0] >> 4 == 4;
        byte[] payload = inner;
        ProtocolType protocol = innerIPv4 ? (ProtocolType)4 : (ProtocolType)41;
        if (route.Type == TunnelType.Gre)
        {
            bool checksum = route.Flags.HasFlag(TunnelFlags.Checksum);
            byte[] gre = new byte[(checksum ? 8 : 4) + inner.Length];
            BinaryPrimitives.WriteUInt16BigEndian(gre, checksum ? (ushort)0x8000 : (ushort)0);
            BinaryPrimitives.WriteUInt16BigEndian(gre.AsSpan(2), innerIPv4 ? (ushort)0x0800 : (ushort)0x86DD);
            inner.CopyTo(gre, checksum ? 8 : 4);
            if (checksum)
            {
                BinaryPrimitives.WriteUInt16BigEndian(gre.AsSpan(4), ReferenceChecksum.Compute(gre));
            }

            payload = gre;
            protocol = ProtocolType.Gre;
        }

        IPPacket ip = route.RealServer.IsIPv4
            ? new IPv4Packet(route.Source.ToIPAddress(), route.RealServer.ToIPAddress()) { TimeToLive = ttl, FragmentFlags = dontFragment ? (byte)2 : (byte)0, Id = dontFragment ? (ushort)0 : (ushort)1, TypeOfService = 0x29 }
            : new IPv6Packet(route.Source.ToIPAddress(), route.RealServer.ToIPAddress()) { HopLimit = ttl, TrafficClass = 0x29 };
        if (route.Type == TunnelType.Gue)
        {
            var sourcePort = KernelGueSourcePort(flow.Hash(Seed));
            byte[] gue = [0, innerIPv4 ? (byte)4 : (byte)41, 0, 0, .. inner];
            var udp = new UdpPacket(sourcePort, route.Port) { PayloadData = gue };
            ip.PayloadPacket = udp;
            ip.Protocol = ProtocolType.Udp;
        }
        else
        {
            ip.PayloadData = payload;
            ip.Protocol = protocol;
        }

        var ethernet = new EthernetPacket(PhysicalAddress.Parse("02-00-00-00-00-02"), PhysicalAddress.Parse("02-00-00-00-00-99"), EthernetType.None) { PayloadPacket = ip };
        ethernet.UpdateCalculatedValues();
        if (ip.PayloadPacket is UdpPacket u)
        {
            u.UpdateUdpChecksumAsSent();
            if (!route.Flags.HasFlag(TunnelFlags.Checksum))
            {
                u.Checksum = 0;
            }
        }

        if (ip is IPv4Packet v4)
        {
            // PacketDotNet updates the total length for a raw payload only when the bytes are read: set it first.
            v4.TotalLength = 20 + (ip.PayloadPacket?.TotalPacketLength ?? ip.PayloadData.Length);
            v4.UpdateIPChecksum();
        }
        else
        {
            // PacketDotNet leaves the IPv6 payload length at 0 for a raw payload.
            ((IPv6Packet)ip).PayloadLength = (ushort)(ip.PayloadPacket?.TotalPacketLength ?? ip.PayloadData.Length);
        }

        return ethernet.Bytes;
    }
}
