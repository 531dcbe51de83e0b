using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Lvs.Samples.Director.Lab;

/// <summary>
/// A small HTTP/1.1 server on a kernel socket in a real server's namespace: <c>GET /whoami</c> answers the server's
/// name, <c>GET /big</c> answers <see cref="BigLength"/> bytes of <see cref="BigContent"/>; every other path is 404.
/// One request per connection (<c>Connection: close</c>), so each request is a new connection for the scheduler.
/// </summary>
public sealed class HttpResponder : IAsyncDisposable
{
    /// <summary>The length of <c>/big</c>: 1 MiB.</summary>
    public const int BigLength = 1 << 20;

    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly System.Collections.Concurrent.ConcurrentQueue<int> _clientPorts = new();
    private int _requests;

    /// <summary>Starts listening on every address of the namespace (the VIP too, for DR and TUN).</summary>
    /// <param name="ns">The namespace.</param>
    /// <param name="name">The name <c>/whoami</c> answers.</param>
    /// <param name="port">The TCP port.</param>
    public HttpResponder(NetNamespace ns, string name, int port)
    {
        Name = name;
        _listener = ns.CreateSocket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        _listener.DualMode = true;
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
        _listener.Listen(512);
        _accepting = AcceptAsync();
    }

    /// <summary>The server's name.</summary>
    public string Name { get; }

    /// <summary>The requests answered so far.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The client ports of the connections accepted so far, in order (to tell a reused port from a new one).</summary>
    public IReadOnlyCollection<int> ClientPorts => _clientPorts;

    /// <summary>The bytes of <c>/big</c>: a pattern no offset error can reproduce.</summary>
    public static byte[] BigContent { get; } = [.. Enumerable.Range(0, BigLength).Select(i => (byte)((i * 31) + (i >> 11)))];

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            if (connection.RemoteEndPoint is IPEndPoint remote)
            {
                _clientPorts.Enqueue(remote.Port);
            }

            _ = ServeAsync(connection);
        }
    }

    private async Task ServeAsync(Socket connection)
    {
        using (connection)
        {
            try
            {
                var request = new byte[4096];
                int received = 0;
                while (received < request.Length)
                {
                    int n = await connection.ReceiveAsync(request.AsMemory(received), SocketFlags.None, _stop.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    received += n;
                    if (request.AsSpan(0, received).IndexOf("\r\n\r\n"u8) >= 0)
                    {
                        break;
                    }
                }

                var line = Encoding.ASCII.GetString(request, 0, received).Split("\r\n")[0];
                byte[] body = line.StartsWith("GET /whoami ", StringComparison.Ordinal) ? Encoding.ASCII.GetBytes(Name)
                    : line.StartsWith("GET /big ", StringComparison.Ordinal) ? BigContent
                    : [];
                string status = body.Length > 0 ? "200 OK" : "404 Not Found";
                var head = Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Length: {body.Length}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n");
                await connection.SendAsync(head, SocketFlags.None, _stop.Token);
                await connection.SendAsync(body, SocketFlags.None, _stop.Token);
                _ = Interlocked.Increment(ref _requests);
                connection.Shutdown(SocketShutdown.Send);

                // Wait for the client's close so the connection ends with a FIN from each side.
                _ = await connection.ReceiveAsync(request, SocketFlags.None, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The client went away or the lab is stopping.
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
    }
}
