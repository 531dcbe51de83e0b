using Microsoft.Extensions.Hosting;

namespace Lvs.Hosting;

/// <summary>Starts the neighbour resolver (announcements of every owned address, retries, expiry) with the host.</summary>
internal sealed class NeighborResolverService(LvsDirector director) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        director.Resolver.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        director.Resolver.Stop();
        return Task.CompletedTask;
    }
}
