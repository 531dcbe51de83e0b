namespace Lvs.HealthChecks;

/// <summary>
/// Options of keepalived's <c>HTTP_GET</c> and <c>SSL_GET</c> (ldirectord <c>checktype = negotiate</c> with
/// <c>service = http</c> or <c>https</c>).
/// </summary>
public sealed record HttpGetCheckOptions
{
    /// <summary>The URLs checked in turn; all must pass (keepalived's <c>url</c> blocks).</summary>
    public required IReadOnlyList<HttpUrlCheck> Urls { get; init; }

    /// <summary>The Host header (keepalived <c>virtualhost</c>, ldirectord <c>virtualhost</c>); the target's address and port when null.</summary>
    public string? VirtualHost { get; init; }

    /// <summary>True for HTTPS (keepalived <c>SSL_GET</c>, ldirectord <c>service = https</c>).</summary>
    public bool UseTls { get; init; }

    /// <summary>Sends <see cref="VirtualHost"/> as the TLS server name (keepalived <c>enable_sni</c>).</summary>
    public bool EnableSni { get; init; }

    /// <summary>
    /// Verifies the server's certificate chain, and its name against <see cref="VirtualHost"/> when SNI is enabled.
    /// Off by default, as in keepalived's <c>SSL_GET</c> (real servers often carry the VIP's certificate or a self-signed one).
    /// </summary>
    public bool VerifyCertificate { get; init; }

    /// <summary>
    /// The HTTP version sent (keepalived <c>http_protocol</c>: 1.0 or 1.1); 1.0 by default, as keepalived's request
    /// (<c>GET path HTTP/1.0</c> with <c>User-Agent: KeepAliveClient</c>).
    /// </summary>
    /// <exception cref="ArgumentException">Neither 1.0 nor 1.1.</exception>
    public Version HttpVersion
    {
        get;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value != System.Net.HttpVersion.Version10 && value != System.Net.HttpVersion.Version11)
            {
                throw new ArgumentException($"HttpVersion (keepalived http_protocol) must be 1.0 or 1.1, not {value}.", nameof(HttpVersion));
            }

            field = value;
        }
    } = System.Net.HttpVersion.Version10;

    /// <summary>
    /// How much of the body is kept for <see cref="HttpUrlCheck.Regex"/> (the digest covers the whole body, and the
    /// whole body is always read); 1 MiB by default.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public int MaxBodyBytes
    {
        get;
        init => field = OptionValidation.InRange(value, 0, int.MaxValue, nameof(MaxBodyBytes), "regex buffer");
    } = 1 << 20;
}
