using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Lvs.HealthChecks;

/// <summary>
/// keepalived's <c>SMTP_CHECK</c>: connects, requires the greeting 220, sends <c>HELO</c>
/// <see cref="SmtpCheckOptions.HeloName"/>, requires 250, sends <c>QUIT</c>, waits for its reply and closes.
/// </summary>
/// <remarks>
/// <para>
/// As check_smtp.c (<c>smtp_engine_thread</c>): the greeting's code must be 220 and the HELO reply's 250, any other
/// code or a line that does not start with a code fails the check; the reply to QUIT must come (a connection
/// closed or silent instead fails) but its code is not judged. A connection closed before a reply line ends fails.
/// The target is the real server's address and port unless <c>connect_ip</c>/<c>connect_port</c> say otherwise;
/// when the real server has no port (port 0, a fwmark service), port 25 (<see cref="DefaultPort"/>).
/// </para>
/// <para>
/// <see cref="CheckConnectionOptions.ConnectTimeout"/> applies to the connection and again to each later step (read
/// the greeting, send HELO, read its reply, send QUIT, read its reply), as keepalived arms <c>connect_timeout</c>
/// for each read and write. keepalived re-arms it on each read even when the line is not complete; here a whole
/// reply must come within it, so a server that trickles bytes cannot hold a check forever.
/// </para>
/// <para>
/// One deliberate difference: a multi-line reply (RFC 5321 4.2.1: <c>220-first</c> ... <c>220 last</c>) is read
/// to its last line and counts with its code, where keepalived looks at its first line only and fails it
/// (<c>220-</c> is not <c>220 </c>); a bare code (<c>220</c> CRLF) is accepted as RFC 5321 allows. Lines longer
/// than 512 bytes are read to their end and judged by their start. No exception leaves the check: every outcome
/// is a result.
/// </para>
/// </remarks>
public sealed class SmtpChecker : IHealthChecker
{
    /// <summary>The port checked when neither <c>connect_port</c> nor the real server gives one: SMTP's, 25.</summary>
    public const ushort DefaultPort = 25;

    // RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with its CRLF; keepalived's buffer (SMTP_BUFF_MAX) too.
    private const int MaxLineLength = 512;

    // How much of a bad reply a result's reason quotes.
    private const int QuotedLength = 80;

    private readonly CheckConnectionOptions _connection;
    private readonly TimeProvider _timeProvider;
    private readonly byte[] _helo;

    /// <summary>Creates an SMTP checker.</summary>
    /// <param name="connection">Target, source and timeout.</param>
    /// <param name="options">The HELO name.</param>
    /// <param name="timeProvider">The clock for the timeouts; the system clock when null.</param>
    public SmtpChecker(CheckConnectionOptions connection, SmtpCheckOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        _connection = connection.ConnectPort is null && connection.RealServer.Port == 0
            ? connection with { ConnectPort = DefaultPort }
            : connection;
        _helo = Encoding.ASCII.GetBytes($"HELO {options.HeloName}\r\n");
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The endpoint checked: <c>connect_ip</c>/<c>connect_port</c>, else the real server's, with port 25 when it has none.</summary>
    public Lvs.Core.InetEndpoint Target => _connection.Target;

    /// <inheritdoc />
    public async ValueTask<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        TimeSpan timeout = _connection.ConnectTimeout;
        using var deadline = new CheckDeadline(timeout, _timeProvider, cancellationToken);
        string step = "connect";
        try
        {
            using Socket socket = await SocketConnector.ConnectAsync(_connection, deadline.Token).ConfigureAwait(false);
            var reader = new LineReader(socket);

            step = "greeting";
            deadline.Restart(timeout);
            Reply greeting = await ReadReplyAsync(reader, deadline.Token).ConfigureAwait(false);
            if (greeting.Code != 220)
            {
                return Bad(step, greeting, 220);
            }

            step = "HELO";
            deadline.Restart(timeout);
            await SendAsync(socket, _helo, deadline.Token).ConfigureAwait(false);
            deadline.Restart(timeout);
            Reply helo = await ReadReplyAsync(reader, deadline.Token).ConfigureAwait(false);
            if (helo.Code != 250)
            {
                return Bad(step, helo, 250);
            }

            step = "QUIT";
            deadline.Restart(timeout);
            await SendAsync(socket, "QUIT\r\n"u8.ToArray(), deadline.Token).ConfigureAwait(false);
            deadline.Restart(timeout);
            // check_smtp.c waits for a line after QUIT and does not judge it.
            if (await reader.ReadLineAsync(deadline.Token).ConfigureAwait(false) is null)
            {
                return CheckResult.Unhealthy("QUIT: connection closed before the reply");
            }

            return CheckResult.Healthy("HELO accepted");
        }
        catch (OperationCanceledException) when (deadline.TimedOut)
        {
            return CheckResult.Unhealthy(string.Create(CultureInfo.InvariantCulture, $"{step}: timed out after {timeout.TotalSeconds:0.###}s"));
        }
        catch (SocketException e)
        {
            return CheckResult.Unhealthy($"{step} failed: {e.SocketErrorCode}");
        }
    }

    private static async ValueTask SendAsync(Socket socket, ReadOnlyMemory<byte> line, CancellationToken cancellationToken)
    {
        while (!line.IsEmpty)
        {
            int sent = await socket.SendAsync(line, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            line = line[sent..];
        }
    }

    /// <summary>
    /// One reply (RFC 5321 4.2): lines <c>ddd-text</c> continue it, a line <c>ddd text</c> or <c>ddd</c> ends it.
    /// Code -1: a line without a code, or a continuation with another code; Line null: the connection closed first.
    /// </summary>
    private static async ValueTask<Reply> ReadReplyAsync(LineReader reader, CancellationToken cancellationToken)
    {
        int first = -1;
        while (true)
        {
            string? line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (line is null)
            {
                return new Reply(-1, null);
            }

            bool hasCode = line.Length >= 3 && char.IsAsciiDigit(line[0]) && char.IsAsciiDigit(line[1]) && char.IsAsciiDigit(line[2])
                && (line.Length == 3 || line[3] is ' ' or '-');
            int code = hasCode ? int.Parse(line.AsSpan(0, 3), CultureInfo.InvariantCulture) : -1;
            if (!hasCode || (first >= 0 && code != first))
            {
                return new Reply(-1, line);
            }

            first = code;
            if (line.Length == 3 || line[3] == ' ')
            {
                return new Reply(code, line);
            }
        }
    }

    private static CheckResult Bad(string step, Reply reply, int expected)
    {
        if (reply.Line is null)
        {
            return CheckResult.Unhealthy($"{step}: connection closed before the reply");
        }

        string quoted = reply.Line.Length > QuotedLength ? reply.Line[..QuotedLength] + "..." : reply.Line;
        quoted = string.Create(quoted.Length, quoted, static (span, source) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = char.IsControl(source[i]) ? '?' : source[i];
            }
        });
        return CheckResult.Unhealthy(string.Create(CultureInfo.InvariantCulture, $"{step}: reply '{quoted}', expected {expected}"));
    }

    private readonly record struct Reply(int Code, string? Line);

    /// <summary>Reads CRLF- (or LF-) terminated lines from the socket, keeping what follows a line for the next.</summary>
    private sealed class LineReader(Socket socket)
    {
        private readonly byte[] _buffer = new byte[1024];
        private int _start;
        private int _end;

        /// <summary>The next line without its line end (its first 512 bytes, as Latin-1); null when the connection closes first.</summary>
        public async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken)
        {
            var line = new List<byte>();
            while (true)
            {
                int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                int stop = newline >= 0 ? newline : _end;
                line.AddRange(_buffer.AsSpan(_start, Math.Min(stop - _start, Math.Max(0, MaxLineLength - line.Count))));
                if (newline >= 0)
                {
                    _start = newline + 1;
                    int length = line.Count > 0 && line[^1] == '\r' ? line.Count - 1 : line.Count;
                    return Encoding.Latin1.GetString(CollectionsMarshal.AsSpan(line)[..length]);
                }

                _start = _end = 0;
                int read = await socket.ReceiveAsync(_buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return null;
                }

                _end = read;
            }
        }
    }
}
