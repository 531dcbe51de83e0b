using System.Buffers.Binary;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.Director.Tests;

/// <summary>
/// The IPv6 flow label of what the director sends as a host: the kernel's automatic label (<c>ip6_make_flowlabel</c>,
/// <c>auto_flowlabels = 1</c>, <c>flowlabel_reflect = 0</c>), measured on a 6.18 kernel between two namespaces: a
/// reset's label follows its ports, so two connections get different labels; the echo replies to a client share one
/// label, whatever the requests carried; the port unreachables for two ports share one; a neighbour advertisement
/// carries 0.
/// </summary>
public class DirectorEngineFlowLabelTests
{
    private static uint LabelOf(Frame frame, FrameVerdict verdict)
    {
        Assert.Equal(FrameAction.Transmit, verdict.Action);
        var ip = frame.Buffer.AsSpan(verdict.Offset + 14, 40);
        Assert.Equal(6, ip[0] >> 4);
        return BinaryPrimitives.ReadUInt32BigEndian(ip) & Ipv6FlowLabel.Mask;
    }

    private static Lab NatLab()
    {
        var lab = new Lab(ipv6: true);
        _ = lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        return lab;
    }

    [Fact]
    public void ResetsOfTwoConnections_EachItsOwnStableLabel()
    {
        using var lab = NatLab();
        uint Reset(ushort clientPort)
        {
            var segment = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, clientPort, lab.Vip, 80, "A");
            return LabelOf(segment, lab.Send(segment, 0));
        }

        var labels = Enumerable.Range(0, 16).Select(i => Reset((ushort)(40000 + i))).ToArray();

        Assert.Equal(labels[0], Reset(40000));
        Assert.Equal(labels[5], Reset(40005));
        Assert.True(labels.Distinct().Count() >= 15, $"labels: {string.Join(", ", labels)}");
        Assert.Contains(labels, label => label != 0);
        Assert.Equal(Ipv6FlowLabel.Compute(lab.Vip, lab.Client, L4Protocol.Tcp, (80u << 16) | 40000), labels[0]);
    }

    [Fact]
    public void EchoReplies_ShareTheHostsLabel_NotTheRequestsLabel()
    {
        using var lab = NatLab();
        uint Reply(uint requestLabel, ushort sequence)
        {
            var request = Lab.IcmpV6(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, lab.Vip, [128, 0, 0, 0, 0, 7, 0, (byte)sequence, 9, 9]);
            var ip = request.Buffer.AsSpan(request.Offset + 14);
            BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000u | (0x2eu << 20) | requestLabel);
            return LabelOf(request, lab.Send(request, 0));
        }

        uint first = Reply(0x12345, 1);
        uint second = Reply(0xabcde, 2);

        Assert.Equal(first, second);
        Assert.Equal(Ipv6FlowLabel.Compute(lab.Vip, lab.Client, L4Protocol.IcmpV6, Ipv6FlowLabel.IcmpPorts(129, 0)), first);
        Assert.NotEqual(0x12345u, first);
    }

    [Fact]
    public void EchoReply_KeepsTheRequestsTrafficClass()
    {
        using var lab = NatLab();
        var request = Lab.IcmpV6(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, lab.Vip, [128, 0, 0, 0, 0, 7, 0, 1, 9, 9]);
        BinaryPrimitives.WriteUInt32BigEndian(request.Buffer.AsSpan(request.Offset + 14), 0x6000_0000u | (0x2eu << 20) | 0x12345);

        var v = lab.Send(request, 0);

        Assert.Equal(0x2eu, (BinaryPrimitives.ReadUInt32BigEndian(request.Buffer.AsSpan(v.Offset + 14)) >> 20) & 0xFF);
    }

    [Fact]
    public void PortUnreachablesForTwoPorts_ShareOneLabel()
    {
        using var lab = NatLab();
        uint Unreachable(ushort port)
        {
            var datagram = Lab.Udp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 5353, lab.Vip, port);
            return LabelOf(datagram, lab.Send(datagram, 0));
        }

        uint first = Unreachable(5555);

        Assert.Equal(first, Unreachable(5556));
        Assert.Equal(Ipv6FlowLabel.Compute(lab.Vip, lab.Client, L4Protocol.IcmpV6, Ipv6FlowLabel.IcmpPorts(1, 4)), first);
    }
}
