using System.Buffers;
using System.Net.Sockets;

namespace Lvs.HealthChecks;

/// <summary>
/// keepalived's <c>UDP_CHECK</c>: sends a datagram from a connected UDP socket and waits up to
/// <see cref="CheckConnectionOptions.ConnectTimeout"/> for a reply.
/// </summary>
/// <remarks>
/// A connected socket is what makes a closed port visible: the kernel hands the ICMP port-unreachable back to
/// the next receive as ECONNREFUSED (udp(7)). Without <see cref="UdpCheckOptions.RequireReply"/>, silence within
/// the timeout counts as healthy, as in keepalived. Without a payload, 32 filler bytes are sent (keepalived sends a
/// filler buffer then too).
/// </remarks>
public sealed class UdpChecker : IHealthChecker
{
    // Sent when no payload is configured; keepalived sends a fixed buffer too, since an empty datagram is not sent by all stacks alike.
    private static readonly byte[] Filler = "keepalived UDP_CHECK from Lvs.HC"u8.ToArray();

    private readonly CheckConnectionOptions _connection;
    private readonly UdpCheckOptions _options;
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates a UDP checker.</summary>
    /// <param name="connection">Target, source and timeout.</param>
    /// <param name="options">Payload and reply rules.</param>
    /// <param name="timeProvider">The clock for the timeout; the system clock when null.</param>
    /// <exception cref="ArgumentException">The minimum reply length is above the maximum.</exception>
    public UdpChecker(CheckConnectionOptions connection, UdpCheckOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        if (options.MinReplyLength > options.MaxReplyLength)
        {
            // keepalived only warns that such a check "will always fail"; a check that cannot pass is a configuration error.
            throw new ArgumentException($"UdpCheckOptions.MinReplyLength (keepalived min_reply_length) {options.MinReplyLength} is above MaxReplyLength (max_reply_length) {options.MaxReplyLength}.", nameof(options));
        }

        _connection = connection;
        _options = options;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async ValueTask<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        var target = _connection.GetTargetEndPoint();
        using var socket = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        using var deadline = new CheckDeadline(_connection.ConnectTimeout, _timeProvider, cancellationToken);
        // One byte more than the longest acceptable reply, so that a longer one shows as too long, not as truncated.
        int capacity = _options.MaxReplyLength + 1;
        byte[] reply = ArrayPool<byte>.Shared.Rent(capacity);
        try
        {
            if (_connection.GetLocalEndPoint() is { } local)
            {
                socket.Bind(local);
            }

            await socket.ConnectAsync(target, deadline.Token).ConfigureAwait(false);
            ReadOnlyMemory<byte> payload = _options.Payload.IsEmpty ? Filler : _options.Payload;
            await socket.SendAsync(payload, SocketFlags.None, deadline.Token).ConfigureAwait(false);
            int length = await socket.ReceiveAsync(reply.AsMemory(0, capacity), SocketFlags.None, deadline.Token).ConfigureAwait(false);
            return Judge(reply.AsSpan(0, length));
        }
        catch (OperationCanceledException) when (deadline.TimedOut)
        {
            return _options.RequireReply
                ? CheckResult.Unhealthy($"no reply within {_connection.ConnectTimeout.TotalSeconds:0.###}s")
                : CheckResult.Healthy("no reply and no ICMP error");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return CheckResult.Unhealthy("port unreachable");
        }
        catch (SocketException e)
        {
            return CheckResult.Unhealthy($"UDP failed: {e.SocketErrorCode}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(reply);
        }
    }

    private CheckResult Judge(ReadOnlySpan<byte> reply)
    {
        if (reply.Length < _options.MinReplyLength || reply.Length > _options.MaxReplyLength)
        {
            return CheckResult.Unhealthy($"reply of {reply.Length} bytes, expected {_options.MinReplyLength} to {_options.MaxReplyLength}");
        }

        // check_udp.c compares over the lesser of the two lengths.
        ReadOnlySpan<byte> expected = _options.ExpectedReply.Span;
        int compared = Math.Min(reply.Length, expected.Length);
        return reply[..compared].SequenceEqual(expected[..compared])
            ? CheckResult.Healthy("reply received")
            : CheckResult.Unhealthy("reply does not match");
    }
}
