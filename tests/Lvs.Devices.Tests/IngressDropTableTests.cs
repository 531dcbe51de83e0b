using System.Net;
using System.Net.Sockets;
using Lvs.Core;
using Lvs.Devices.Tests.Lab;

namespace Lvs.Devices.Tests;

/// <summary>The nftables netdev ingress drop for the director's addresses, on a veth pair between namespaces.</summary>
public sealed class IngressDropTableTests : IDisposable
{
    private static readonly IPEndPoint VipPort = new(IPAddress.Parse("192.0.2.10"), 81);
    private readonly NetworkLab _lab = new();

    public void Dispose() => _lab.Dispose();

    [Fact]
    public async Task Create_VipTheKernelOwns_KernelNoLongerResetsButTheLinkStillReceivesUntilDisposed()
    {
        LabPrerequisites.Require();
        string director = _lab.AddNamespace("d");
        string peer = _lab.AddNamespace("p");
        (string link, _) = _lab.AddVeth(director, "10.77.0.1/24", peer, "10.77.0.2/24");
        NetworkLab.RunIn(director, "addr add 192.0.2.10/32 dev lo"); // the misconfiguration the table guards against
        NetworkLab.RunIn(peer, "route add 192.0.2.10/32 via 10.77.0.1");
        using AfPacketLink afPacket = NetworkLab.InNamespace(director, () => new AfPacketLink(link));

        Assert.Equal("refused", await ConnectFromPeer(peer));

        IngressDropTable table = NetworkLab.InNamespace(director, () => IngressDropTable.Create(link, [InetAddress.Parse("192.0.2.10"), InetAddress.Parse("2001:db8::10")]));
        Assert.Equal($"lvs_{link}", table.TableName);
        IOException twice = Assert.Throws<InvalidOperationException>(() => NetworkLab.InNamespace(director, () => IngressDropTable.Create(link, [InetAddress.Parse("192.0.2.10")]))).InnerException as IOException
            ?? throw new InvalidOperationException("expected an IOException");
        Assert.Contains("File exists", twice.Message, StringComparison.Ordinal);

        Assert.Equal("timeout", await ConnectFromPeer(peer));
        List<byte[]> syns = TestFrames.ReceiveWhere(afPacket.GetQueue(0), IsTcpToVip, found => found.Count > 0, TimeSpan.FromSeconds(2));
        Assert.NotEmpty(syns);

        NetworkLab.InNamespace(director, table.Dispose);
        Assert.Equal("refused", await ConnectFromPeer(peer));
        Assert.Throws<InvalidOperationException>(() => NetworkLab.InNamespace(director, () => IngressDropTable.Delete($"lvs_{link}")));
    }

    private static bool IsTcpToVip(byte[] frame) =>
        frame.Length >= 54 && frame[12] == 0x08 && frame[13] == 0x00 && frame[23] == 6
        && frame.AsSpan(30, 4).SequenceEqual(new byte[] { 192, 0, 2, 10 }) && frame[36] == 0 && frame[37] == 81;

    private static async Task<string> ConnectFromPeer(string peer)
    {
        using Socket socket = NetworkLab.InNamespace(peer, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            await socket.ConnectAsync(VipPort, timeout.Token);
            return "connected";
        }
        catch (SocketException exception) when (exception.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return "refused";
        }
        catch (OperationCanceledException)
        {
            return "timeout";
        }
    }
}
