using System.Net.Sockets;

namespace Lvs.HealthChecks;

/// <summary>
/// keepalived's <c>TCP_CHECK</c> (ldirectord <c>checktype = connect</c>): healthy when a TCP connection to the
/// target completes within <see cref="CheckConnectionOptions.ConnectTimeout"/>; the connection is closed at once.
/// </summary>
public sealed class TcpChecker : IHealthChecker
{
    private readonly CheckConnectionOptions _connection;
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates a TCP connect checker.</summary>
    /// <param name="connection">Target, source and timeout.</param>
    /// <param name="timeProvider">The clock for the timeout; the system clock when null.</param>
    public TcpChecker(CheckConnectionOptions connection, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connection = connection;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async ValueTask<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        using var deadline = new CheckDeadline(_connection.ConnectTimeout, _timeProvider, cancellationToken);
        try
        {
            using Socket socket = await SocketConnector.ConnectAsync(_connection, deadline.Token).ConfigureAwait(false);
            return CheckResult.Healthy("connected");
        }
        catch (OperationCanceledException) when (deadline.TimedOut)
        {
            return CheckResult.Unhealthy($"connect timed out after {_connection.ConnectTimeout.TotalSeconds:0.###}s");
        }
        catch (SocketException e)
        {
            return CheckResult.Unhealthy($"connect failed: {e.SocketErrorCode}");
        }
    }
}
