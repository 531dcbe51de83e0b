using System.Net.Sockets;

namespace Lvs.HealthChecks;

/// <summary>Opens the TCP connection of a check: bound to <c>bindto</c>/<c>bind_port</c> when given, then connected to the target.</summary>
internal static class SocketConnector
{
    public static async ValueTask<Socket> ConnectAsync(CheckConnectionOptions connection, CancellationToken cancellationToken)
    {
        var target = connection.GetTargetEndPoint();
        var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (connection.GetLocalEndPoint() is { } local)
            {
                socket.Bind(local);
            }

            await socket.ConnectAsync(target, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
