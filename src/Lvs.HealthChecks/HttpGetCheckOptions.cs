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

    /// <summary>The HTTP version sent (keepalived <c>http_protocol</c>: 1.0 or 1.1); 1.1 by default.</summary>
    public Version HttpVersion { get; init; } = System.Net.HttpVersion.Version11;

    /// <summary>
    /// How much of the body is kept for <see cref="HttpUrlCheck.Regex"/> (the digest covers the whole body); 1 MiB
    /// by default.
    /// </summary>
    public int MaxBodyBytes { get; init; } = 1 << 20;
}
