using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lvs.HealthChecks;

/// <summary>
/// Checks the real servers of virtual services on keepalived's schedule and tells an
/// <see cref="IRealServerHealthSink"/> what to do with the pools: keepalived's check daemon, as a library.
/// </summary>
/// <remarks>
/// <para>
/// Each checker of each server has its own timer on the injected <see cref="TimeProvider"/> and runs when it is due,
/// whatever other servers' checks are doing (keepalived has no global limit either): a thousand servers checked
/// every second cost a thousand timers and no thread each. Only <see cref="MiscChecker"/> commands, which cost a
/// process each, wait for one of <see cref="HealthMonitorOptions.MaxConcurrentMiscChecks"/> slots. A checker's loop
/// never dies: an unexpected exception (a checker's, a logger's, the sink's) is logged, counted in
/// <see cref="UnexpectedErrors"/>, and the checks go on.
/// </para>
/// <para>
/// The pool actions follow keepalived's ipwrapper.c: a server that goes down is removed (or, with
/// <c>inhibit_on_failure</c>, set to weight 0); one that comes up is added back (or set back) with its
/// configured weight or the one its dynamic check reported. Per virtual service, quorum is lost when the live
/// weight falls below quorum - hysteresis (or to 0) and regained when it reaches quorum + hysteresis; while it is
/// lost and a sorry server is configured, the live servers are taken out and the sorry server alone serves, and
/// server events leave the pool alone until quorum returns.
/// </para>
/// <para>
/// <see cref="Start"/> first reports the initial pool: every server that starts up (all of them, unless
/// <c>alpha</c>, or a <see cref="FileChecker"/> whose file said "fault" when it was read first) is added with its
/// weight, inhibited servers that start down are added with weight 0, then each
/// service's initial quorum state (adding the sorry server if quorum is not met).
/// </para>
/// </remarks>
public sealed class HealthMonitor : IAsyncDisposable
{
    private readonly IRealServerHealthSink _sink;
    private readonly HealthMonitorOptions _options;
    private readonly ILogger _logger;
    private readonly List<MonitoredVirtualService> _services = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _pendingChecks;
    private long _unexpectedErrors;
    private bool _started;
    private bool _stopped;

    /// <summary>Creates a monitor.</summary>
    /// <param name="sink">Receives the events (the director).</param>
    /// <param name="options">Clock, random source, MISC_CHECK process limit, logger.</param>
    public HealthMonitor(IRealServerHealthSink sink, HealthMonitorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _sink = sink;
        _options = options ?? new HealthMonitorOptions();
        _logger = _options.Logger ?? NullLogger.Instance;
        MiscConcurrency = new SemaphoreSlim(_options.MaxConcurrentMiscChecks, _options.MaxConcurrentMiscChecks);
    }

    /// <summary>The virtual services, in the order added (a copy).</summary>
    public IReadOnlyList<MonitoredVirtualService> VirtualServices
    {
        get
        {
            lock (Gate)
            {
                return [.. _services];
            }
        }
    }

    /// <summary>
    /// How many unexpected exceptions the monitor caught and logged so that its checks go on: exceptions thrown by
    /// checkers (each also counted as a failed check), by the sink, or by the logger.
    /// </summary>
    public long UnexpectedErrors => Interlocked.Read(ref _unexpectedErrors);

    internal Lock Gate { get; } = new();

    internal TimeProvider TimeProvider => _options.TimeProvider;

    internal SemaphoreSlim MiscConcurrency { get; }

    internal CancellationToken Stopping => _stopping.Token;

    /// <summary>Checks that are due and not finished (waiting for a slot or running); tests wait for 0 after moving a fake clock.</summary>
    internal int PendingChecks => Volatile.Read(ref _pendingChecks);

    /// <summary>Adds a virtual service; after <see cref="Start"/>, its initial quorum state is reported at once.</summary>
    /// <param name="options">Quorum, hysteresis, sorry server.</param>
    /// <returns>The service, to add real servers to.</returns>
    public MonitoredVirtualService AddVirtualService(VirtualServiceHealthOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            var service = new MonitoredVirtualService(this, options);
            _services.Add(service);
            if (_started)
            {
                StartService(service);
            }

            return service;
        }
    }

    /// <summary>
    /// Adds a real server to a service; after <see cref="Start"/>, its initial pool state is reported and its
    /// checks start at once (after their warmup).
    /// </summary>
    /// <param name="service">The service, from this monitor.</param>
    /// <param name="options">InetEndpoint, weight, inhibit_on_failure, checkers.</param>
    /// <returns>The server.</returns>
    /// <exception cref="ArgumentException">The service belongs to another monitor.</exception>
    public MonitoredRealServer AddRealServer(MonitoredVirtualService service, RealServerHealthOptions options)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(options);
        if (service.Monitor != this)
        {
            throw new ArgumentException("The service belongs to another monitor.", nameof(service));
        }

        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            var server = new MonitoredRealServer(service, options);
            service.Servers.Add(server);
            if (_started && service.Quorum is not null)
            {
                DateTimeOffset now = TimeProvider.GetUtcNow();
                ReportInitial(server, now);
                UpdateQuorum(service, now);
                StartChecks(server);
            }

            return server;
        }
    }

    /// <summary>
    /// Stops checking a real server and forgets it (the director removes it from its table itself); the
    /// service's quorum is re-evaluated without it.
    /// </summary>
    /// <param name="server">The server.</param>
    public void RemoveRealServer(MonitoredRealServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        lock (Gate)
        {
            if (server.Removed)
            {
                return;
            }

            server.Removed = true;
            foreach (MonitoredCheck check in server.Checks)
            {
                check.Stop();
            }

            MonitoredVirtualService service = server.Service;
            _ = service.Servers.Remove(server);
            if (_started && service.Quorum is not null)
            {
                UpdateQuorum(service, TimeProvider.GetUtcNow());
            }
        }
    }

    /// <summary>Stops checking a virtual service's real servers and forgets the service (a reload that removes it).</summary>
    /// <param name="service">The service, from this monitor.</param>
    public void RemoveVirtualService(MonitoredVirtualService service)
    {
        ArgumentNullException.ThrowIfNull(service);
        lock (Gate)
        {
            if (!_services.Remove(service))
            {
                return;
            }

            foreach (MonitoredRealServer server in service.Servers)
            {
                server.Removed = true;
                foreach (MonitoredCheck check in server.Checks)
                {
                    check.Stop();
                }
            }

            service.Servers.Clear();
        }
    }

    /// <summary>Reports the initial pools and quorum states, then starts every check after its warmup.</summary>
    /// <exception cref="InvalidOperationException">Already started.</exception>
    public void Start()
    {
        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            if (_started)
            {
                throw new InvalidOperationException("The monitor is already started.");
            }

            _started = true;
            foreach (MonitoredVirtualService service in _services)
            {
                StartService(service);
            }
        }
    }

    /// <summary>Stops every check and waits for the running ones to finish.</summary>
    /// <returns>A task that completes when no check runs any more.</returns>
    public async ValueTask DisposeAsync()
    {
        lock (Gate)
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            foreach (MonitoredVirtualService service in _services)
            {
                foreach (MonitoredRealServer server in service.Servers)
                {
                    foreach (MonitoredCheck check in server.Checks)
                    {
                        check.Stop();
                    }
                }
            }
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (Interlocked.Decrement(ref _pendingChecks) < 0)
        {
            // The decrement stands for the monitor itself: below zero means no check was running.
            _drained.TrySetResult();
        }

        await _drained.Task.ConfigureAwait(false);
        _stopping.Dispose();
        MiscConcurrency.Dispose();
    }

    internal bool TryEnterCheck(MonitoredCheck check)
    {
        lock (Gate)
        {
            if (_stopped)
            {
                return false;
            }

            if (RunAgainIfRunning(check))
            {
                return false;
            }

            check.Running = true;
            Interlocked.Increment(ref _pendingChecks);
            return true;
        }
    }

    /// <summary>
    /// Runs a check now instead of at its next due time (a <see cref="FileChecker"/>'s file changed: keepalived reads
    /// it on the inotify event); a check that is running runs again as soon as it completes.
    /// </summary>
    internal void Wake(MonitoredCheck check)
    {
        lock (Gate)
        {
            if (_stopped || !_started || check.Stopped || check.Server.Removed)
            {
                return;
            }

            if (!RunAgainIfRunning(check))
            {
                check.Reschedule(TimeSpan.Zero);
            }
        }
    }

    internal void ExitCheck()
    {
        if (Interlocked.Decrement(ref _pendingChecks) < 0)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>Applies a result: counts it, reports what changed, and arms the check's next run.</summary>
    internal void Complete(MonitoredCheck check, CheckResult result)
    {
        lock (Gate)
        {
            MonitoredRealServer server = check.Server;
            if (_stopped || server.Removed)
            {
                return;
            }

            DateTimeOffset now = TimeProvider.GetUtcNow();
            server.LastReason = result.Reason;
            check.Running = false;
            CheckTransition transition = check.State.Apply(result.IsHealthy, out TimeSpan next);
            MonitoredVirtualService service = server.Service;

            // keepalived's check_misc.c sets the dynamic weight before the checker's state is updated; exit 0
            // gives the configured weight back.
            int? reported = result.RestoresConfiguredWeight ? server.Options.Weight : result.Weight;
            if (result.IsHealthy && reported is int dynamic)
            {
                server.BaseWeight = dynamic;
            }

            // track_file.c process_update_checker_track_file_status: the checker's share of the weight follows the file,
            // and is dropped while the checker is in FAULT.
            check.WeightOffset = result.IsHealthy ? result.WeightOffset ?? check.WeightOffset : 0;
            int weight = server.ComputeEffectiveWeight();
            if (weight != server.EffectiveWeight)
            {
                server.EffectiveWeight = weight;
                if (server.IsUp && transition == CheckTransition.None)
                {
                    // ipwrapper.c update_svr_wgt: the table is edited only while the server is in the pool.
                    Report(new RealServerStateChange(server, true, weight, service.SorryServerActive ? PoolAction.None : PoolAction.SetWeight, $"weight set by check: {result.Reason}", now));
                    UpdateQuorum(service, now);
                }
            }

            if (transition == CheckTransition.WentDown && ++server.FailedChecks == 1)
            {
                ChangeServerState(server, false, result.Reason, now);
            }
            else if (transition == CheckTransition.WentUp && --server.FailedChecks == 0)
            {
                ChangeServerState(server, true, result.Reason, now);
            }

            check.Reschedule(TakeRunAgain(check) ? TimeSpan.Zero : next);
        }
    }

    /// <summary>
    /// Counts and logs an exception caught so that the checks go on; the logging itself is guarded, since a
    /// throwing logger is one of the things caught.
    /// </summary>
    internal void RecordUnexpectedError(Exception exception, UnexpectedErrorSource source, MonitoredRealServer? server = null)
    {
        Interlocked.Increment(ref _unexpectedErrors);
        try
        {
            switch (source)
            {
                case UnexpectedErrorSource.Sink:
                    HealthMonitorLog.SinkFailed(_logger, exception);
                    break;
                case UnexpectedErrorSource.Checker:
                    HealthMonitorLog.CheckerThrew(_logger, server!.Endpoint, server.Service, exception);
                    break;
                default:
                    HealthMonitorLog.UnexpectedError(_logger, source, exception);
                    break;
            }
        }
#pragma warning disable CA1031 // The logger's bug must not stop the health checks either.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Arms a check's next run after its loop caught an exception (so that the loop cannot die).</summary>
    internal void RescheduleAfterError(MonitoredCheck check)
    {
        lock (Gate)
        {
            check.Running = false;
            if (!_stopped && !check.Server.Removed)
            {
                check.Reschedule(TakeRunAgain(check) ? TimeSpan.Zero : check.State.Timing.DelayLoop);
            }
        }
    }

    /// <summary>
    /// One run of a check at a time: a check woken by its file (or falling due) while it runs is marked to run once more
    /// as soon as it completes (<see cref="TakeRunAgain"/>). Under the monitor's lock.
    /// </summary>
    /// <returns>True when the check is running (and is now marked).</returns>
    private static bool RunAgainIfRunning(MonitoredCheck check)
    {
        if (check.Running)
        {
            check.RunAgain = true;
        }

        return check.Running;
    }

    private static bool TakeRunAgain(MonitoredCheck check)
    {
        bool again = check.RunAgain;
        check.RunAgain = false;
        return again;
    }

    private void StartService(MonitoredVirtualService service)
    {
        DateTimeOffset now = TimeProvider.GetUtcNow();
        long live = LiveWeight(service);
        var quorum = new QuorumState(service.Options.Quorum, service.Options.Hysteresis, live);
        service.Quorum = quorum;
        bool sorry = !quorum.HasQuorum && service.Options.SorryServer is not null;
        service.Publish(live, quorum.HasQuorum, sorry);
        foreach (MonitoredRealServer server in service.Servers)
        {
            ReportInitial(server, now);
        }

        Report(new QuorumStateChange(service, quorum.HasQuorum, live, quorum.Threshold, sorry ? PoolAction.Add : PoolAction.None, now));
        foreach (MonitoredRealServer server in service.Servers)
        {
            StartChecks(server);
        }
    }

    private void ReportInitial(MonitoredRealServer server, DateTimeOffset now)
    {
        // ipwrapper.c init_service_rs: live servers enter the pool; inhibited ones enter it with weight 0 when
        // they start down, or when the sorry server stands in for the pool.
        bool inPool = server.IsUp && !server.Service.SorryServerActive;
        if (inPool)
        {
            Report(new RealServerStateChange(server, true, server.EffectiveWeight, PoolAction.Add, "initial state", now));
        }
        else if (server.Options.InhibitOnFailure)
        {
            Report(new RealServerStateChange(server, server.IsUp, 0, PoolAction.Add, "initial state", now));
        }
    }

    private void StartChecks(MonitoredRealServer server)
    {
        foreach (MonitoredCheck check in server.Checks)
        {
            TimeSpan warmup = check.State.Timing.Warmup;
            // check_api.c register_checkers_thread: a random delay up to warmup spreads the first checks.
            TimeSpan delay = warmup > TimeSpan.Zero ? TimeSpan.FromTicks((long)(warmup.Ticks * _options.Random.NextDouble())) : TimeSpan.Zero;
            check.Start(this, delay);
        }
    }

    private void ChangeServerState(MonitoredRealServer server, bool up, string reason, DateTimeOffset now)
    {
        server.IsUp = up;
        MonitoredVirtualService service = server.Service;
        int weight = server.EffectiveWeight;
        // ipwrapper.c perform_svr_state: the pool changes only while quorum holds or no sorry server stands in.
        (PoolAction action, int actionWeight) = service.SorryServerActive
            ? (PoolAction.None, weight)
            : PoolChange(server, up);
        Report(new RealServerStateChange(server, up, actionWeight, action, reason, now));
        UpdateQuorum(service, now);
    }

    private void UpdateQuorum(MonitoredVirtualService service, DateTimeOffset now)
    {
        QuorumState quorum = service.Quorum!;
        long live = LiveWeight(service);
        if (!quorum.Update(live))
        {
            service.Publish(live, quorum.HasQuorum, service.SorryServerActive);
            return;
        }

        if (quorum.HasQuorum)
        {
            // ipwrapper.c update_quorum_state: remove the sorry server, then put the live servers back.
            bool wasSorry = service.SorryServerActive;
            service.Publish(live, true, false);
            Report(new QuorumStateChange(service, true, live, quorum.Threshold, wasSorry ? PoolAction.Remove : PoolAction.None, now));
            if (wasSorry)
            {
                ReportLiveServers(service, up: true, "quorum regained", now);
            }

            return;
        }

        // Quorum lost: take the live servers out, then add the sorry server.
        bool useSorry = service.Options.SorryServer is not null && !service.SorryServerActive;
        if (useSorry)
        {
            ReportLiveServers(service, up: false, "quorum lost, sorry server in use", now);
        }

        service.Publish(live, false, service.SorryServerActive || useSorry);
        Report(new QuorumStateChange(service, false, live, quorum.Threshold, useSorry ? PoolAction.Add : PoolAction.None, now));
    }

    private void ReportLiveServers(MonitoredVirtualService service, bool up, string reason, DateTimeOffset now)
    {
        foreach (MonitoredRealServer server in service.Servers)
        {
            if (server.IsUp)
            {
                (PoolAction action, int weight) = PoolChange(server, up);
                Report(new RealServerStateChange(server, true, weight, action, reason, now));
            }
        }
    }

    /// <summary>ipvswrapper.c: with inhibit_on_failure, adding and deleting a destination become weight changes.</summary>
    private static (PoolAction Action, int Weight) PoolChange(MonitoredRealServer server, bool intoPool) =>
        (intoPool, server.Options.InhibitOnFailure) switch
        {
            (true, false) => (PoolAction.Add, server.EffectiveWeight),
            (true, true) => (PoolAction.SetWeight, server.EffectiveWeight),
            (false, false) => (PoolAction.Remove, server.EffectiveWeight),
            (false, true) => (PoolAction.SetWeight, 0),
        };

    private static long LiveWeight(MonitoredVirtualService service)
    {
        long total = 0;
        foreach (MonitoredRealServer server in service.Servers)
        {
            if (server.IsUp)
            {
                total += server.EffectiveWeight;
            }
        }

        return total;
    }

    private void Report(RealServerStateChange change)
    {
        try
        {
            HealthMonitorLog.RealServerChanged(_logger, change.Server.Endpoint, change.Server.Service, change.IsUp ? "up" : "down", change.Reason, change.Action, change.Weight);
        }
#pragma warning disable CA1031 // The logger's bug must not stop the health checks, nor the event.
        catch (Exception e)
#pragma warning restore CA1031
        {
            RecordUnexpectedError(e, UnexpectedErrorSource.Logger);
        }

        Deliver(change, static (sink, c) => sink.OnRealServerStateChanged(c));
    }

    private void Report(QuorumStateChange change)
    {
        try
        {
            HealthMonitorLog.QuorumChanged(_logger, change.Service, change.HasQuorum ? "has" : "lost", change.LiveWeight, change.Threshold, change.SorryServerAction);
        }
#pragma warning disable CA1031 // The logger's bug must not stop the health checks, nor the event.
        catch (Exception e)
#pragma warning restore CA1031
        {
            RecordUnexpectedError(e, UnexpectedErrorSource.Logger);
        }

        Deliver(change, static (sink, c) => sink.OnQuorumStateChanged(c));
    }

    private void Deliver<TChange>(TChange change, Action<IRealServerHealthSink, TChange> deliver)
    {
        try
        {
            deliver(_sink, change);
        }
#pragma warning disable CA1031 // The sink's bug must not stop the health checks.
        catch (Exception e)
#pragma warning restore CA1031
        {
            RecordUnexpectedError(e, UnexpectedErrorSource.Sink);
        }
    }
}
