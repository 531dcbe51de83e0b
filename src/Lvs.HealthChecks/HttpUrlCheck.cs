namespace Lvs.HealthChecks;

/// <summary>
/// One keepalived <c>url</c> block of <c>HTTP_GET</c>/<c>SSL_GET</c> (ldirectord <c>request</c>/<c>receive</c>):
/// the path requested and what the answer must satisfy. Every condition given must hold.
/// </summary>
/// <param name="Path">The path and query requested (keepalived <c>path</c>, ldirectord <c>request</c>), starting with '/'.</param>
public sealed record HttpUrlCheck(string Path)
{
    /// <summary>The accepted status codes (keepalived <c>status_code</c>); any 2xx when not set or empty, as keepalived.</summary>
    public IReadOnlyList<HttpStatusCodeRange> StatusCodes { get; init; } = [HttpStatusCodeRange.Success];

    /// <summary>
    /// The MD5 digest of the body as keepalived's <c>genhash</c> prints it (32 hex digits, case ignored), or null
    /// not to check the body's digest (keepalived <c>digest</c>).
    /// </summary>
    public string? Digest { get; init; }

    /// <summary>A regular expression the body must match (keepalived <c>regex</c>, ldirectord <c>receive</c>), or null.</summary>
    public string? Regex { get; init; }

    /// <summary>When true the body must NOT match <see cref="Regex"/> (keepalived <c>regex_no_match</c>).</summary>
    public bool RegexNoMatch { get; init; }

    /// <summary>The Host header for this URL only (keepalived <c>virtualhost</c> inside <c>url</c>); null uses the checker's.</summary>
    public string? VirtualHost { get; init; }
}
