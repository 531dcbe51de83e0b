using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lvs.Hosting;

/// <summary>
/// The engine's periodic work: <see cref="Director.DirectorEngine.Start"/> runs the connection table's expiry timer (every
/// second) and the rate estimator (every 2 seconds, as the kernel's estimation timer); and, with
/// <see cref="LvsDirectorOptions.StatsInterval"/>, the <c>ipvsadm -L -n --stats</c> table written periodically. The
/// engine's timers end when the director is disposed.
/// </summary>
internal sealed class DirectorHousekeepingService(LvsDirector director, TimeProvider time, ILoggerFactory loggerFactory) : IHostedService, IDisposable
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("Lvs.Hosting.Statistics");
    private ITimer? _statistics;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        director.Engine.Start();
        if (director.Options.StatsInterval is { } interval)
        {
            _statistics = time.CreateTimer(static state => ((DirectorHousekeepingService)state!).WriteStatistics(), this, interval, interval);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _statistics, null)?.Dispose();
    }

    private void WriteStatistics()
    {
        string table = director.ListStatistics();
        if (director.Setup.StatisticsWriter is { } writer)
        {
            writer(table);
        }
        else
        {
            HostingLog.Statistics(_logger, table);
        }
    }
}
