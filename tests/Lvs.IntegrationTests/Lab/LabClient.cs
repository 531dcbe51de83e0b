using System.Net;
using System.Net.Sockets;

namespace Lvs.IntegrationTests.Lab;

/// <summary>An HTTP client whose connections are kernel sockets of the client namespace, one connection per request.</summary>
public sealed class LabClient : IDisposable
{
    private readonly HttpClient _http;

    /// <summary>Creates the client.</summary>
    /// <param name="ns">The client namespace.</param>
    /// <param name="timeout">The timeout of one request.</param>
    public LabClient(NetNamespace ns, TimeSpan? timeout = null)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.Zero,
            ConnectCallback = async (context, cancellation) =>
            {
                var address = IPAddress.Parse(context.DnsEndPoint.Host);
                var socket = ns.CreateSocket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellation);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { Timeout = timeout ?? TimeSpan.FromSeconds(10) };
        _http.DefaultRequestHeaders.ConnectionClose = true;
    }

    /// <summary>Asks <c>/whoami</c>.</summary>
    /// <param name="server">The address and port (<c>10.0.0.100:80</c>).</param>
    /// <returns>The name of the real server that answered.</returns>
    public Task<string> WhoAmIAsync(string server) => _http.GetStringAsync(new Uri($"http://{server}/whoami"));

    /// <summary>Downloads <c>/big</c>.</summary>
    /// <param name="server">The address and port.</param>
    /// <param name="cancellation">Stops the download.</param>
    /// <returns>The body.</returns>
    public Task<byte[]> BigAsync(string server, CancellationToken cancellation = default) => _http.GetByteArrayAsync(new Uri($"http://{server}/big"), cancellation);

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}
