using System.Net;
using System.Net.Sockets;

namespace Lvs.Samples.Director.Lab;

/// <summary>
/// An HTTP client whose connections are kernel sockets of the client namespace, one connection per request, each from
/// a client port no earlier connection of the namespace used (<see cref="NetNamespace.NextClientPort"/>).
/// </summary>
public sealed class LabClient : IDisposable
{
    private readonly HttpClient _http;

    /// <summary>Creates the client.</summary>
    /// <param name="ns">The client namespace.</param>
    /// <param name="timeout">The timeout of one request.</param>
    /// <param name="receiveBuffer">The sockets' receive buffer (small keeps a download in flight while it is read slowly); 0: the kernel's.</param>
    public LabClient(NetNamespace ns, TimeSpan? timeout = null, int receiveBuffer = 0)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.Zero,
            ConnectCallback = async (context, cancellation) =>
            {
                var address = IPAddress.Parse(context.DnsEndPoint.Host.Trim('[', ']'));
                var socket = ns.CreateSocket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    if (receiveBuffer > 0)
                    {
                        socket.ReceiveBufferSize = receiveBuffer;
                    }

                    // A port of its own, never one an earlier connection of the lab had (NetNamespace.NextClientPort).
                    socket.Bind(new IPEndPoint(address.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, ns.NextClientPort()));

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

    /// <summary>Downloads <c>/big</c> slowly: a chunk, then a pause, so the transfer stays in flight for a while.</summary>
    /// <param name="server">The address and port.</param>
    /// <param name="chunk">The bytes read between pauses.</param>
    /// <param name="pause">The pause.</param>
    /// <param name="cancellation">Stops the download.</param>
    /// <returns>The body.</returns>
    public async Task<byte[]> SlowBigAsync(string server, int chunk, TimeSpan pause, CancellationToken cancellation = default)
    {
        using var response = await _http.GetAsync(new Uri($"http://{server}/big"), HttpCompletionOption.ResponseHeadersRead, cancellation);
        _ = response.EnsureSuccessStatusCode();
        await using var stream = await response.Content.ReadAsStreamAsync(cancellation);
        using var body = new MemoryStream();
        var buffer = new byte[chunk];
        while (true)
        {
            int total = 0;
            while (total < chunk)
            {
                int n = await stream.ReadAsync(buffer.AsMemory(total), cancellation);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            body.Write(buffer, 0, total);
            if (total < chunk)
            {
                return body.ToArray();
            }

            await Task.Delay(pause, cancellation);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}
