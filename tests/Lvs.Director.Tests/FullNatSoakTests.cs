using Lvs.Core;

namespace Lvs.Director.Tests;

/// <summary>FULLNAT local ports return to the allocator when their connections end, so the table and the allocator hold steady under churn.</summary>
public class FullNatSoakTests
{
    [Fact]
    public void FullNat_ManyConnectionsThroughFewPorts_PortsReusedAfterConnectionsExpire()
    {
        using var lab = new Lab(new DirectorOptions { LocalAddresses = [Lab.LocalV4], LocalPortFirst = 1024, LocalPortLast = 2047 });
        lab.AddService("rr", ForwardingMethod.FullNat, count: 3);
        var allocator = lab.Engine.LocalAddresses!;
        const int rounds = 40;
        const int perRound = 1000;
        var ports = new HashSet<int>();
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < perRound; i++)
            {
                var client = InetAddress.FromIPv4((uint)(0xC633_0000 + (round * perRound) + i));
                var syn = Lab.Tcp(Lab.RouterMac, Lab.ClientLinkMac, client, (ushort)(10000 + i), lab.Vip, 80, "S");
                var v = lab.Send(syn, 0);
                Assert.Equal(FrameAction.Transmit, v.Action);
                ports.Add(syn.Output(v).Extract<PacketDotNet.TcpPacket>().SourcePort);
            }

            Assert.Equal(perRound, lab.Engine.Connections.Count);
            Assert.Equal(perRound, allocator.InUse);

            // SYN_RECV lasts 60 s in the kernel's table: after it, every connection expires and its port comes back.
            lab.Time.Advance(TimeSpan.FromSeconds(62));
            lab.Engine.Connections.RunHousekeeping();
            Assert.Equal(0, lab.Engine.Connections.Count);
            Assert.Equal(0, allocator.InUse);
        }

        Assert.Equal(rounds * perRound, lab.Engine.GetCounters(lab.Table.Snapshot.Services[0]).Connections);
        Assert.True(ports.Count <= 1024, $"{ports.Count} distinct ports from a range of 1024");
        foreach (var server in lab.Table.Snapshot.Services[0].RealServers)
        {
            Assert.Equal(0, server.ActiveConnections + server.InactiveConnections);
        }
    }
}
