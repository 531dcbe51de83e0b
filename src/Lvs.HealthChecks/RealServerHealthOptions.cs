using Lvs.Core;

namespace Lvs.HealthChecks;

/// <summary>The health settings of one real server of a virtual service (a keepalived <c>real_server</c> block).</summary>
/// <param name="Endpoint">The real server.</param>
public sealed record RealServerHealthOptions(InetEndpoint Endpoint)
{
    /// <summary>The configured weight (keepalived <c>weight</c>, ipvsadm <c>-w</c>), restored on recovery; 1 by default.</summary>
    public int Weight
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, RealServer.MaxWeight);
            field = value;
        }
    } = 1;

    /// <summary>
    /// On failure set the weight to 0 instead of removing the server (keepalived <c>inhibit_on_failure</c>,
    /// ldirectord <c>quiescent = yes</c>): existing connections keep their server.
    /// </summary>
    public bool InhibitOnFailure { get; init; }

    /// <summary>The checkers; the server is up only while all of them are up (keepalived's <c>num_failed_checkers</c> = 0). None: always up.</summary>
    public IReadOnlyList<RealServerCheck> Checks { get; init; } = [];
}
