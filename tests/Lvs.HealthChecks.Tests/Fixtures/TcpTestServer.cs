using System.Net;
using System.Net.Sockets;

namespace Lvs.HealthChecks.Tests.Fixtures;

/// <summary>
/// A TCP server on 127.0.0.1 that accepts and closes connections; it can be stopped and started again on the
/// same port, so that a check sees connection refused and then success.
/// </summary>
public sealed class TcpTestServer : IDisposable
{
    private TcpListener? _listener;
    private int _accepted;

    public TcpTestServer(int port = 0)
    {
        Start(port);
    }

    public int Port { get; private set; }

    public int Accepted => Volatile.Read(ref _accepted);

    public IPEndPoint? LastRemote { get; private set; }

    public Lvs.Core.InetEndpoint Endpoint => new(Lvs.Core.InetAddress.FromIPv4(127, 0, 0, 1), (ushort)Port);

    public void Start(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start(1024);
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        _listener = listener;
        _ = AcceptLoopAsync(listener);
    }

    public void Restart() => Start(Port);

    public void Stop()
    {
        _listener?.Stop();
        _listener = null;
    }

    public void Dispose() => Stop();

    private async Task AcceptLoopAsync(TcpListener listener)
    {
        try
        {
            while (true)
            {
                using Socket socket = await listener.AcceptSocketAsync();
                LastRemote = (IPEndPoint?)socket.RemoteEndPoint;
                Interlocked.Increment(ref _accepted);
            }
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
