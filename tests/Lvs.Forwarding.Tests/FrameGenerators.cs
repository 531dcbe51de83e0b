using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;
using PacketDotNet;

namespace Lvs.Forwarding.Tests;

/// <summary>A generated client flow: the request frame, the real server it goes to, and the length of the reply.</summary>
public sealed record GeneratedFlow(FrameSpec Request, InetEndpoint RealServer, InetEndpoint Local, int ReplyLength)
{
    public override string ToString() => $"{Request} -> {RealServer} via {Local}, reply {ReplyLength}";
}

public static class FrameGenerators
{
    private static Gen<string> IPv4() =>
        Gen.Choose(1, 223).SelectMany(a => Gen.Choose(0, 255).SelectMany(b => Gen.Choose(0, 255).SelectMany(c => Gen.Choose(1, 254).Select(d => $"{a}.{b}.{c}.{d}"))))
            .Where(s => !s.StartsWith("127.", StringComparison.Ordinal));

    private static Gen<string> IPv6() =>
        Gen.ArrayOf(Gen.Choose(0, 0xFFFF), 7).Select(words => "2001:" + string.Join(':', words.Select(w => w.ToString("x", System.Globalization.CultureInfo.InvariantCulture))));

    private static Gen<ushort> Port() => Gen.Choose(1, 65535).Select(p => (ushort)p);

    public static Gen<GeneratedFlow> Flows() =>
        from ipv6 in Gen.Elements(false, true)
        from addresses in Gen.ArrayOf(ipv6 ? IPv6() : IPv4(), 4)
        from ports in Gen.ArrayOf(Port(), 4)
        from protocol in Gen.Elements(ProtocolType.Tcp, ProtocolType.Udp)
        from payload in Gen.Choose(0, 1400)
        from reply in Gen.Choose(0, 1400)
        from ttl in Gen.Choose(2, 255)
        from syn in Gen.Elements(false, true)
        from tos in Gen.Choose(0, 255)
        select new GeneratedFlow(
            new FrameSpec
            {
                Source = addresses[0],
                Destination = addresses[1],
                SourcePort = ports[0],
                DestinationPort = ports[1],
                Protocol = protocol,
                PayloadLength = payload,
                Ttl = (byte)ttl,
                Syn = syn,
                Ack = !syn,
                TypeOfService = (byte)tos,
            },
            new InetEndpoint(InetAddress.Parse(addresses[2]), ports[2]),
            new InetEndpoint(InetAddress.Parse(addresses[3]), ports[3]),
            reply);
}
