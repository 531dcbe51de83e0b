using Lvs.Core.Headers;

namespace Lvs.Core.Tests;

public class Ipv6ExtensionHeadersTests
{
    /// <summary>
    /// The Next Header field that names the upper layer, from the start of the IPv6 header: the fixed header's (6), or
    /// the first byte of the last extension header walked (40 plus its offset in the payload), the pointer of an ICMPv6
    /// parameter problem about an unrecognised next header.
    /// </summary>
    [Fact]
    public void Walk_NextHeaderFieldOffset_IsTheFieldThatNamesTheUpperLayer()
    {
        Assert.Equal(DropReason.None, Ipv6ExtensionHeaders.Walk(new byte[16], 47, out var bare));
        Assert.Equal(((L4Protocol)47, 0, 6), (bare.Protocol, bare.HeaderCount, bare.NextHeaderFieldOffset));

        // Hop-by-hop (8 bytes) naming destination options (16 bytes) naming GRE.
        byte[] chain = new byte[8 + 16 + 8];
        chain[0] = 60;
        chain[8] = 47;
        chain[9] = 1;
        Assert.Equal(DropReason.None, Ipv6ExtensionHeaders.Walk(chain, 0, out var two));
        Assert.Equal(((L4Protocol)47, 24, 2, 48), (two.Protocol, two.Offset, two.HeaderCount, two.NextHeaderFieldOffset));

        // A non-first fragment: its fragment header names the protocol.
        byte[] fragment = [17, 0, 0x00, 0x08, 0, 0, 0, 1, .. new byte[8]];
        Assert.Equal(DropReason.None, Ipv6ExtensionHeaders.Walk(fragment, 44, out var nonFirst));
        Assert.Equal((L4Protocol.Udp, true, 40), (nonFirst.Protocol, nonFirst.IsNonFirstFragment, nonFirst.NextHeaderFieldOffset));
    }

    /// <summary>
    /// Mobility, HIP and shim6 are not stepped over, as the kernel's ipv6_ext_hdr does not: the packet is of that
    /// protocol (IPVS leaves it to the host). The headers the kernel steps over are.
    /// </summary>
    [Theory]
    [InlineData(135)]
    [InlineData(139)]
    [InlineData(140)]
    public void Walk_MobilityHipShim6_AreTheUpperLayer(byte nextHeader)
    {
        byte[] chain = [6, 0, 0, 0, 0, 0, 0, 0, .. new byte[20]];
        Assert.Equal(DropReason.None, Ipv6ExtensionHeaders.Walk(chain, nextHeader, out var upper));
        Assert.Equal(((L4Protocol)nextHeader, 0, 0), (upper.Protocol, upper.Offset, upper.HeaderCount));
        Assert.All(new byte[] { 0, 43, 44, 60, 51 }, header => Assert.True(Ipv6ExtensionHeaders.IsExtensionHeader(header)));
    }
}
