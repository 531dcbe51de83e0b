namespace Lvs.HealthChecks;

/// <summary>
/// One checker of one real server on the monitor's clock: a one-shot timer re-armed after each check, so that
/// a thousand servers cost a thousand timers and no thread. The check runs when it is due; only a
/// <see cref="MiscChecker"/> first waits for one of the monitor's process slots. A <see cref="FileChecker"/>'s check
/// is also run at once when its file changes (keepalived's inotify watch), besides its timer.
/// </summary>
internal sealed class MonitoredCheck
{
    private ITimer? _timer;
    private IDisposable? _watch;

    public MonitoredCheck(MonitoredRealServer server, RealServerCheck check)
    {
        Server = server;
        Checker = check.Checker;
        State = new CheckStateMachine(check.Timing, check.StartsUp);
        if (check.Checker is FileChecker file && file.InitialResult.IsHealthy)
        {
            // track_file.c set_track_file_weights: the file's weight counts from the start.
            WeightOffset = file.InitialResult.WeightOffset ?? 0;
        }
    }

    public MonitoredRealServer Server { get; }

    public IHealthChecker Checker { get; }

    public CheckStateMachine State { get; }

    /// <summary>What this checker adds to the server's weight (<see cref="CheckResult.WeightOffset"/>). Under the monitor's lock.</summary>
    public int WeightOffset { get; set; }

    /// <summary>A check of this checker is due or running. Under the monitor's lock.</summary>
    public bool Running { get; set; }

    /// <summary>The file changed while a check ran: run again as soon as it completes. Under the monitor's lock.</summary>
    public bool RunAgain { get; set; }

    /// <summary>Stopped: no more waking. Under the monitor's lock.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Arms the first check, and watches a <see cref="FileChecker"/>'s file. Called under the monitor's lock.</summary>
    public void Start(HealthMonitor monitor, TimeSpan firstDelay)
    {
        // Created disarmed and armed once assigned, so that a check completing at once finds its timer.
        _timer = monitor.TimeProvider.CreateTimer(
            static state => ((MonitoredCheck)state!).OnDue(),
            this,
            Timeout.InfiniteTimeSpan,
            Timeout.InfiniteTimeSpan);
        if (Checker is FileChecker file)
        {
            try
            {
                _watch = file.Watch(OnFileChanged);
            }
            catch (Exception e) when (e is IOException or DllNotFoundException or EntryPointNotFoundException)
            {
                // No watch (its directory is gone, the inotify limits): the file is still read every delay_loop.
                monitor.RecordUnexpectedError(e, UnexpectedErrorSource.FileWatch, Server);
            }
        }

        _ = _timer.Change(firstDelay, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Arms the next check. Called under the monitor's lock, never after <see cref="Stop"/>.</summary>
    public void Reschedule(TimeSpan delay) => _timer?.Change(delay, Timeout.InfiniteTimeSpan);

    /// <summary>Stops the timer and the file watch. Called under the monitor's lock.</summary>
    public void Stop()
    {
        Stopped = true;
        _timer?.Dispose();
        _watch?.Dispose();
        _watch = null;
    }

    private void OnFileChanged()
    {
        HealthMonitor monitor = Server.Service.Monitor;
        try
        {
            monitor.Wake(this);
        }
#pragma warning disable CA1031 // Runs on the inotify thread: nothing may escape it; the timer still reads the file.
        catch (Exception e)
#pragma warning restore CA1031
        {
            monitor.RecordUnexpectedError(e, UnexpectedErrorSource.FileWatch, Server);
        }
    }

    private void OnDue()
    {
        HealthMonitor monitor = Server.Service.Monitor;
        if (!monitor.TryEnterCheck(this))
        {
            return;
        }

        _ = RunAsync(monitor);
    }

    private async Task RunAsync(HealthMonitor monitor)
    {
        CancellationToken stopping = monitor.Stopping;
        try
        {
            CheckResult result;
            MiscChecker? misc = Checker as MiscChecker;
            if (misc is not null)
            {
                // A process each: the one resource bounded (keepalived runs every script when due).
                await monitor.MiscConcurrency.WaitAsync(stopping).ConfigureAwait(false);
            }

            try
            {
                // misc_timeout 0 is the checker's delay_loop (check_misc.c).
                result = misc is not null
                    ? await misc.CheckAsync(State.Timing.DelayLoop, stopping).ConfigureAwait(false)
                    : await Checker.CheckAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A checker's bug is a failed check, not a dead monitor.
            catch (Exception e)
#pragma warning restore CA1031
            {
                monitor.RecordUnexpectedError(e, UnexpectedErrorSource.Checker, Server);
                result = CheckResult.Unhealthy($"check threw {e.GetType().Name}: {e.Message}");
            }
            finally
            {
                if (misc is not null)
                {
                    monitor.MiscConcurrency.Release();
                }
            }

            monitor.Complete(this, result);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The monitor stopped while this check waited for its turn.
        }
#pragma warning disable CA1031 // Whatever went wrong, the loop must go on: log, count, and check again after delay_loop.
        catch (Exception e)
#pragma warning restore CA1031
        {
            monitor.RecordUnexpectedError(e, UnexpectedErrorSource.CheckLoop, Server);
            monitor.RescheduleAfterError(this);
        }
        finally
        {
            monitor.ExitCheck();
        }
    }
}
