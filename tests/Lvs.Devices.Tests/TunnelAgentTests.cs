using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Lvs.Core;
using Lvs.Devices.Tests.Lab;

namespace Lvs.Devices.Tests;

/// <summary>The lvs-tunnel-agent sample end to end: a real server namespace without tunnel modules answers a client through it.</summary>
public sealed class TunnelAgentTests : IDisposable
{
    private static readonly InetAddress Client = InetAddress.Parse("10.79.0.1");
    private static readonly InetAddress Server = InetAddress.Parse("10.79.0.2");
    private static readonly InetAddress Vip = InetAddress.Parse("192.0.2.100");
    private readonly NetworkLab _lab = new();

    public void Dispose() => _lab.Dispose();

    [Fact]
    public void Agent_IpIpGreAndGueFramesToTheRealServer_ItsKernelAnswersFromTheVipAndTheAgentStopsOnSigterm()
    {
        LabPrerequisites.Require();
        string director = _lab.AddNamespace("c");
        string realServer = _lab.AddNamespace("r");
        (string link, string serverLink) = _lab.AddVeth(director, "10.79.0.1/24", realServer, "10.79.0.2/24");
        NetworkLab.RunIn(realServer, "addr add 192.0.2.100/32 dev lo");
        string tun = $"lvu{_lab.Suffix}";
        MacAddress serverMac = NetworkLab.MacOf(realServer, serverLink);

        using Socket echo = NetworkLab.InNamespace(realServer, () => Udp(new IPEndPoint(Vip.ToIPAddress(), 7777)));
        var echoThread = new Thread(() => Echo(echo)) { IsBackground = true };
        echoThread.Start();
        using Socket client = NetworkLab.InNamespace(director, () => Udp(new IPEndPoint(Client.ToIPAddress(), 5555)));
        client.ReceiveTimeout = 3000;
        using AfPacketLink afPacket = NetworkLab.InNamespace(director, () => new AfPacketLink(link));

        string agentPath = Path.Combine(AppContext.BaseDirectory, "lvs-tunnel-agent");
        using Process agent = Process.Start(new ProcessStartInfo("ip", $"netns exec {realServer} {agentPath} --interface {serverLink} --tun {tun} --gue-port 6080")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var output = new StringBuilder();
        var ready = new ManualResetEventSlim();
        agent.OutputDataReceived += (_, line) =>
        {
            lock (output)
            {
                output.AppendLine(line.Data);
            }

            if (line.Data?.Contains("-> " + tun, StringComparison.Ordinal) == true)
            {
                ready.Set();
            }
        };
        agent.ErrorDataReceived += (_, line) =>
        {
            lock (output)
            {
                output.AppendLine(line.Data);
            }
        };
        agent.BeginOutputReadLine();
        agent.BeginErrorReadLine();
        try
        {
            Assert.True(ready.Wait(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken), $"the agent did not start: {output}");
            foreach ((string name, Func<byte[], byte[]> encapsulate) in new (string, Func<byte[], byte[]>)[]
            {
                ("ipip", inner => Outer(4, inner)),
                ("gre", inner => Outer(47, [0, 0, 0x08, 0x00, .. inner])),
                ("gue", inner => Outer(17, Gue(inner))),
            })
            {
                byte[] payload = Encoding.ASCII.GetBytes($"hello over {name}");
                byte[] frame = [.. Ethernet(afPacket.Mac, serverMac), .. encapsulate(InnerUdp(payload))];
                Assert.True(afPacket.GetQueue(0).TrySend(frame));
                afPacket.GetQueue(0).Flush();

                var answer = new byte[256];
                EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                int length = client.ReceiveFrom(answer, ref from);
                Assert.Equal(payload, answer[..length]);
                Assert.Equal(new IPEndPoint(Vip.ToIPAddress(), 7777), from);
            }
        }
        finally
        {
            NativeLab.Kill(agent.Id, 15);
            if (!agent.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                agent.Kill();
            }
        }

        agent.WaitForExit();
        Assert.True(agent.ExitCode == 0, output.ToString());
        Assert.Contains("3 packets delivered", output.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, NetworkLab.InNamespace(realServer, () => InterfaceControl.IndexOf(tun)));
    }

    private static Socket Udp(IPEndPoint bind)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(bind);
        return socket;
    }

    private static void Echo(Socket socket)
    {
        var buffer = new byte[2048];
        try
        {
            while (true)
            {
                EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                int length = socket.ReceiveFrom(buffer, ref from);
                socket.SendTo(buffer.AsSpan(0, length), from);
            }
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            // The test is over.
        }
    }

    private static byte[] Ethernet(MacAddress source, MacAddress destination)
    {
        var header = new byte[14];
        destination.WriteTo(header);
        source.WriteTo(header.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(12), 0x0800);
        return header;
    }

    private static byte[] Ipv4(InetAddress source, InetAddress destination, byte protocol, byte[] payload)
    {
        var packet = new byte[20 + payload.Length];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        packet[8] = 64;
        packet[9] = protocol;
        source.WriteTo(packet.AsSpan(12));
        destination.WriteTo(packet.AsSpan(16));
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), Checksum.Compute(packet.AsSpan(0, 20)));
        payload.CopyTo(packet, 20);
        return packet;
    }

    private static byte[] InnerUdp(byte[] payload)
    {
        var udp = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(udp, 5555);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), 7777);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
        payload.CopyTo(udp, 8);
        return Ipv4(Client, Vip, 17, udp);
    }

    private static byte[] Outer(byte protocol, byte[] payload) => Ipv4(Client, Server, protocol == 4 ? (byte)4 : protocol, payload);

    private static byte[] Gue(byte[] inner)
    {
        var udp = new byte[8 + 4 + inner.Length];
        BinaryPrimitives.WriteUInt16BigEndian(udp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), 6080);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
        udp[9] = 4; // GUE version 0, no flags, inner protocol IPIP
        inner.CopyTo(udp, 12);
        return udp;
    }
}
