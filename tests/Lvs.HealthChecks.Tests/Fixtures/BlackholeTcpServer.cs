using System.Net;
using System.Net.Sockets;

namespace Lvs.HealthChecks.Tests.Fixtures;

/// <summary>
/// A loopback TCP listener that never accepts, with its accept queue filled: Linux drops the SYNs of further
/// connects (tcp_conn_request, listen overflow), so they hang until the client gives up, as against a blackholed
/// server, without a packet leaving the machine.
/// </summary>
public sealed class BlackholeTcpServer : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly List<Socket> _queued = [];

    public BlackholeTcpServer()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(0);
        // Fill the accept queue: connects complete until it is full, then hang.
        for (int i = 0; i < 16; i++)
        {
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            Task connect = client.ConnectAsync(_listener.LocalEndPoint!);
            if (!connect.Wait(TimeSpan.FromMilliseconds(300)))
            {
                client.Dispose();
                return;
            }

            _queued.Add(client);
        }

        throw new InvalidOperationException("The accept queue did not fill: connects do not hang on this machine.");
    }

    public Lvs.Core.InetEndpoint Endpoint => new(Lvs.Core.InetAddress.FromIPv4(127, 0, 0, 1), (ushort)((IPEndPoint)_listener.LocalEndPoint!).Port);

    public void Dispose()
    {
        foreach (Socket socket in _queued)
        {
            socket.Dispose();
        }

        _listener.Dispose();
    }
}
