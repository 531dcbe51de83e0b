using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;

namespace Lvs.Forwarding.Tests;

/// <summary>No rewriter throws on any input: random bytes, mutated and truncated valid frames, and parse results that no longer match the buffer.</summary>
public class MalformedFrameTests
{
    private static readonly ForwardingOptions Strict = new()
    {
        InputChecksum = InputChecksumPolicy.VerifyAndCount,
        NonFirstFragments = FragmentPolicy.Forward,
        InsertToa = true,
    };

    private static readonly DirectRoutingRewriter Dr = new(Strict);
    private static readonly NatRewriter Nat = new(Strict);
    private static readonly FullNatRewriter FullNat = new(Strict);
    private static readonly TunnelEncapsulator Tunnel = new(Strict);
    private static readonly TunnelDecapsulator Decapsulator = new(new TunnelDecapsulatorOptions { GuePort = 6080 });
    private static readonly IcmpErrorTranslator Icmp = new(Strict);

    private static readonly InetEndpoint V4 = InetEndpoint.Parse("10.0.0.5:8080");
    private static readonly InetEndpoint V6 = InetEndpoint.Parse("[fd00::5]:8080");

    /// <summary>Runs every rewriter on a copy of the buffer and checks that every frame to send lies within it.</summary>
    private static void RunAll(byte[] original, int offset, int length, ParsedFrame parsed)
    {
        foreach (bool ipv6 in new[] { false, true })
        {
            var rs = ipv6 ? V6 : V4;
            var nat = NatEndpoints.ForNat(rs, rs, rs);
            var fullNat = new NatEndpoints(rs, rs, new InetEndpoint(rs.Address, 1), rs);
            var routes = new[]
            {
                new TunnelRoute(rs.Address, rs.Address, TunnelType.IpIp),
                new TunnelRoute(rs.Address, rs.Address, TunnelType.Gue, 6080, TunnelFlags.Checksum),
                new TunnelRoute(rs.Address, rs.Address, TunnelType.Gre, 0, TunnelFlags.Checksum),
            };
            var results = new List<ForwardingVerdict>();
            byte[] b = [.. original];
            results.Add(Dr.Rewrite(b, offset, length, parsed, PacketFactory.DirectorMac, PacketFactory.NextHopMac));
            b = [.. original];
            results.Add(Nat.RewriteInbound(b, offset, length, parsed, rs, PacketFactory.DirectorMac, PacketFactory.NextHopMac));
            b = [.. original];
            results.Add(Nat.RewriteOutbound(b, offset, length, parsed, rs, PacketFactory.DirectorMac, PacketFactory.NextHopMac));
            b = [.. original];
            results.Add(FullNat.RewriteInbound(b, offset, length, parsed, new InetEndpoint(rs.Address, 1), rs, PacketFactory.DirectorMac, PacketFactory.NextHopMac));
            b = [.. original];
            results.Add(FullNat.RewriteOutbound(b, offset, length, parsed, rs, rs, PacketFactory.DirectorMac, PacketFactory.NextHopMac));
            foreach (var route in routes)
            {
                b = [.. original];
                results.Add(Tunnel.Encapsulate(b, offset, length, parsed, route, PacketFactory.DirectorMac, PacketFactory.NextHopMac));
            }

            b = [.. original];
            results.Add(Decapsulator.Decapsulate(b, offset, length, parsed));
            b = [.. original];
            results.Add(Icmp.TranslateToRealServer(b, offset, length, parsed, fullNat, PacketFactory.DirectorMac, PacketFactory.NextHopMac));
            b = [.. original];
            results.Add(Icmp.TranslateToClient(b, offset, length, parsed, nat, PacketFactory.DirectorMac, PacketFactory.NextHopMac));
            if (offset >= 0 && length >= 0 && offset + length <= original.Length)
            {
                _ = IcmpErrorTranslator.TryGetEmbeddedFlow(original.AsSpan(offset, length), parsed, out _);
            }

            foreach (var verdict in results.Where(v => v.ShouldSend))
            {
                Assert.InRange(verdict.FrameOffset, 0, original.Length);
                Assert.InRange(verdict.FrameLength, 0, original.Length - verdict.FrameOffset);
            }
        }
    }

    private static Gen<byte[]> ValidFrames() => FrameGenerators.Flows().Select(f => PacketFactory.Build(f.Request with { PayloadLength = f.Request.PayloadLength % 200 }));

    [FsCheck.Xunit.Property(MaxTest = 300)]
    public void RandomBytes_ThatParse_NeverThrow(byte[] bytes)
    {
        byte[] buffer = PacketFactory.InBuffer(bytes);
        if (FrameParser.Parse(buffer.AsSpan(FrameHeadroom.Required, bytes.Length), out var parsed) == DropReason.None)
        {
            RunAll(buffer, FrameHeadroom.Required, bytes.Length, parsed);
        }
    }

    /// <summary>Valid frames with random bytes changed: whatever still parses is rewritten or dropped, never an exception.</summary>
    [FsCheck.Xunit.Property(MaxTest = 300)]
    public Property MutatedValidFrames_NeverThrow()
    {
        var mutations = Gen.ListOf(Gen.Choose(0, 1499).SelectMany(i => Gen.Choose(0, 255).Select(v => (i, v))));
        return Prop.ForAll(Arb.From(ValidFrames()), Arb.From(mutations), Arb.From(Gen.Choose(0, 64)), (frame, changes, headroom) =>
        {
            foreach (var (i, v) in changes)
            {
                frame[i % frame.Length] = (byte)v;
            }

            byte[] buffer = PacketFactory.InBuffer(frame, headroom);
            if (FrameParser.Parse(buffer.AsSpan(headroom, frame.Length), out var parsed) == DropReason.None)
            {
                RunAll(buffer, headroom, frame.Length, parsed);
            }
        });
    }

    /// <summary>A parse result reused on a truncated or altered buffer (a caller bug) gives drop reasons, not out-of-range access.</summary>
    [FsCheck.Xunit.Property(MaxTest = 300)]
    public Property StaleParseResults_NeverThrow()
    {
        return Prop.ForAll(Arb.From(ValidFrames()), Arb.From(Gen.Choose(0, 100)), Arb.From(Gen.Choose(-80, 80)), (frame, cut, shift) =>
        {
            byte[] buffer = PacketFactory.InBuffer(frame);
            var parsed = PacketFactory.Parse(buffer, FrameHeadroom.Required, frame.Length);
            int length = Math.Max(0, frame.Length - cut);
            int offset = FrameHeadroom.Required + shift;
            RunAll(buffer, offset, length, parsed);
            byte[] shorter = buffer[..Math.Max(0, FrameHeadroom.Required + length)];
            RunAll(shorter, FrameHeadroom.Required, Math.Min(length, Math.Max(0, shorter.Length - FrameHeadroom.Required)), parsed);
        });
    }
}
