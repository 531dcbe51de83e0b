using System.Net;
using System.Net.Sockets;
using Lvs.Core;
using Lvs.Devices.Tests.Lab;

namespace Lvs.Devices.Tests;

/// <summary>TAP links created inside network namespaces the tests create.</summary>
public sealed class TapLinkTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);
    private readonly NetworkLab _lab = new();

    public void Dispose() => _lab.Dispose();

    [Fact]
    public void Receive_UdpFromTheKernelSide_ArrivesAndEchoRequestSentIsAnswered()
    {
        (string ns, TapLink tap) = Create(queues: 1);
        using (tap)
        {
            SendUdp(ns, 9999, sourcePort: 0, count: 2);
            List<byte[]> frames = TestFrames.ReceiveWhere(tap.GetQueue(0), frame => TestFrames.IsUdpTo(frame, 9999), found => found.Count >= 2, Patience);
            Assert.Equal(2, frames.Count);
            Assert.All(frames, frame => Assert.Equal(tap.Mac, MacAddress.Read(frame)));
            Assert.All(frames, frame => Assert.True(TestFrames.HasValidTransportChecksum(frame)));

            byte[] request = TestFrames.EchoRequest(tap.Mac, tap.KernelMac, InetAddress.Parse("10.78.0.2"), InetAddress.Parse("10.78.0.1"), 0x5456, 1);
            Assert.True(tap.GetQueue(0).TrySend(request));
            tap.GetQueue(0).Flush();
            Assert.Single(TestFrames.ReceiveWhere(tap.GetQueue(0), frame => TestFrames.IsEchoReply(frame, 0x5456), found => found.Count > 0, Patience));
        }
    }

    [Fact]
    public void Create_ConfiguredAddresses_AreTheDirectorsNotTheKernelSides()
    {
        (string ns, TapLink tap) = Create(queues: 1);
        using (tap)
        {
            Assert.Equal([InetPrefix.Parse("10.78.0.2/24")], tap.Addresses);
            InterfaceFacts kernelSide = NetworkLab.InNamespace(ns, () => InterfaceFacts.Read(tap.Name));
            Assert.DoesNotContain(kernelSide.Addresses, prefix => prefix.Address == InetAddress.Parse("10.78.0.2"));
            Assert.Equal(1400, kernelSide.Mtu);
            Assert.True(kernelSide.IsUp);
            Assert.NotEqual(tap.Mac, kernelSide.Mac);
            Assert.Equal(0x02, (byte)(tap.Mac.Value >> 40) & 0x03);
        }
    }

    [Fact]
    public void Dispose_NonPersistentDevice_InterfaceIsDeleted()
    {
        (string ns, TapLink tap) = Create(queues: 2);
        string name = tap.Name;
        Assert.Contains("multi_queue", NetworkLab.RunIn(ns, $"-d link show {name}"), StringComparison.Ordinal);
        Assert.True(NetworkLab.InNamespace(ns, () => InterfaceControl.IndexOf(name)) > 0);
        NetworkLab.InNamespace(ns, tap.Dispose);

        // A process another test forks at that moment holds a copy of the descriptors until it execs (they are
        // close-on-exec): the device goes when the last copy closes, so allow a moment.
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(3);
        while (NetworkLab.InNamespace(ns, () => InterfaceControl.IndexOf(name)) != 0 && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(20);
        }

        Assert.Equal(0, NetworkLab.InNamespace(ns, () => InterfaceControl.IndexOf(name)));
    }

    [Fact]
    public void Receive_TwoQueues_EveryFrameArrivesOnceAndEachFlowOnOneQueue()
    {
        (string ns, TapLink tap) = Create(queues: 2);
        using (tap)
        {
            const int flows = 8;
            for (int flow = 0; flow < flows; flow++)
            {
                SendUdp(ns, 9998, sourcePort: (ushort)(21000 + flow), count: 3);
            }

            var seen = new Dictionary<ushort, HashSet<int>>();
            int total = 0;
            DateTime deadline = DateTime.UtcNow + Patience;
            while (total < flows * 3 && DateTime.UtcNow < deadline)
            {
                for (int q = 0; q < 2; q++)
                {
                    foreach (byte[] frame in TestFrames.ReceiveWhere(tap.GetQueue(q), f => TestFrames.IsUdpTo(f, 9998), _ => false, TimeSpan.FromMilliseconds(100)))
                    {
                        ushort port = TestFrames.UdpSourcePort(frame);
                        if (!seen.TryGetValue(port, out HashSet<int>? queues))
                        {
                            seen[port] = queues = [];
                        }

                        queues.Add(q);
                        total++;
                    }
                }
            }

            Assert.Equal(flows * 3, total);
            Assert.All(seen.Values, queues => Assert.Single(queues));
        }
    }

    private (string Namespace, TapLink Tap) Create(int queues)
    {
        LabPrerequisites.Require();
        string ns = _lab.AddNamespace("t");
        string name = $"lvt{_lab.Suffix}";
        TapLink tap = NetworkLab.InNamespace(ns, () => new TapLink(new TapLinkOptions
        {
            Name = name,
            Addresses = [InetPrefix.Parse("10.78.0.2/24")],
            Mtu = 1400,
            QueueCount = queues,
        }));
        NetworkLab.RunIn(ns, $"addr add 10.78.0.1/24 dev {name}");
        NetworkLab.RunIn(ns, $"neigh replace 10.78.0.2 lladdr {tap.Mac} dev {name} nud permanent");
        return (ns, tap);
    }

    private static void SendUdp(string ns, ushort port, ushort sourcePort, int count)
    {
        using Socket socket = NetworkLab.InNamespace(ns, () =>
        {
            var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Any, sourcePort));
            return udp;
        });
        var payload = new byte[64];
        for (int i = 0; i < count; i++)
        {
            socket.SendTo(payload, new IPEndPoint(IPAddress.Parse("10.78.0.2"), port));
        }
    }
}
