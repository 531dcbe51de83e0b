using System.Globalization;
using DnsClient;

namespace Lvs.HealthChecks;

/// <summary>
/// keepalived's <c>DNS_CHECK</c>: one query over UDP to the server, healthy when a response comes back within
/// <see cref="CheckConnectionOptions.ConnectTimeout"/> with response code NOERROR (check_dns.c accepts any
/// NOERROR response, with or without answers; <see cref="DnsCheckOptions.RequireAnswer"/> asks for one more).
/// </summary>
/// <remarks>
/// The query is made by the DnsClient library (no hand-written DNS code), without cache, retries or TCP fallback,
/// so one check is one datagram. DnsClient cannot bind to a source address: <c>bindto</c>/<c>bind_port</c> are
/// rejected at construction rather than silently ignored.
/// </remarks>
public sealed class DnsChecker : IHealthChecker
{
    private readonly CheckConnectionOptions _connection;
    private readonly DnsCheckOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly LookupClient _client;
    private readonly QueryType _type;

    /// <summary>Creates a DNS checker.</summary>
    /// <param name="connection">Target and timeout.</param>
    /// <param name="options">Name and type queried.</param>
    /// <param name="timeProvider">The clock for the timeout; the system clock when null.</param>
    /// <exception cref="ArgumentException">The type is not a DNS record type, or a source address or port is given.</exception>
    public DnsChecker(CheckConnectionOptions connection, DnsCheckOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        if (!Enum.TryParse(options.Type, ignoreCase: true, out _type) || int.TryParse(options.Type, CultureInfo.InvariantCulture, out _))
        {
            throw new ArgumentException($"'{options.Type}' is not a DNS record type.", nameof(options));
        }

        if (connection.GetLocalEndPoint() is not null)
        {
            throw new ArgumentException("DNS_CHECK cannot bind to a source address (bindto/bind_port): the DNS client does not support it.", nameof(connection));
        }

        _connection = connection;
        _options = options;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _client = new LookupClient(new LookupClientOptions(connection.GetTargetEndPoint())
        {
            UseCache = false,
            Retries = 0,
            UseTcpFallback = false,
            ThrowDnsErrors = false,
            ContinueOnDnsError = false,
            ContinueOnEmptyResponse = false,
            Recursion = true,
            // Our deadline on the injected clock decides; the library's own timeout is only a backstop.
            Timeout = connection.ConnectTimeout + TimeSpan.FromSeconds(1),
        });
    }

    /// <inheritdoc />
    public async ValueTask<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        using var deadline = new CheckDeadline(_connection.ConnectTimeout, _timeProvider, cancellationToken);
        try
        {
            IDnsQueryResponse response = await _client.QueryAsync(_options.Name, _type, QueryClass.IN, deadline.Token).ConfigureAwait(false);
            if (response.HasError)
            {
                return CheckResult.Unhealthy($"{_options.Name} {_options.Type}: {response.ErrorMessage}");
            }

            return response.Answers.Count > 0 || !_options.RequireAnswer
                ? CheckResult.Healthy($"NOERROR, {response.Answers.Count} answers")
                : CheckResult.Unhealthy($"{_options.Name} {_options.Type}: no answer");
        }
        // DnsClient reports a cancelled query as its own timeout error: our deadline tells which it was.
        catch (Exception e) when (e is OperationCanceledException or DnsResponseException && deadline.TimedOut)
        {
            return CheckResult.Unhealthy($"no DNS answer within {_connection.ConnectTimeout.TotalSeconds:0.###}s");
        }
        catch (DnsResponseException e)
        {
            return CheckResult.Unhealthy($"DNS failed: {e.Code}");
        }
    }
}
