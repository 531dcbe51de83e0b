namespace Lvs.HealthChecks;

/// <summary>The outcome of one check of one real server: healthy or not, why, and optionally a new weight.</summary>
/// <param name="IsHealthy">True when the server passed the check.</param>
/// <param name="Reason">Why, in words a log line can carry ("connected", "status 503", "timed out after 5s").</param>
/// <param name="Weight">
/// A weight reported by the check for a healthy server (keepalived's <c>misc_dynamic</c>: exit status 2..255 sets
/// the weight to status - 2); null leaves the weight as it is.
/// </param>
public readonly record struct CheckResult(bool IsHealthy, string Reason, int? Weight = null)
{
    /// <summary>A passed check.</summary>
    /// <param name="reason">Why the server is considered healthy.</param>
    /// <returns>The result.</returns>
    public static CheckResult Healthy(string reason) => new(true, reason);

    /// <summary>A passed check that also sets the server's weight (keepalived's <c>misc_dynamic</c>).</summary>
    /// <param name="weight">The new weight, 0 to <see cref="Lvs.Core.RealServer.MaxWeight"/>.</param>
    /// <param name="reason">Why the server is considered healthy.</param>
    /// <returns>The result.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The weight is negative or too large.</exception>
    public static CheckResult HealthyWithWeight(int weight, string reason)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(weight);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(weight, Lvs.Core.RealServer.MaxWeight);
        return new(true, reason, weight);
    }

    /// <summary>
    /// True when the check asks for the server's configured weight back (keepalived's check_misc.c: a
    /// <c>misc_dynamic</c> script exiting 0 restores <c>weight</c>); <see cref="Weight"/> is then null.
    /// </summary>
    public bool RestoresConfiguredWeight { get; init; }

    /// <summary>A passed check that gives the server its configured weight back (keepalived's <c>misc_dynamic</c> exit 0).</summary>
    /// <param name="reason">Why the server is considered healthy.</param>
    /// <returns>The result.</returns>
    public static CheckResult HealthyWithConfiguredWeight(string reason) => new(true, reason) { RestoresConfiguredWeight = true };

    /// <summary>
    /// What this checker adds to the server's weight, replacing what its previous result added (keepalived's
    /// <c>FILE_CHECK</c> with a non-zero weight: the file's value times the weight); null leaves the checker's offset as
    /// it is. The server's weight is its configured (or dynamic) weight plus the offsets of its checkers, clamped to 0 ..
    /// <see cref="Lvs.Core.RealServer.MaxWeight"/> (keepalived's <c>real_weight</c>). A failed result drops the
    /// checker's offset to 0, as keepalived does when a tracked file puts its checker in FAULT.
    /// </summary>
    public int? WeightOffset { get; init; }

    /// <summary>A passed check that adds <paramref name="offset"/> to the server's configured weight (keepalived's <c>FILE_CHECK</c>).</summary>
    /// <param name="offset">The offset, negative or positive; it replaces this checker's previous offset.</param>
    /// <param name="reason">Why the server is considered healthy.</param>
    /// <returns>The result.</returns>
    public static CheckResult HealthyWithWeightOffset(int offset, string reason) => new(true, reason) { WeightOffset = offset };

    /// <summary>A failed check.</summary>
    /// <param name="reason">Why the server is considered unhealthy.</param>
    /// <returns>The result.</returns>
    public static CheckResult Unhealthy(string reason) => new(false, reason);
}
