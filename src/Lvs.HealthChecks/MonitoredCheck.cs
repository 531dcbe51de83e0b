namespace Lvs.HealthChecks;

/// <summary>
/// One checker of one real server on the monitor's clock: a one-shot timer re-armed after each check, so that
/// a thousand servers cost a thousand timers and no thread. The check runs when it is due; only a
/// <see cref="MiscChecker"/> first waits for one of the monitor's process slots.
/// </summary>
internal sealed class MonitoredCheck(MonitoredRealServer server, RealServerCheck check)
{
    private ITimer? _timer;

    public MonitoredRealServer Server { get; } = server;

    public IHealthChecker Checker { get; } = check.Checker;

    public CheckStateMachine State { get; } = new(check.Timing);

    /// <summary>Arms the first check. Called under the monitor's lock.</summary>
    public void Start(HealthMonitor monitor, TimeSpan firstDelay)
    {
        // Created disarmed and armed once assigned, so that a check completing at once finds its timer.
        _timer = monitor.TimeProvider.CreateTimer(
            static state => ((MonitoredCheck)state!).OnDue(),
            this,
            Timeout.InfiniteTimeSpan,
            Timeout.InfiniteTimeSpan);
        _ = _timer.Change(firstDelay, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Arms the next check. Called under the monitor's lock, never after <see cref="Stop"/>.</summary>
    public void Reschedule(TimeSpan delay) => _timer?.Change(delay, Timeout.InfiniteTimeSpan);

    /// <summary>Stops the timer. Called under the monitor's lock.</summary>
    public void Stop() => _timer?.Dispose();

    private void OnDue()
    {
        HealthMonitor monitor = Server.Service.Monitor;
        if (!monitor.TryEnterCheck())
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
