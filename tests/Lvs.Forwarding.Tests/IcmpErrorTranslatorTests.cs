using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;
using PacketDotNet;

namespace Lvs.Forwarding.Tests;

public class IcmpErrorTranslatorTests
{
    private static readonly MacAddress Director = PacketFactory.DirectorMac;
    private static readonly MacAddress NextHop = PacketFactory.NextHopMac;

    private static readonly NatEndpoints Nat4 = NatEndpoints.ForNat(InetEndpoint.Parse("198.51.100.7:43210"), InetEndpoint.Parse("192.0.2.10:80"), InetEndpoint.Parse("10.0.0.5:8080"));
    private static readonly NatEndpoints FullNat6 = new(InetEndpoint.Parse("[2001:db8:1::7]:43210"), InetEndpoint.Parse("[2001:db8::10]:80"), InetEndpoint.Parse("[fd00::100]:5001"), InetEndpoint.Parse("[fd00::5]:8080"));

    /// <summary>An ICMP / ICMPv6 error frame: IP built by PacketDotNet, the ICMP message by hand with the reference checksum.</summary>
    private static byte[] IcmpFrame(string source, string destination, byte type, byte code, uint rest, byte[] quoted, byte ttl = 64, string sourceMac = "02:00:00:00:00:01", string destinationMac = "02:00:00:00:00:02")
    {
        var src = IPAddress.Parse(source);
        var dst = IPAddress.Parse(destination);
        bool ipv4 = src.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;
        byte[] icmp = [type, code, 0, 0, 0, 0, 0, 0, .. quoted];
        BinaryPrimitives.WriteUInt32BigEndian(icmp.AsSpan(4), rest);
        byte[] summed = icmp;
        if (!ipv4)
        {
            byte[] pseudo = new byte[40];
            src.GetAddressBytes().CopyTo(pseudo, 0);
            dst.GetAddressBytes().CopyTo(pseudo, 16);
            BinaryPrimitives.WriteUInt32BigEndian(pseudo.AsSpan(32), (uint)icmp.Length);
            pseudo[39] = 58;
            summed = [.. pseudo, .. icmp];
        }

        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), ReferenceChecksum.Compute(summed));
        IPPacket ip = ipv4
            ? new IPv4Packet(src, dst) { TimeToLive = ttl, Protocol = ProtocolType.Icmp, PayloadData = icmp, Id = 7 }
            : new IPv6Packet(src, dst) { HopLimit = ttl, Protocol = ProtocolType.IcmpV6, PayloadData = icmp };
        var ethernet = new EthernetPacket(PhysicalAddress.Parse(sourceMac.Replace(':', '-').ToUpperInvariant()), PhysicalAddress.Parse(destinationMac.Replace(':', '-').ToUpperInvariant()), EthernetType.None) { PayloadPacket = ip };
        ethernet.UpdateCalculatedValues();
        if (ip is IPv4Packet v4)
        {
            v4.TotalLength = 20 + icmp.Length;
            v4.UpdateIPChecksum();
        }
        else
        {
            ((IPv6Packet)ip).PayloadLength = (ushort)icmp.Length;
        }

        return ethernet.Bytes;
    }

    private static byte[] AssertTranslates(byte[] input, byte[] expected, NatEndpoints connection, bool toRealServer)
    {
        var translator = new IcmpErrorTranslator();
        var (verdict, output) = RewriteHarness.Run(input, (Span<byte> b, int o, int l, in ParsedFrame p) => toRealServer
            ? translator.TranslateToRealServer(b, o, l, p, connection, Director, NextHop)
            : translator.TranslateToClient(b, o, l, p, connection, Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        RewriteHarness.AssertGolden(expected, output);
        return output;
    }

    private static byte[] Quote(FrameSpec spec, int? length = null)
    {
        byte[] packet = PacketFactory.Build(spec)[14..];
        return length is int n ? packet[..n] : packet;
    }

    [Fact]
    public void TranslateToRealServer_NatIPv4FragmentationNeeded_MatchesGoldenFrame()
    {
        var sent = new FrameSpec { Source = "192.0.2.10", SourcePort = 80, Destination = "198.51.100.7", DestinationPort = 43210, PayloadLength = 12 };
        byte[] input = IcmpFrame("203.0.113.1", "192.0.2.10", 3, 4, 1400, Quote(sent));
        byte[] expected = IcmpFrame("203.0.113.1", "10.0.0.5", 3, 4, 1400, Quote(sent with { Source = "10.0.0.5", SourcePort = 8080 }), ttl: 63, sourceMac: "02:00:00:00:00:02", destinationMac: "02:00:00:00:00:99");

        byte[] output = AssertTranslates(input, expected, Nat4, toRealServer: true);
        PacketFactory.AssertChecksumsValid(output);
    }

    [Fact]
    public void TranslateToClient_NatIPv4PortUnreachable_MatchesGoldenFrame()
    {
        var sent = new FrameSpec { Source = "198.51.100.7", SourcePort = 43210, Destination = "10.0.0.5", DestinationPort = 8080, Protocol = ProtocolType.Udp, PayloadLength = 30 };
        byte[] input = IcmpFrame("10.0.0.5", "198.51.100.7", 3, 3, 0, Quote(sent));
        byte[] expected = IcmpFrame("192.0.2.10", "198.51.100.7", 3, 3, 0, Quote(sent with { Destination = "192.0.2.10", DestinationPort = 80 }), ttl: 63, sourceMac: "02:00:00:00:00:02", destinationMac: "02:00:00:00:00:99");

        byte[] output = AssertTranslates(input, expected, Nat4, toRealServer: false);
        PacketFactory.AssertChecksumsValid(output);
    }

    [Fact]
    public void TranslateToRealServer_FullNatIPv6PacketTooBig_MatchesGoldenFrame()
    {
        var sent = new FrameSpec { Source = "2001:db8::10", SourcePort = 80, Destination = "2001:db8:1::7", DestinationPort = 43210, PayloadLength = 40 };
        byte[] input = IcmpFrame("2001:db8:ffff::1", "2001:db8::10", 2, 0, 1400, Quote(sent));
        byte[] expected = IcmpFrame("fd00::100", "fd00::5", 2, 0, 1400, Quote(sent with { Source = "fd00::5", SourcePort = 8080, Destination = "fd00::100", DestinationPort = 5001 }), ttl: 63, sourceMac: "02:00:00:00:00:02", destinationMac: "02:00:00:00:00:99");

        byte[] output = AssertTranslates(input, expected, FullNat6, toRealServer: true);
        PacketFactory.AssertChecksumsValid(output);
    }

    [Fact]
    public void TranslateToClient_FullNatIPv6TimeExceeded_MatchesGoldenFrame()
    {
        var sent = new FrameSpec { Source = "fd00::100", SourcePort = 5001, Destination = "fd00::5", DestinationPort = 8080, PayloadLength = 10 };
        byte[] input = IcmpFrame("fd00::1:1", "fd00::100", 3, 0, 0, Quote(sent));
        byte[] expected = IcmpFrame("2001:db8::10", "2001:db8:1::7", 3, 0, 0, Quote(sent with { Source = "2001:db8:1::7", SourcePort = 43210, Destination = "2001:db8::10", DestinationPort = 80 }), ttl: 63, sourceMac: "02:00:00:00:00:02", destinationMac: "02:00:00:00:00:99");

        byte[] output = AssertTranslates(input, expected, FullNat6, toRealServer: false);
        PacketFactory.AssertChecksumsValid(output);
    }

    /// <summary>An error of each family and direction, with a flipped bit in its quote (the ICMP checksum is then wrong).</summary>
    public static TheoryData<bool, bool> FamiliesAndDirections() => new()
    {
        { true, true },
        { true, false },
        { false, true },
        { false, false },
    };

    private static (byte[] Frame, NatEndpoints Connection) CorruptedError(bool ipv4, bool toRealServer)
    {
        byte[] frame = (ipv4, toRealServer) switch
        {
            (true, true) => IcmpFrame("203.0.113.1", "192.0.2.10", 3, 4, 1400, Quote(new FrameSpec { Source = "192.0.2.10", SourcePort = 80, Destination = "198.51.100.7", DestinationPort = 43210, PayloadLength = 12 })),
            (true, false) => IcmpFrame("10.0.0.5", "198.51.100.7", 3, 3, 0, Quote(new FrameSpec { Source = "198.51.100.7", SourcePort = 43210, Destination = "10.0.0.5", DestinationPort = 8080, Protocol = ProtocolType.Udp, PayloadLength = 30 })),
            (false, true) => IcmpFrame("2001:db8:ffff::1", "2001:db8::10", 2, 0, 1400, Quote(new FrameSpec { Source = "2001:db8::10", SourcePort = 80, Destination = "2001:db8:1::7", DestinationPort = 43210, PayloadLength = 40 })),
            (false, false) => IcmpFrame("fd00::1:1", "fd00::100", 3, 0, 0, Quote(new FrameSpec { Source = "fd00::100", SourcePort = 5001, Destination = "fd00::5", DestinationPort = 8080, PayloadLength = 10 })),
        };
        frame[^1] ^= 0x10;
        return (frame, ipv4 ? Nat4 : FullNat6);
    }

    private static (ForwardingVerdict Verdict, byte[] Output) Translate(byte[] frame, NatEndpoints connection, bool toRealServer, ForwardingOptions? options = null)
    {
        var translator = new IcmpErrorTranslator(options);
        return RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) => toRealServer
            ? translator.TranslateToRealServer(b, o, l, p, connection, Director, NextHop)
            : translator.TranslateToClient(b, o, l, p, connection, Director, NextHop));
    }

    /// <summary>True when the frame's ICMP or ICMPv6 message (with the pseudo-header for ICMPv6) sums to 0xFFFF.</summary>
    private static bool IcmpChecksumValid(byte[] frame)
    {
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, frame).Extract<IPPacket>();
        byte[] message = ip.PayloadData ?? ip.PayloadPacket.Bytes;
        if (ip is IPv4Packet)
        {
            return ReferenceChecksum.Compute(message) == 0;
        }

        byte[] pseudo = new byte[40];
        ip.SourceAddress.GetAddressBytes().CopyTo(pseudo, 0);
        ip.DestinationAddress.GetAddressBytes().CopyTo(pseudo, 16);
        BinaryPrimitives.WriteUInt32BigEndian(pseudo.AsSpan(32), (uint)message.Length);
        pseudo[39] = 58;
        return ReferenceChecksum.Compute([.. pseudo, .. message]) == 0;
    }

    /// <summary>The kernel verifies the ICMP checksum of an error it translates and drops a wrong one (ip_vs_in_icmp, handle_response_icmp): so does the translator by default.</summary>
    [Theory]
    [MemberData(nameof(FamiliesAndDirections))]
    public void Translate_CorruptedIcmpError_DropsWithBadInputChecksumByDefault(bool ipv4, bool toRealServer)
    {
        var (frame, connection) = CorruptedError(ipv4, toRealServer);
        var (verdict, _) = Translate(frame, connection, toRealServer);
        Assert.Equal(ForwardingAction.Drop, verdict.Action);
        Assert.Equal(DropReason.BadInputChecksum, verdict.Reason);
    }

    /// <summary>Forwarded by policy (count, or no verification), a corrupted error keeps a wrong checksum instead of getting a fresh, valid one.</summary>
    [Theory]
    [MemberData(nameof(FamiliesAndDirections))]
    public void Translate_CorruptedIcmpErrorForwardedByPolicy_KeepsItsChecksumWrong(bool ipv4, bool toRealServer)
    {
        var (frame, connection) = CorruptedError(ipv4, toRealServer);
        var (counted, countedOutput) = Translate(frame, connection, toRealServer, new ForwardingOptions { IcmpErrorChecksum = InputChecksumPolicy.VerifyAndCount });
        var (ignored, ignoredOutput) = Translate(frame, connection, toRealServer, new ForwardingOptions { IcmpErrorChecksum = InputChecksumPolicy.Ignore });

        Assert.Equal(ForwardingAction.Transmit, counted.Action);
        Assert.Equal(ForwardingNotes.BadInputChecksum, counted.Notes);
        Assert.False(IcmpChecksumValid(countedOutput));
        Assert.Equal(ForwardingAction.Transmit, ignored.Action);
        Assert.Equal(ForwardingNotes.None, ignored.Notes);
        Assert.False(IcmpChecksumValid(ignoredOutput));

        // Apart from the flipped bit and the checksum, the output is the translation of the uncorrupted error.
        Assert.Equal(Convert.ToHexString(countedOutput), Convert.ToHexString(ignoredOutput));
        frame[^1] ^= 0x10;
        var (_, good) = Translate(frame, connection, toRealServer);
        byte[] restored = [.. countedOutput];
        restored[^1] ^= 0x10;
        int checksumAt = 14 + (ipv4 ? 20 : 40) + 2;
        restored[checksumAt] = good[checksumAt];
        restored[checksumAt + 1] = good[checksumAt + 1];
        Assert.Equal(Convert.ToHexString(good), Convert.ToHexString(restored));
    }

    [Theory]
    [MemberData(nameof(FamiliesAndDirections))]
    public void Translate_ValidIcmpErrorVerified_ForwardsWithoutNote(bool ipv4, bool toRealServer)
    {
        var (frame, connection) = CorruptedError(ipv4, toRealServer);
        frame[^1] ^= 0x10;
        var (verdict, output) = Translate(frame, connection, toRealServer);
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(ForwardingNotes.None, verdict.Notes);
        PacketFactory.AssertChecksumsValid(output);
    }

    [Fact]
    public void TranslateToRealServer_QuoteOfHeaderPlus8Bytes_TranslatesWithoutReadingPastIt()
    {
        var sent = new FrameSpec { Source = "192.0.2.10", SourcePort = 80, Destination = "198.51.100.7", DestinationPort = 43210, PayloadLength = 200 };
        byte[] input = IcmpFrame("203.0.113.1", "192.0.2.10", 11, 0, 0, Quote(sent, 28));
        var (verdict, output) = RewriteHarness.Run(input, (Span<byte> b, int o, int l, in ParsedFrame p) => new IcmpErrorTranslator().TranslateToRealServer(b, o, l, p, Nat4, Director, NextHop));

        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(input.Length, output.Length);
        PacketFactory.AssertChecksumsValid(output);
        Assert.Equal(DropReason.None, FrameParser.Parse(output, out var parsed));
        Assert.Equal(DropReason.None, IcmpErrorTranslator.TryGetEmbeddedFlow(output, parsed, out var flow));
        Assert.Equal(new FlowKey(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.5:8080"), InetEndpoint.Parse("198.51.100.7:43210")), flow);
    }

    /// <summary>
    /// An error about an ESP packet (ip_vs_proto_ah_esp relates it to the IKE connection): its flow has no ports, an IP
    /// header is quote enough, and only the quoted addresses change (with the quoted IPv4 header checksum); the bytes
    /// after the quoted header stay as they were.
    /// </summary>
    [Theory]
    [InlineData(null)]
    [InlineData(20)]
    public void TranslateToRealServer_ErrorAboutEsp_TranslatesTheQuotedAddressesAlone(int? quoteLength)
    {
        var sent = new FrameSpec { Source = "192.0.2.10", SourcePort = 500, Destination = "198.51.100.7", DestinationPort = 500, Protocol = ProtocolType.Udp, PayloadLength = 40 };
        byte[] quote = WithProtocol(Quote(sent, quoteLength), 50);
        byte[] input = IcmpFrame("203.0.113.1", "192.0.2.10", 3, 4, 1400, quote);
        Assert.Equal(DropReason.None, FrameParser.Parse(input, out var parsed));
        Assert.Equal(DropReason.None, IcmpErrorTranslator.TryGetEmbeddedFlow(input, parsed, out var flow));
        Assert.Equal(new FlowKey(L4Protocol.Esp, InetEndpoint.Parse("192.0.2.10:0"), InetEndpoint.Parse("198.51.100.7:0")), flow);

        byte[] translatedQuote = [.. quote];
        IPAddress.Parse("10.0.0.5").GetAddressBytes().CopyTo(translatedQuote, 12);
        FixQuotedIPv4Checksum(translatedQuote);
        byte[] expected = IcmpFrame("203.0.113.1", "10.0.0.5", 3, 4, 1400, translatedQuote, ttl: 63, sourceMac: "02:00:00:00:00:02", destinationMac: "02:00:00:00:00:99");

        byte[] output = AssertTranslates(input, expected, Nat4, toRealServer: true);
        Assert.Equal(quote[20..], output[(14 + 20 + 8 + 20)..]);
    }

    private static byte[] WithProtocol(byte[] quotedIPv4, byte protocol)
    {
        byte[] result = [.. quotedIPv4];
        result[9] = protocol;
        FixQuotedIPv4Checksum(result);
        return result;
    }

    private static void FixQuotedIPv4Checksum(byte[] quotedIPv4)
    {
        quotedIPv4[10] = 0;
        quotedIPv4[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(quotedIPv4.AsSpan(10), ReferenceChecksum.Compute(quotedIPv4.AsSpan(0, 20)));
    }

    [Fact]
    public void TryGetEmbeddedFlow_Error_ReturnsQuotedFlow()
    {
        var sent = new FrameSpec { Source = "192.0.2.10", SourcePort = 80, Destination = "198.51.100.7", DestinationPort = 43210 };
        byte[] frame = IcmpFrame("203.0.113.1", "192.0.2.10", 3, 1, 0, Quote(sent, 28));
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(DropReason.None, IcmpErrorTranslator.TryGetEmbeddedFlow(frame, parsed, out var flow));
        Assert.Equal(new FlowKey(L4Protocol.Tcp, InetEndpoint.Parse("192.0.2.10:80"), InetEndpoint.Parse("198.51.100.7:43210")), flow);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(20)]
    [InlineData(22)]
    public void TryGetEmbeddedFlow_TruncatedQuote_IsEmbeddedTruncated(int quoteLength)
    {
        var sent = new FrameSpec { Source = "192.0.2.10", SourcePort = 80, Destination = "198.51.100.7", DestinationPort = 43210 };
        byte[] frame = IcmpFrame("203.0.113.1", "192.0.2.10", 3, 1, 0, Quote(sent, quoteLength));
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(DropReason.EmbeddedTruncated, IcmpErrorTranslator.TryGetEmbeddedFlow(frame, parsed, out _));
        var (verdict, _) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) => new IcmpErrorTranslator().TranslateToRealServer(b, o, l, p, Nat4, Director, NextHop));
        Assert.Equal(DropReason.EmbeddedTruncated, verdict.Reason);
    }

    [Fact]
    public void TryGetEmbeddedFlow_EchoRequest_IsNotIcmpError()
    {
        byte[] frame = IcmpFrame("198.51.100.7", "192.0.2.10", 8, 0, 0x00010001, [1, 2, 3, 4]);
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(DropReason.NotIcmpError, IcmpErrorTranslator.TryGetEmbeddedFlow(frame, parsed, out _));
    }

    /// <summary>ip_vs_in_icmp and ip_vs_out_icmp take only destination unreachable, source quench and time exceeded over IPv4; ip_vs_in_icmp_v6 every error.</summary>
    [Theory]
    [InlineData(false, 3, DropReason.None)]
    [InlineData(false, 4, DropReason.None)]
    [InlineData(false, 11, DropReason.None)]
    [InlineData(false, 12, DropReason.NotIcmpError)]
    [InlineData(false, 5, DropReason.NotIcmpError)]
    [InlineData(true, 4, DropReason.None)]
    [InlineData(true, 2, DropReason.None)]
    public void TryGetEmbeddedFlow_TheErrorsIpvsRelatesToAFlow(bool ipv6, byte type, DropReason expected)
    {
        var sent = ipv6
            ? new FrameSpec { Source = "2001:db8::10", SourcePort = 80, Destination = "2001:db8:1::7", DestinationPort = 43210, PayloadLength = 12 }
            : new FrameSpec { Source = "192.0.2.10", SourcePort = 80, Destination = "198.51.100.7", DestinationPort = 43210, PayloadLength = 12 };
        byte[] frame = ipv6
            ? IcmpFrame("2001:db8:9::1", "2001:db8::10", type, 0, 0, Quote(sent))
            : IcmpFrame("203.0.113.1", "192.0.2.10", type, 0, 0, Quote(sent));
        Assert.Equal(DropReason.None, FrameParser.Parse(frame, out var parsed));
        Assert.Equal(expected, IcmpErrorTranslator.TryGetEmbeddedFlow(frame, parsed, out _));
    }

    [Fact]
    public void TranslateToRealServer_HopLimitOne_DropsWithoutAnError()
    {
        var sent = new FrameSpec { Source = "192.0.2.10", SourcePort = 80, Destination = "198.51.100.7", DestinationPort = 43210 };
        byte[] frame = IcmpFrame("203.0.113.1", "192.0.2.10", 3, 4, 1400, Quote(sent), ttl: 1);
        var (verdict, _) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) => new IcmpErrorTranslator().TranslateToRealServer(b, o, l, p, Nat4, Director, NextHop));
        Assert.Equal(ForwardingAction.Drop, verdict.Action);
        Assert.Equal(DropReason.HopLimitExceeded, verdict.Reason);
    }

    /// <summary>ip_vs_in_icmp verifies the checksum before ip_vs_icmp_xmit hands an error about a DR or TUN connection on: VerifyChecksum does that check for the caller.</summary>
    [Theory]
    [MemberData(nameof(FamiliesAndDirections))]
    public void VerifyChecksum_ErrorAboutDrOrTunConnection_FollowsThePolicy(bool ipv4, bool toRealServer)
    {
        var (corrupted, _) = CorruptedError(ipv4, toRealServer);
        byte[] good = [.. corrupted];
        good[^1] ^= 0x10;
        _ = FrameParser.Parse(corrupted, out var parsedCorrupted);
        _ = FrameParser.Parse(good, out var parsedGood);

        Assert.Equal(DropReason.BadInputChecksum, new IcmpErrorTranslator().VerifyChecksum(corrupted, parsedCorrupted, out var notes));
        Assert.Equal(ForwardingNotes.None, notes);
        Assert.Equal(DropReason.None, new IcmpErrorTranslator().VerifyChecksum(good, parsedGood, out notes));
        Assert.Equal(ForwardingNotes.None, notes);
        Assert.Equal(DropReason.None, new IcmpErrorTranslator(new ForwardingOptions { IcmpErrorChecksum = InputChecksumPolicy.VerifyAndCount }).VerifyChecksum(corrupted, parsedCorrupted, out notes));
        Assert.Equal(ForwardingNotes.BadInputChecksum, notes);
        Assert.Equal(DropReason.None, new IcmpErrorTranslator(new ForwardingOptions { IcmpErrorChecksum = InputChecksumPolicy.Ignore }).VerifyChecksum(corrupted, parsedCorrupted, out notes));
        Assert.Equal(ForwardingNotes.None, notes);
    }

    [Fact]
    public void VerifyChecksum_NotAnIcmpErrorOrCutFrame_IsNotIcmpError()
    {
        byte[] tcp = PacketFactory.Build(new FrameSpec());
        _ = FrameParser.Parse(tcp, out var parsedTcp);
        Assert.Equal(DropReason.NotIcmpError, new IcmpErrorTranslator().VerifyChecksum(tcp, parsedTcp, out _));

        var (error, _) = CorruptedError(ipv4: true, toRealServer: true);
        _ = FrameParser.Parse(error, out var parsed);
        Assert.Equal(DropReason.NotIcmpError, new IcmpErrorTranslator().VerifyChecksum(error.AsSpan(0, error.Length - 1), parsed, out _));
    }

    [Fact]
    public void DirectRouting_IcmpErrorAboutDrConnectionDecrementHopLimitOff_IsForwardedUnchanged()
    {
        var sent = new FrameSpec { Source = "192.0.2.10", SourcePort = 80, Destination = "198.51.100.7", DestinationPort = 43210 };
        byte[] frame = IcmpFrame("203.0.113.1", "192.0.2.10", 3, 4, 1400, Quote(sent));
        var (verdict, output) = RewriteHarness.Run(frame, (Span<byte> b, int o, int l, in ParsedFrame p) =>
            new DirectRoutingRewriter(new ForwardingOptions { DecrementHopLimit = false }).Rewrite(b, o, l, p, Director, NextHop));
        Assert.Equal(ForwardingAction.Transmit, verdict.Action);
        Assert.Equal(frame[12..], output[12..]);
    }

    /// <summary>Errors about random NAT and FULLNAT flows, with quotes of random length: every output passes the checksum checks and quotes the packet as the other side sent it.</summary>
    [FsCheck.Xunit.Property(MaxTest = 200)]
    public Property Translate_RandomFlowsAndQuoteLengths_ChecksumsValidAndQuoteTranslated()
    {
        return Prop.ForAll(Arb.From(FrameGenerators.Flows()), Arb.From(Gen.Choose(0, 2000)), Arb.From(Gen.Elements(false, true)), (flow, cut, fullNat) =>
        {
            var request = flow.Request;
            bool ipv6 = request.Source.Contains(':');
            var client = new InetEndpoint(InetAddress.Parse(request.Source), request.SourcePort);
            var vs = new InetEndpoint(InetAddress.Parse(request.Destination), request.DestinationPort);
            var connection = fullNat ? new NatEndpoints(client, vs, flow.Local, flow.RealServer) : NatEndpoints.ForNat(client, vs, flow.RealServer);
            int minimum = (ipv6 ? 40 : 20) + 8;
            var protocol = request.Protocol == ProtocolType.Tcp ? L4Protocol.Tcp : L4Protocol.Udp;

            // From the client side: the quote is the director's reply, virtual service to client.
            byte[] sentToClient = Quote(request with { Source = request.Destination, SourcePort = request.DestinationPort, Destination = request.Source, DestinationPort = request.SourcePort });
            byte[] quote = sentToClient[..Math.Min(sentToClient.Length, minimum + cut)];
            byte[] fromClientSide = IcmpFrame(ipv6 ? "2001:db8:ffff::1" : "203.0.113.1", request.Destination, ipv6 ? (byte)2 : (byte)3, ipv6 ? (byte)0 : (byte)4, 1400, quote);
            var (verdict, output) = RewriteHarness.Run(fromClientSide, (Span<byte> b, int o, int l, in ParsedFrame p) => new IcmpErrorTranslator().TranslateToRealServer(b, o, l, p, connection, Director, NextHop));
            Assert.Equal(ForwardingAction.Transmit, verdict.Action);
            PacketFactory.AssertChecksumsValid(output);
            Assert.Equal(DropReason.None, FrameParser.Parse(output, out var parsed));
            Assert.Equal(connection.RealServer.Address, parsed.Flow.DestinationAddress);
            Assert.Equal(DropReason.None, IcmpErrorTranslator.TryGetEmbeddedFlow(output, parsed, out var embedded));
            Assert.Equal(new FlowKey(protocol, connection.RealServer, connection.Local), embedded);

            // From the real-server side: the quote is the director's request to the real server.
            byte[] sentToServer = Quote(request with { Source = connection.Local.Address.ToString(), SourcePort = connection.Local.Port, Destination = flow.RealServer.Address.ToString(), DestinationPort = flow.RealServer.Port });
            quote = sentToServer[..Math.Min(sentToServer.Length, minimum + cut)];
            byte[] fromServerSide = IcmpFrame(flow.RealServer.Address.ToString(), connection.Local.Address.ToString(), ipv6 ? (byte)1 : (byte)3, ipv6 ? (byte)4 : (byte)3, 0, quote);
            (verdict, output) = RewriteHarness.Run(fromServerSide, (Span<byte> b, int o, int l, in ParsedFrame p) => new IcmpErrorTranslator().TranslateToClient(b, o, l, p, connection, Director, NextHop));
            Assert.Equal(ForwardingAction.Transmit, verdict.Action);
            PacketFactory.AssertChecksumsValid(output);
            Assert.Equal(DropReason.None, FrameParser.Parse(output, out parsed));
            Assert.Equal(new FlowKey(ipv6 ? L4Protocol.IcmpV6 : L4Protocol.Icmp, vs.Address, 0, client.Address, 0), parsed.Flow);
            Assert.Equal(DropReason.None, IcmpErrorTranslator.TryGetEmbeddedFlow(output, parsed, out embedded));
            Assert.Equal(new FlowKey(protocol, client, vs), embedded);
        });
    }
}
