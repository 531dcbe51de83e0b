using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Lvs.HealthChecks;

/// <summary>
/// Reports a virtual service's health to ASP.NET health checks (<c>MapHealthChecks</c>): healthy when it has
/// quorum and every real server is up, degraded when it has quorum with some servers down, unhealthy when
/// quorum is lost (whether or not a sorry server stands in).
/// </summary>
/// <param name="service">The monitored service.</param>
public sealed class VirtualServiceHealthCheck(MonitoredVirtualService service) : IHealthCheck
{
    private readonly MonitoredVirtualService _service = service ?? throw new ArgumentNullException(nameof(service));

    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(Evaluate(_service, context?.Registration.FailureStatus ?? HealthStatus.Unhealthy));

    internal static HealthCheckResult Evaluate(MonitoredVirtualService service, HealthStatus failureStatus)
    {
        IReadOnlyList<MonitoredRealServer> servers = service.RealServers;
        int up = servers.Count(server => server.IsUp);
        var data = new Dictionary<string, object>
        {
            ["service"] = service.ToString(),
            ["realServers"] = servers.Count,
            ["realServersUp"] = up,
            ["liveWeight"] = service.LiveWeight,
            ["quorum"] = service.Options.Quorum,
            ["sorryServerActive"] = service.SorryServerActive,
        };
        string summary = $"{service}: {up}/{servers.Count} real servers up, live weight {service.LiveWeight}, quorum {service.Options.Quorum}";
        if (!service.HasQuorum)
        {
            return new HealthCheckResult(failureStatus, $"{summary}: quorum lost{(service.SorryServerActive ? ", sorry server in use" : string.Empty)}", data: data);
        }

        return up == servers.Count
            ? HealthCheckResult.Healthy(summary, data)
            : HealthCheckResult.Degraded(summary, data: data);
    }
}
