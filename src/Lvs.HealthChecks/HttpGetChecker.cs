using System.Buffers;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Lvs.HealthChecks;

/// <summary>
/// keepalived's <c>HTTP_GET</c> and <c>SSL_GET</c>: a GET of each URL on a new connection, checking the status code,
/// the body's MD5 digest (as <c>genhash</c> computes it) and a regular expression.
/// </summary>
/// <remarks>
/// HTTP is .NET's own <see cref="SocketsHttpHandler"/>. The connection is opened by this checker (so that it can be
/// bound to <c>bindto</c> and timed on the injected clock) and, for HTTPS, wrapped in an <see cref="SslStream"/>
/// whose server name and certificate validation follow the options. Every request carries <c>Connection: close</c>,
/// as keepalived opens a new connection per check: a check tests the server's accept path, not a pooled connection.
/// The request is keepalived's: <c>GET path HTTP/1.0</c> (or 1.1) with <c>User-Agent: KeepAliveClient</c> and the
/// Host header. The connection must complete within <see cref="CheckConnectionOptions.ConnectTimeout"/>, then the
/// whole response, body to its end as keepalived reads it whether or not a digest or regex is asked for, within
/// the same time again: a server that stalls in the middle of its body fails.
/// </remarks>
public sealed class HttpGetChecker : IHealthChecker, IDisposable
{
    private static readonly HttpRequestOptionsKey<CheckDeadline> DeadlineKey = new("Lvs.HealthChecks.Deadline");
    private static readonly HttpStatusCodeRange[] AnySuccess = [HttpStatusCodeRange.Success];

    private readonly CheckConnectionOptions _connection;
    private readonly HttpGetCheckOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly HttpMessageInvoker _client;
    private readonly Regex?[] _regexes;
    private readonly IReadOnlyList<HttpStatusCodeRange>[] _statusCodes;
    private readonly Uri _baseUri;

    /// <summary>Creates an HTTP or HTTPS checker.</summary>
    /// <param name="connection">Target, source and timeout.</param>
    /// <param name="options">URLs, host name, TLS settings.</param>
    /// <param name="timeProvider">The clock for the timeouts; the system clock when null.</param>
    /// <exception cref="ArgumentException">
    /// No URL is given, a path does not start with '/', a digest is not 32 hex digits, or a status code range is not
    /// within 100-599.
    /// </exception>
    public HttpGetChecker(CheckConnectionOptions connection, HttpGetCheckOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Urls.Count == 0)
        {
            throw new ArgumentException("At least one url is required.", nameof(options));
        }

        _regexes = new Regex?[options.Urls.Count];
        _statusCodes = new IReadOnlyList<HttpStatusCodeRange>[options.Urls.Count];
        for (int i = 0; i < options.Urls.Count; i++)
        {
            HttpUrlCheck url = options.Urls[i];
            if (!url.Path.StartsWith('/'))
            {
                throw new ArgumentException($"The path '{url.Path}' does not start with '/'.", nameof(options));
            }

            if (url.Digest is { } digest && (digest.Length != 32 || !digest.All(char.IsAsciiHexDigit)))
            {
                throw new ArgumentException($"The digest '{digest}' is not 32 hex digits (an MD5 as genhash prints it).", nameof(options));
            }

            foreach (HttpStatusCodeRange range in url.StatusCodes)
            {
                // default(HttpStatusCodeRange) and 'with' can bypass the range's own checks.
                if (range.First is < 100 or > 599 || range.Last is < 100 or > 599 || range.First > range.Last)
                {
                    throw new ArgumentException($"The status_code range {range.First}-{range.Last} of '{url.Path}' is not within 100-599.", nameof(options));
                }
            }

            // keepalived: a url without status_code accepts any 2xx.
            _statusCodes[i] = url.StatusCodes.Count == 0 ? AnySuccess : url.StatusCodes;

            // A bounded match time: a regex from a configuration file must not hang the monitor on a hostile body.
            _regexes[i] = url.Regex is null ? null : new Regex(url.Regex, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }

        _connection = connection;
        _options = options;
        _timeProvider = timeProvider ?? TimeProvider.System;
        var target = connection.GetTargetEndPoint();
        // Always plain http in the URI: TLS, when wanted, is done in ConnectAsync so that SNI and validation follow the options.
        _baseUri = new UriBuilder(Uri.UriSchemeHttp, target.Address.ToString(), target.Port).Uri;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = ConnectAsync,
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.Zero,
        };
        _client = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    /// <inheritdoc />
    public async ValueTask<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        for (int i = 0; i < _options.Urls.Count; i++)
        {
            CheckResult result = await CheckUrlAsync(_options.Urls[i], _statusCodes[i], _regexes[i], cancellationToken).ConfigureAwait(false);
            if (!result.IsHealthy)
            {
                return result;
            }
        }

        return CheckResult.Healthy(_options.Urls.Count == 1 ? "url passed" : $"{_options.Urls.Count} urls passed");
    }

    /// <summary>Closes the handler.</summary>
    public void Dispose() => _client.Dispose();

    private async ValueTask<CheckResult> CheckUrlAsync(HttpUrlCheck url, IReadOnlyList<HttpStatusCodeRange> statusCodes, Regex? regex, CancellationToken cancellationToken)
    {
        using var deadline = new CheckDeadline(_connection.ConnectTimeout, _timeProvider, cancellationToken);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_baseUri, url.Path))
        {
            Version = _options.HttpVersion,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.ConnectionClose = true;
        // keepalived's request template (check_http.h): the same User-Agent, so that servers' logs and rules see the same client.
        request.Headers.TryAddWithoutValidation("User-Agent", "KeepAliveClient");
        if ((url.VirtualHost ?? _options.VirtualHost) is { } host)
        {
            request.Headers.Host = host;
        }

        request.Options.Set(DeadlineKey, deadline);
        try
        {
            using HttpResponseMessage response = await _client.SendAsync(request, deadline.Token).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            if (!statusCodes.Any(range => range.Contains(status)))
            {
                return CheckResult.Unhealthy(string.Create(CultureInfo.InvariantCulture, $"{url.Path}: status {status}"));
            }

            // check_http.c reads the response to its end in every case: a body that stalls is a read timeout.
            (string? digest, string body) = await ReadBodyAsync(response.Content, url.Digest is not null, regex is not null, deadline.Token).ConfigureAwait(false);
            if (url.Digest is null && regex is null)
            {
                return CheckResult.Healthy("status ok");
            }

            if (url.Digest is not null && !string.Equals(digest, url.Digest, StringComparison.OrdinalIgnoreCase))
            {
                return CheckResult.Unhealthy($"{url.Path}: digest {digest}, expected {url.Digest.ToLowerInvariant()}");
            }

            if (regex is not null && regex.IsMatch(body) == url.RegexNoMatch)
            {
                return CheckResult.Unhealthy($"{url.Path}: body {(url.RegexNoMatch ? "matches" : "does not match")} /{url.Regex}/");
            }

            return CheckResult.Healthy("body ok");
        }
        catch (OperationCanceledException) when (deadline.TimedOut)
        {
            return CheckResult.Unhealthy($"{url.Path}: timed out after {_connection.ConnectTimeout.TotalSeconds:0.###}s");
        }
        catch (HttpRequestException e)
        {
            return CheckResult.Unhealthy($"{url.Path}: {Describe(e)}");
        }
        catch (IOException e)
        {
            // The body ended before its length or broke off (HttpIOException).
            return CheckResult.Unhealthy($"{url.Path}: reading the response failed: {e.Message}");
        }
        catch (RegexMatchTimeoutException)
        {
            return CheckResult.Unhealthy($"{url.Path}: regex match timed out");
        }
    }

    private async ValueTask<(string? Digest, string Body)> ReadBodyAsync(HttpContent content, bool digestBody, bool keepBody, CancellationToken cancellationToken)
    {
        // genhash's digest is the MD5 of the whole body, printed as lowercase hex. MD5 is what keepalived
        // configurations carry; it identifies content here, it protects nothing.
#pragma warning disable CA5351
        using IncrementalHash? md5 = digestBody ? IncrementalHash.CreateHash(HashAlgorithmName.MD5) : null;
#pragma warning restore CA5351
        using var kept = new MemoryStream();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            Stream stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                int read;
                while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    md5?.AppendData(buffer, 0, read);
                    if (keepBody && kept.Length < _options.MaxBodyBytes)
                    {
                        kept.Write(buffer, 0, (int)Math.Min(read, _options.MaxBodyBytes - kept.Length));
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        string? digest = md5 is null ? null : Convert.ToHexStringLower(md5.GetHashAndReset());
        // Latin-1 maps every byte to one char, so a regex sees the bytes whatever the body's charset.
        string body = keepBody ? Encoding.Latin1.GetString(kept.GetBuffer(), 0, (int)kept.Length) : string.Empty;
        return (digest, body);
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        Socket socket = await SocketConnector.ConnectAsync(_connection, cancellationToken).ConfigureAwait(false);
        var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            if (_options.UseTls)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                try
                {
                    await tls.AuthenticateAsClientAsync(CreateTlsOptions(), cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    await tls.DisposeAsync().ConfigureAwait(false);
                    throw;
                }

                RestartDeadline(context);
                return tls;
            }

            RestartDeadline(context);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void RestartDeadline(SocketsHttpConnectionContext context)
    {
        if (context.InitialRequestMessage.Options.TryGetValue(DeadlineKey, out CheckDeadline? deadline))
        {
            deadline.Restart(_connection.ConnectTimeout);
        }
    }

    private SslClientAuthenticationOptions CreateTlsOptions()
    {
        // An empty target host sends no SNI (keepalived sends none unless enable_sni).
        string serverName = _options.EnableSni ? _options.VirtualHost ?? string.Empty : string.Empty;
        bool verify = _options.VerifyCertificate;
        return new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            RemoteCertificateValidationCallback = (_, _, _, errors) =>
                !verify
                || errors == SslPolicyErrors.None
                // Without a server name there is no name to check: only the chain is verified.
                || (serverName.Length == 0 && errors == SslPolicyErrors.RemoteCertificateNameMismatch),
        };
    }

    private static string Describe(HttpRequestException e) => e.InnerException switch
    {
        SocketException socket => $"connect failed: {socket.SocketErrorCode}",
        System.Security.Authentication.AuthenticationException tls => $"TLS failed: {tls.Message}",
        IOException io => $"connection failed: {io.Message}",
        _ => e.HttpRequestError == HttpRequestError.Unknown ? e.Message : e.HttpRequestError.ToString(),
    };
}
