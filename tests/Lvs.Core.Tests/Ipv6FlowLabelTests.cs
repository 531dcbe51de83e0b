using System.Buffers.Binary;
using Lvs.Core.Headers;

namespace Lvs.Core.Tests;

public class Ipv6FlowLabelTests
{
    private static readonly InetAddress A = InetAddress.Parse("2001:db8::1");
    private static readonly InetAddress B = InetAddress.Parse("2001:db8::2");

    [Fact]
    public void Compute_SameFlowSameLabel_TwentyBits()
    {
        uint label = Ipv6FlowLabel.Compute(A, B, L4Protocol.Tcp, (80u << 16) | 40000);

        Assert.Equal(label, Ipv6FlowLabel.Compute(A, B, L4Protocol.Tcp, (80u << 16) | 40000));
        Assert.Equal(label, label & Ipv6FlowLabel.Mask);
    }

    [Fact]
    public void Compute_FlowsDifferingInAnyField_GetDifferentLabels()
    {
        var labels = new HashSet<uint>();
        for (uint port = 0; port < 256; port++)
        {
            _ = labels.Add(Ipv6FlowLabel.Compute(A, B, L4Protocol.Tcp, (80u << 16) | port));
        }

        // 256 random 20-bit values collide with a probability of about 3 %: allow a few.
        Assert.True(labels.Count >= 250, $"{labels.Count} distinct labels");
        Assert.NotEqual(Ipv6FlowLabel.Compute(A, B, L4Protocol.Tcp, 1), Ipv6FlowLabel.Compute(B, A, L4Protocol.Tcp, 1));
        Assert.NotEqual(Ipv6FlowLabel.Compute(A, B, L4Protocol.Tcp, 1), Ipv6FlowLabel.Compute(A, B, L4Protocol.Udp, 1));
        Assert.Equal((129u << 8) | 0, Ipv6FlowLabel.IcmpPorts(129, 0));
    }

    [Fact]
    public void Ipv6HeaderWrite_WritesTheLabelsTwentyBits_BesideTheTrafficClass()
    {
        var header = new byte[Ipv6Header.Length];

        Ipv6Header.Write(header, A, B, L4Protocol.Tcp, 20, 64, 0xb8, 0xF_ABCDE);

        Assert.Equal(0x6000_0000u | (0xb8u << 20) | 0xABCDE, BinaryPrimitives.ReadUInt32BigEndian(header));
        Ipv6Header.Write(header, A, B, L4Protocol.Tcp, 20, 64);
        Assert.Equal(0x6000_0000u, BinaryPrimitives.ReadUInt32BigEndian(header));
    }
}
