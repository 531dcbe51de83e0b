using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Lvs.HealthChecks;

/// <summary>
/// Reports the health of every virtual service of a monitor (a director's real-server health) to ASP.NET
/// health checks: the worst of the services' states, as <see cref="VirtualServiceHealthCheck"/> rates each one.
/// </summary>
/// <param name="monitor">The monitor.</param>
public sealed class HealthMonitorHealthCheck(HealthMonitor monitor) : IHealthCheck
{
    private readonly HealthMonitor _monitor = monitor ?? throw new ArgumentNullException(nameof(monitor));

    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        HealthStatus failureStatus = context?.Registration.FailureStatus ?? HealthStatus.Unhealthy;
        HealthCheckResult[] results = [.. _monitor.VirtualServices.Select(service => VirtualServiceHealthCheck.Evaluate(service, failureStatus))];
        HealthStatus worst = results.Length == 0 ? HealthStatus.Healthy : results.Min(result => result.Status);
        var data = new Dictionary<string, object>();
        foreach (HealthCheckResult result in results)
        {
            data[(string)result.Data["service"]] = result.Description ?? string.Empty;
        }

        int failing = results.Count(result => result.Status != HealthStatus.Healthy);
        string description = $"{results.Length} virtual services, {failing} not healthy";
        return Task.FromResult(new HealthCheckResult(worst, description, data: data));
    }
}
