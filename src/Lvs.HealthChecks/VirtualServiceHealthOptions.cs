using Lvs.Core;

namespace Lvs.HealthChecks;

/// <summary>The health settings of one virtual service: keepalived's <c>quorum</c>, <c>hysteresis</c> and <c>sorry_server</c>.</summary>
/// <param name="Key">The virtual service.</param>
public sealed record VirtualServiceHealthOptions(VirtualServiceKey Key)
{
    /// <summary>The minimum total weight of live servers (keepalived <c>quorum</c>); 1 by default, as keepalived.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Less than 1 (keepalived rejects <c>quorum 0</c>).</exception>
    public long Quorum
    {
        get;
        init => field = OptionValidation.InRange(value, 1L, long.MaxValue, nameof(Quorum), "quorum");
    } = 1;

    /// <summary>How far the live weight must move past the quorum to change state (keepalived <c>hysteresis</c>); 0 by default.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public long Hysteresis
    {
        get;
        init => field = OptionValidation.InRange(value, 0L, long.MaxValue, nameof(Hysteresis), "hysteresis");
    }

    /// <summary>
    /// The server that takes all traffic while quorum is lost (keepalived <c>sorry_server</c>, ldirectord
    /// <c>fallback</c>), or null.
    /// </summary>
    public InetEndpoint? SorryServer { get; init; }
}
