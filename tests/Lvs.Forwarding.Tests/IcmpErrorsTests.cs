using Lvs.Core;
using PacketDotNet;

namespace Lvs.Forwarding.Tests;

/// <summary>The ICMP errors the director originates (<see cref="IcmpErrors"/>), read back by PacketDotNet.</summary>
public class IcmpErrorsTests
{
    [Theory]
    [InlineData("198.51.100.7", "192.0.2.10")]
    [InlineData("2001:db8:1::7", "2001:db8::10")]
    public void PortUnreachable_FromTheAddressTheDatagramWasSentTo_QuotesIt(string client, string vip)
    {
        var spec = new FrameSpec { Source = client, Destination = vip, Protocol = ProtocolType.Udp, PayloadLength = 30 };
        var (verdict, output) = RewriteHarness.Run(PacketFactory.Build(spec), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            IcmpErrors.PortUnreachable(b, o, p, InetAddress.Parse(vip), 64, DropReason.NoRealServer));

        Assert.Equal(ForwardingAction.SendIcmpError, verdict.Action);
        PacketFactory.AssertChecksumsValid(output);
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, output).Extract<IPPacket>();
        Assert.Equal((vip, client, 64), (ip.SourceAddress.ToString(), ip.DestinationAddress.ToString(), (int)ip.TimeToLive));
        if (ip is IPv4Packet v4)
        {
            // icmp_send: TOS 0xC0 (internetwork control) and no DF.
            Assert.Equal((0xC0, 0), (v4.TypeOfService, (int)v4.FragmentFlags));
            Assert.Equal(v4.TotalLength, output.Length - 14);
        }
    }

    [Theory]
    [InlineData("198.51.100.7", "192.0.2.10", "2001:db8::10")]
    [InlineData("2001:db8:1::7", "2001:db8::10", "192.0.2.10")]
    public void PortUnreachable_SourceOfTheOtherFamily_NoErrorIsSent(string client, string vip, string source)
    {
        var spec = new FrameSpec { Source = client, Destination = vip, Protocol = ProtocolType.Udp, PayloadLength = 30 };
        var (verdict, _) = RewriteHarness.Run(PacketFactory.Build(spec), (Span<byte> b, int o, int l, in ParsedFrame p) =>
            IcmpErrors.PortUnreachable(b, o, p, InetAddress.Parse(source), 64, DropReason.NoRealServer));

        Assert.Equal((ForwardingAction.Drop, DropReason.NoRealServer), (verdict.Action, verdict.Reason));
    }
}
