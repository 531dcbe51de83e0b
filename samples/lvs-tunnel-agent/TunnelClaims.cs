using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Lvs.Forwarding;

namespace Lvs.Samples.TunnelAgent;

/// <summary>
/// Sockets that claim the tunnel protocols from the local stack, as the kernel's ipip, gre and fou modules do: a raw
/// socket for each accepted protocol (IPIP, IPv6 in IP, GRE; over IPv4 and IPv6) and a UDP socket on the GUE port.
/// With one, the stack hands a tunnel packet to it instead of answering "protocol unreachable" or "port unreachable"
/// (<c>ip_protocol_deliver_rcu</c>, <c>__udp4_lib_rcv</c>). Their copies are read and thrown away: a raw socket whose
/// receive buffer is full no longer counts as a taker (<c>raw_v4_input</c>), and the stack would answer again. The raw
/// sockets are opened with <c>socket(2)</c> itself, since .NET maps the protocol numbers 4 and 41 to its own meanings.
/// </summary>
internal sealed partial class TunnelClaims : IDisposable
{
    private const int AfInet = 2;
    private const int AfInet6 = 10;
    private const int SockRaw = 3;

    private readonly List<Socket> _sockets = [];

    internal TunnelClaims(TunnelDecapsulatorOptions options)
    {
        var protocols = new List<int>();
        if (options.AcceptIpIp)
        {
            protocols.AddRange([4, 41]);
        }

        if (options.AcceptGre)
        {
            protocols.Add(47);
        }

        foreach (int family in new[] { AfInet, AfInet6 })
        {
            foreach (int protocol in protocols)
            {
                int fd = Socket(family, SockRaw, protocol);
                if (fd < 0)
                {
                    throw new SocketException(Marshal.GetLastPInvokeError());
                }

                Drain(new Socket(new SafeSocketHandle(fd, ownsHandle: true)));
            }
        }

        if (options.GuePort != 0)
        {
            foreach (var any in new[] { IPAddress.Any, IPAddress.IPv6Any })
            {
                var udp = new Socket(any.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                if (any.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    udp.DualMode = false;
                }

                udp.Bind(new IPEndPoint(any, options.GuePort));
                Drain(udp);
            }
        }
    }

    public void Dispose()
    {
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }
    }

    /// <summary>Keeps the socket and reads what arrives on it until it is disposed.</summary>
    private void Drain(Socket socket)
    {
        _sockets.Add(socket);
        _ = Task.Run(async () =>
        {
            var buffer = new byte[65536];
            try
            {
                while (true)
                {
                    _ = await socket.ReceiveAsync(buffer, SocketFlags.None);
                }
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                // Disposed: the agent is stopping.
            }
        });
    }

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);
}
