using Lvs.Core;
using Lvs.Director;
using Microsoft.Extensions.Time.Testing;

namespace Lvs.Hosting.Tests;

/// <summary>
/// A director on two fake links driven by one packet loop on the test's thread: link 0 faces the clients
/// (10.0.0.1/24), link 1 the real servers (10.1.0.1/24); a NAT service 10.0.0.100:80 to 10.1.0.11:8080.
/// </summary>
public sealed class LoopLab : IDisposable
{
    public static readonly MacAddress ClientLinkMac = MacAddress.Parse("02:00:00:00:00:01");
    public static readonly MacAddress ServerLinkMac = MacAddress.Parse("02:00:00:00:01:01");
    public static readonly MacAddress ClientMac = MacAddress.Parse("02:00:00:00:00:02");
    public static readonly MacAddress ServerMac = MacAddress.Parse("02:00:00:00:02:01");

    public LoopLab(bool resolveServer = true)
    {
        Time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 5, 0, 0, 0, TimeSpan.Zero));
        ClientLink = new FakeFrameLink("client", ClientLinkMac, [InetPrefix.Parse("10.0.0.1/24")]);
        ServerLink = new FakeFrameLink("servers", ServerLinkMac, [InetPrefix.Parse("10.1.0.1/24")]);
        Table = new ServiceTable();
        var vip = VirtualServiceKey.ForAddress(L4Protocol.Tcp, InetEndpoint.Parse("10.0.0.100:80"));
        Table.AddService(new VirtualServiceOptions(vip) { Scheduler = "rr" });
        Table.AddRealServer(vip, new RealServerOptions(InetEndpoint.Parse("10.1.0.11:8080")) { Method = ForwardingMethod.Nat });
        DirectorLink[] links =
        [
            new(0, ClientLink.Name, ClientLink.Mac, ClientLink.Addresses),
            new(1, ServerLink.Name, ServerLink.Mac, ServerLink.Addresses),
        ];
        Engine = new DirectorEngine(Table, links, new DirectorOptions { Gateway = InetAddress.Parse("10.0.0.254") }, timeProvider: Time);
        Engine.Neighbors.Set(0, InetAddress.Parse("10.0.0.2"), ClientMac);
        if (resolveServer)
        {
            Engine.Neighbors.Set(1, InetAddress.Parse("10.1.0.11"), ServerMac);
        }

        Resolver = new NeighborResolver(Engine, timeProvider: Time, random: new Random(1));
        Loop = new PacketWorkerLoop(0, Engine, [ClientLink, ServerLink], Resolver, new LvsDirectorOptions { ReceiveTimeoutMilliseconds = 0 }, Time);
    }

    public FakeTimeProvider Time { get; }

    public FakeFrameLink ClientLink { get; }

    public FakeFrameLink ServerLink { get; }

    public ServiceTable Table { get; }

    public DirectorEngine Engine { get; }

    public NeighborResolver Resolver { get; }

    internal PacketWorkerLoop Loop { get; }

    public static byte[] Syn(ushort clientPort) => TestFrames.Tcp(ClientMac, ClientLinkMac, "10.0.0.2", clientPort, "10.0.0.100", 80, syn: true, ack: false);

    /// <summary>The frames among <paramref name="frames"/> that are ARP requests for an address (not announcements).</summary>
    public static List<byte[]> RequestsFor(IEnumerable<byte[]> frames, string target) =>
        [.. frames.Where(frame => TestFrames.Arp(frame) is { Operation: PacketDotNet.ArpOperation.Request } arp
            && arp.TargetProtocolAddress.ToString() == target && arp.SenderProtocolAddress.ToString() != target)];

    public void Dispose()
    {
        Resolver.Dispose();
        Engine.Dispose();
    }
}
