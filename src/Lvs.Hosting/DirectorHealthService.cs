using Microsoft.Extensions.Hosting;

namespace Lvs.Hosting;

/// <summary>Starts the health monitor's checks with the host and stops them when it stops.</summary>
internal sealed class DirectorHealthService(LvsDirector director) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        director.Health.Start();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await director.Health.DisposeAsync().ConfigureAwait(false);
}
