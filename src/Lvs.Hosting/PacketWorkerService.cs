using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lvs.Hosting;

/// <summary>
/// Runs the packet threads: one per queue index (<see cref="LvsDirectorOptions.Workers"/>, at most the fewest queues of
/// any link), each a dedicated thread running a <see cref="PacketWorkerLoop"/>. Stopping cancels them and waits for
/// each to send what it queued and end.
/// </summary>
internal sealed class PacketWorkerService(LvsDirector director, TimeProvider time, IHostApplicationLifetime lifetime, ILoggerFactory loggerFactory) : IHostedService, IDisposable
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("Lvs.Hosting");
    private readonly List<Thread> _threads = [];
    private CancellationTokenSource? _stopping;

    /// <summary>The packet threads (for tests: none is alive after <see cref="StopAsync"/>).</summary>
    internal IReadOnlyList<Thread> Threads => _threads;

    /// <summary>The loops (for tests).</summary>
    internal List<PacketWorkerLoop> Loops { get; } = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        int workers = director.Options.Workers;
        foreach (var link in director.Links)
        {
            if (link.QueueCount < workers)
            {
                HostingLog.FewerQueues(_logger, workers, link.Name, link.QueueCount);
                workers = link.QueueCount;
            }
        }

        _stopping = new CancellationTokenSource();
        var token = _stopping.Token;
        for (int i = 0; i < workers && director.Links.Count > 0; i++)
        {
            var loop = new PacketWorkerLoop(i, director.Engine, director.Links, director.Resolver, director.Options, time);
            Loops.Add(loop);
            var thread = new Thread(() => Run(loop, token)) { IsBackground = true, Name = $"lvs-worker-{i}" };
            _threads.Add(thread);
        }

        foreach (var thread in _threads)
        {
            thread.Start();
        }

        HostingLog.Started(_logger, director.Table.Snapshot.Services.Count, director.Links.Count, _threads.Count);
        director.NameSchedulersSharingState(_threads.Count);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping is null)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        for (int i = 0; i < _threads.Count; i++)
        {
            var thread = _threads[i];
            while (!thread.Join(10))
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    HostingLog.WorkerDidNotStop(_logger, i);
                    break;
                }

                await Task.Yield();
            }
        }

        _stopping.Dispose();
        _stopping = null;
    }

    public void Dispose()
    {
        _stopping?.Dispose();
        _stopping = null;
    }

    private void Run(PacketWorkerLoop loop, CancellationToken token)
    {
        try
        {
            loop.Run(token);
        }
#pragma warning disable CA1031 // A packet thread that fails takes the host down with it, logged: nothing is swallowed.
        catch (Exception e)
#pragma warning restore CA1031
        {
            HostingLog.WorkerFailed(_logger, loop.Index, e);
            lifetime.StopApplication();
        }
    }
}
