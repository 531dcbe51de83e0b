namespace Lvs.HealthChecks;

/// <summary>Options of keepalived's <c>DNS_CHECK</c> (ldirectord <c>service = dns</c>).</summary>
public sealed record DnsCheckOptions
{
    /// <summary>The name queried (keepalived <c>name</c>, ldirectord <c>request</c>); the root "." by default, as keepalived.</summary>
    public string Name { get; init; } = ".";

    /// <summary>
    /// The record type queried (keepalived <c>type</c>: A, NS, CNAME, SOA, MX, TXT, AAAA, ...); SOA by default, as keepalived.
    /// </summary>
    public string Type { get; init; } = "SOA";

    /// <summary>
    /// Also require at least one answer record. keepalived accepts any NOERROR response (an empty answer proves
    /// the server runs but not that it serves the zone); off by default, as keepalived.
    /// </summary>
    public bool RequireAnswer { get; init; }
}
