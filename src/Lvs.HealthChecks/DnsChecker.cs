using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Lvs.HealthChecks;

/// <summary>
/// keepalived's <c>DNS_CHECK</c>: one query over UDP to the server, healthy when a response comes back within
/// <see cref="CheckConnectionOptions.ConnectTimeout"/> with response code NOERROR (check_dns.c accepts any
/// NOERROR response, with or without answers; <see cref="DnsCheckOptions.RequireAnswer"/> asks for one more).
/// </summary>
/// <remarks>
/// As check_dns.c: the query (a random ID, recursion desired, one question of <c>name</c>/<c>type</c>, class IN)
/// goes from a connected UDP socket, so that an ICMP port unreachable fails the check at once (ECONNREFUSED,
/// udp(7)) instead of at the timeout; replies too short to be DNS, with another transaction ID, or that are not
/// responses are skipped and the socket read again until the timeout. No exception leaves the check: every
/// outcome is a result. The message is 12 header bytes and a question, written here; only the header of the reply
/// is read.
/// </remarks>
public sealed class DnsChecker : IHealthChecker
{
    private const int HeaderLength = 12;

    // keepalived's DNS_TYPE table (check_dns.c), plus PTR and SRV.
    private static readonly Dictionary<string, ushort> Types = new(StringComparer.OrdinalIgnoreCase)
    {
        ["A"] = 1,
        ["NS"] = 2,
        ["CNAME"] = 5,
        ["SOA"] = 6,
        ["PTR"] = 12,
        ["MX"] = 15,
        ["TXT"] = 16,
        ["AAAA"] = 28,
        ["SRV"] = 33,
        ["RRSIG"] = 46,
        ["DNSKEY"] = 48,
    };

    private readonly CheckConnectionOptions _connection;
    private readonly DnsCheckOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly byte[] _question;

    /// <summary>Creates a DNS checker.</summary>
    /// <param name="connection">Target, source and timeout.</param>
    /// <param name="options">Name and type queried.</param>
    /// <param name="timeProvider">The clock for the timeout; the system clock when null.</param>
    /// <exception cref="ArgumentException">The type is not one keepalived knows, or the name is not a valid DNS name.</exception>
    public DnsChecker(CheckConnectionOptions connection, DnsCheckOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        if (!Types.TryGetValue(options.Type, out ushort type))
        {
            throw new ArgumentException($"DnsCheckOptions.Type (keepalived type) '{options.Type}' is not one of {string.Join(", ", Types.Keys)}.", nameof(options));
        }

        _question = EncodeQuestion(options.Name, type)
            ?? throw new ArgumentException($"DnsCheckOptions.Name (keepalived name) '{options.Name}' is not a DNS name (ASCII labels of 1 to 63 characters, 255 in all).", nameof(options));
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
        byte[] query = new byte[HeaderLength + _question.Length];
        ushort id = (ushort)Random.Shared.Next(0x10000);
        BinaryPrimitives.WriteUInt16BigEndian(query, id);
        query[2] = 0x01; // RD
        query[5] = 1;    // QDCOUNT
        _question.CopyTo(query, HeaderLength);
        byte[] reply = new byte[512];
        try
        {
            if (_connection.GetLocalEndPoint() is { } local)
            {
                socket.Bind(local);
            }

            await socket.ConnectAsync(target, deadline.Token).ConfigureAwait(false);
            await socket.SendAsync(query, SocketFlags.None, deadline.Token).ConfigureAwait(false);
            while (true)
            {
                int length = await socket.ReceiveAsync(reply, SocketFlags.None, deadline.Token).ConfigureAwait(false);
                // check_dns.c dns_recv_thread: too short, another ID, or not a response: read again.
                if (length < HeaderLength || BinaryPrimitives.ReadUInt16BigEndian(reply) != id || (reply[2] & 0x80) == 0)
                {
                    continue;
                }

                int rcode = reply[3] & 0x0F;
                if (rcode != 0)
                {
                    return CheckResult.Unhealthy(string.Create(CultureInfo.InvariantCulture, $"{_options.Name} {_options.Type}: response code {RcodeName(rcode)}"));
                }

                int answers = BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(6));
                return answers > 0 || !_options.RequireAnswer
                    ? CheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"NOERROR, {answers} answers"))
                    : CheckResult.Unhealthy($"{_options.Name} {_options.Type}: no answer");
            }
        }
        catch (OperationCanceledException) when (deadline.TimedOut)
        {
            return CheckResult.Unhealthy($"no DNS answer within {_connection.ConnectTimeout.TotalSeconds:0.###}s");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return CheckResult.Unhealthy("port unreachable");
        }
        catch (SocketException e)
        {
            return CheckResult.Unhealthy($"DNS failed: {e.SocketErrorCode}");
        }
    }

    private static string RcodeName(int rcode) => rcode switch
    {
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => rcode.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>QNAME, QTYPE and QCLASS IN (RFC 1035 4.1.2); null when the name is not valid.</summary>
    private static byte[]? EncodeQuestion(string name, ushort type)
    {
        if (name.Length == 0 || !Ascii.IsValid(name))
        {
            return null;
        }

        var question = new List<byte>(name.Length + 6);
        if (name != ".")
        {
            // A trailing dot names the same (absolute) name; any other empty label is invalid, as keepalived rejects it.
            string[] labels = (name.EndsWith('.') ? name[..^1] : name).Split('.');
            foreach (string label in labels)
            {
                if (label.Length is 0 or > 63)
                {
                    return null;
                }

                question.Add((byte)label.Length);
                question.AddRange(Encoding.ASCII.GetBytes(label));
            }
        }

        question.Add(0);
        if (question.Count > 255)
        {
            return null;
        }

        question.AddRange([(byte)(type >> 8), (byte)type, 0, 1]);
        return [.. question];
    }
}
