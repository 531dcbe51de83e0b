using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.HealthChecks;
using Lvs.Scheduling;

namespace Lvs.Director;

/// <summary>
/// The director's one model of services: virtual services and their real servers, what the kernel's
/// <c>ip_vs_ctl.c</c> keeps and ipvsadm edits. Schedulers, the connection table's server registry, the engine's routes
/// and the health monitor are all driven from it; a weight lives here and nowhere else.
/// </summary>
/// <remarks>
/// <para>
/// Edits (the ipvsadm verbs <c>-A -E -D -a -e -d -C</c> and health events) are serialised by one lock on the control
/// path and each publishes a new immutable <see cref="ServiceTableSnapshot"/>; packet threads read the current
/// snapshot with one volatile read and never wait for an edit. A snapshot is consistent: a service and its servers,
/// the scheduler's list and the lookup by address always agree.
/// </para>
/// <para>
/// As in the kernel, a real server added (or put back by its health check) goes to the head of its service's list,
/// and a real server deleted (or taken out by its health check) is only unlinked: it becomes unavailable for new
/// connections and persistence, its existing connections go on to their end (unless the connection table's
/// expire_nodest_conn is on), and adding the same endpoint back revives the same server with its counters
/// (<c>ip_vs_trash_get_dest</c>).
/// </para>
/// </remarks>
public sealed class ServiceTable
{
    private readonly Lock _gate = new();
    private readonly SchedulerRegistry _schedulers;
    private readonly SchedulerOptions _schedulerOptions;
    private readonly List<ServiceState> _services = [];
    private readonly Dictionary<RealServer, (ServiceState? Service, RealServerOptions Options)> _byServer = new(ReferenceEqualityComparer.Instance);
    private ServiceTableSnapshot _snapshot;
    private int _nextServiceIndex;
    private long _version;

    /// <summary>Creates an empty table.</summary>
    /// <param name="schedulers">The schedulers by name; null: the 14 IPVS schedulers.</param>
    /// <param name="schedulerOptions">Options every scheduler is created with (flags come from each service).</param>
    public ServiceTable(SchedulerRegistry? schedulers = null, SchedulerOptions? schedulerOptions = null)
    {
        _schedulers = schedulers ?? new SchedulerRegistry();
        _schedulerOptions = schedulerOptions ?? SchedulerOptions.Default;
        Registry = new RealServerRegistry();
        _snapshot = ServiceTableSnapshot.Empty;
    }

    /// <summary>Raised after each change, with the new snapshot, on the thread that made the change (still inside the table's lock: handlers must be quick and must not edit the table).</summary>
    public event Action<ServiceTableSnapshot>? Changed;

    /// <summary>Every real server the table ever created, by the index the connection table stores (the kernel's dest pointer).</summary>
    public RealServerRegistry Registry { get; }

    /// <summary>The current snapshot (one volatile read).</summary>
    public ServiceTableSnapshot Snapshot => Volatile.Read(ref _snapshot);

    /// <summary>Adds a virtual service (ipvsadm <c>-A</c>).</summary>
    /// <param name="options">The service.</param>
    /// <returns>The service as published.</returns>
    /// <exception cref="InvalidOperationException">The service exists ("Service already exists"), or its scheduler is unknown.</exception>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public VirtualService AddService(VirtualServiceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        lock (_gate)
        {
            if (Find(options.Key) is not null)
            {
                throw new InvalidOperationException($"Service already exists: {options.Key}.");
            }

            var state = new ServiceState(options, CreateScheduler(options), _nextServiceIndex++);
            _services.Add(state);
            return Publish(state)!;
        }
    }

    /// <summary>Changes a virtual service's options (ipvsadm <c>-E</c>): scheduler, flags, persistence, one-packet scheduling. Its real servers and connections stay.</summary>
    /// <param name="options">The new options; the key names the service.</param>
    /// <returns>The service as published.</returns>
    /// <exception cref="InvalidOperationException">No such service, or its scheduler is unknown.</exception>
    public VirtualService EditService(VirtualServiceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        lock (_gate)
        {
            var state = Find(options.Key) ?? throw NoSuchService(options.Key);
            if (options.Scheduler != state.Options.Scheduler || options.SchedulerFlags != state.Options.SchedulerFlags)
            {
                // The kernel binds the new scheduler and drops the old one's state (ip_vs_edit_service).
                state.Scheduler = CreateScheduler(options);
            }

            state.Options = options;
            return Publish(state)!;
        }
    }

    /// <summary>Deletes a virtual service and unlinks its real servers (ipvsadm <c>-D</c>); their connections go on to their end.</summary>
    /// <param name="key">The service.</param>
    /// <exception cref="InvalidOperationException">No such service.</exception>
    public void DeleteService(VirtualServiceKey key)
    {
        lock (_gate)
        {
            var state = Find(key) ?? throw NoSuchService(key);
            foreach (var server in state.Configured)
            {
                Unlink(server);
            }

            _ = _services.Remove(state);
            _ = Publish(null);
        }
    }

    /// <summary>Deletes every virtual service (ipvsadm <c>-C</c>).</summary>
    public void Clear()
    {
        lock (_gate)
        {
            foreach (var state in _services)
            {
                foreach (var server in state.Configured)
                {
                    Unlink(server);
                }
            }

            _services.Clear();
            _ = Publish(null);
        }
    }

    /// <summary>Adds a real server to a service (ipvsadm <c>-a</c>), at the head of the service's list, with its configured weight.</summary>
    /// <param name="service">The service.</param>
    /// <param name="options">The server.</param>
    /// <returns>The live server.</returns>
    /// <exception cref="InvalidOperationException">No such service, or the server exists ("Destination already exists").</exception>
    /// <exception cref="ArgumentException">The options are invalid for the service.</exception>
    public RealServer AddRealServer(VirtualServiceKey service, RealServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(service);
        lock (_gate)
        {
            var state = Find(service) ?? throw NoSuchService(service);
            if (state.Find(options.Endpoint) is not null)
            {
                throw new InvalidOperationException($"Destination already exists: {options.Endpoint} in {service}.");
            }

            var server = new ServerState(options, Revive(state, options));
            Apply(server.Live, options, options.Weight);
            state.Configured.Add(server);
            state.Pool.Insert(0, server);
            server.Live.IsAvailable = true;
            _ = Publish(state);
            return server.Live;
        }
    }

    /// <summary>Changes a real server's options (ipvsadm <c>-e</c>): weight, method, thresholds, tunnel settings. Its connections stay.</summary>
    /// <param name="service">The service.</param>
    /// <param name="options">The new options; the endpoint names the server.</param>
    /// <exception cref="InvalidOperationException">No such service or destination.</exception>
    public void EditRealServer(VirtualServiceKey service, RealServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(service);
        lock (_gate)
        {
            var state = Find(service) ?? throw NoSuchService(service);
            var server = state.Find(options.Endpoint) ?? throw NoSuchDestination(service, options.Endpoint);

            // The live weight follows the configured one unless a health event set it (inhibit_on_failure's 0, or a
            // misc_dynamic weight): then the next health event decides.
            int weight = server.HealthWeight ?? options.Weight;
            server.Options = options;
            Apply(server.Live, options, weight);
            _byServer[server.Live] = (state, options);
            _ = Publish(state);

            // The kernel's ip_vs_edit_dest calls the scheduler's upd_dest whatever changed (wrr restarts at the head).
            if (server.InPool)
            {
                state.Scheduler.ServerEdited(server.Live);
            }
        }
    }

    /// <summary>Deletes a real server from a service (ipvsadm <c>-d</c>); its connections go on to their end (unless expire_nodest_conn).</summary>
    /// <param name="service">The service.</param>
    /// <param name="endpoint">The server.</param>
    /// <exception cref="InvalidOperationException">No such service or destination.</exception>
    public void DeleteRealServer(VirtualServiceKey service, InetEndpoint endpoint)
    {
        lock (_gate)
        {
            var state = Find(service) ?? throw NoSuchService(service);
            var server = state.Find(endpoint) ?? throw NoSuchDestination(service, endpoint);
            Unlink(server);
            _ = state.Configured.Remove(server);
            _ = state.Pool.Remove(server);
            _ = Publish(state);
        }
    }

    /// <summary>
    /// Applies a health event to a configured real server, as keepalived's ipwrapper.c applies it to the kernel:
    /// <see cref="PoolAction.Add"/> puts the server back at the head of the list with the event's weight,
    /// <see cref="PoolAction.Remove"/> unlinks it (connections go on), <see cref="PoolAction.SetWeight"/> changes the
    /// live weight only (0: inhibited).
    /// </summary>
    /// <param name="service">The service.</param>
    /// <param name="endpoint">The server.</param>
    /// <param name="action">What to do.</param>
    /// <param name="weight">The event's weight.</param>
    /// <returns>False when the service or server is not (or no longer) configured, or nothing changed.</returns>
    public bool ApplyHealth(VirtualServiceKey service, InetEndpoint endpoint, PoolAction action, int weight)
    {
        lock (_gate)
        {
            var state = Find(service);
            var server = state?.Find(endpoint);
            if (state is null || server is null)
            {
                return false;
            }

            switch (action)
            {
                case PoolAction.Add:
                    server.HealthWeight = weight == server.Options.Weight ? null : weight;
                    server.Live.Weight = weight;
                    if (!server.InPool)
                    {
                        server.Live.IsAvailable = true;
                        state.Pool.Insert(0, server);
                    }

                    break;
                case PoolAction.Remove:
                    if (!server.InPool)
                    {
                        return false;
                    }

                    _ = state.Pool.Remove(server);
                    server.Live.IsAvailable = false;
                    break;
                case PoolAction.SetWeight:
                    server.HealthWeight = weight == server.Options.Weight ? null : weight;
                    server.Live.Weight = weight;
                    break;
                default:
                    return false;
            }

            _ = Publish(state);
            return true;
        }
    }

    /// <summary>
    /// Puts a sorry server in a service's pool (keepalived <c>sorry_server</c> when the quorum is lost) or takes it out.
    /// It is a real server like any other in the listing (at the head of the list), with weight 1 and the given method.
    /// </summary>
    /// <param name="service">The service.</param>
    /// <param name="sorryServer">The sorry server.</param>
    /// <param name="present">True to add it, false to remove it.</param>
    /// <returns>False when nothing changed.</returns>
    public bool SetSorryServer(VirtualServiceKey service, RealServerOptions sorryServer, bool present)
    {
        ArgumentNullException.ThrowIfNull(sorryServer);
        lock (_gate)
        {
            var state = Find(service);
            if (state is null)
            {
                return false;
            }

            var existing = state.Find(sorryServer.Endpoint);
            if (present)
            {
                if (existing is not null)
                {
                    return false;
                }

                sorryServer.Validate(service);
                var server = new ServerState(sorryServer, Revive(state, sorryServer)) { IsSorryServer = true };
                Apply(server.Live, sorryServer, sorryServer.Weight);
                server.Live.IsAvailable = true;
                state.Configured.Add(server);
                state.Pool.Insert(0, server);
            }
            else
            {
                if (existing is null || !existing.IsSorryServer)
                {
                    return false;
                }

                Unlink(existing);
                _ = state.Configured.Remove(existing);
                _ = state.Pool.Remove(existing);
            }

            _ = Publish(state);
            return true;
        }
    }

    /// <summary>Finds the service and configured options a registered real server belongs to (also after it was deleted).</summary>
    /// <param name="server">The server.</param>
    /// <param name="options">Its options when it was last configured.</param>
    /// <returns>True when the table created the server.</returns>
    public bool TryGetOptions(RealServer server, out RealServerOptions? options)
    {
        lock (_gate)
        {
            if (_byServer.TryGetValue(server, out var entry))
            {
                options = entry.Options;
                return true;
            }
        }

        options = null;
        return false;
    }

    private static void Apply(RealServer live, RealServerOptions options, int weight)
    {
        live.ForwardingMethod = options.Method;
        live.TunnelType = options.TunnelType;
        live.TunnelPort = options.TunnelPort;
        live.TunnelFlags = options.TunnelFlags;
        live.LowerThreshold = options.LowerThreshold;
        live.UpperThreshold = options.UpperThreshold;
        live.Weight = weight;
    }

    private static InvalidOperationException NoSuchService(VirtualServiceKey key) => new($"No such service: {key}.");

    private static InvalidOperationException NoSuchDestination(VirtualServiceKey key, InetEndpoint endpoint) =>
        new($"No such destination: {endpoint} in {key}.");

    private IScheduler CreateScheduler(VirtualServiceOptions options)
    {
        // The table's settings, with the service's own flags and family.
        var schedulerOptions = _schedulerOptions with
        {
            Flags = options.SchedulerFlags,
            ServiceAddressFamily = options.Key.IsIPv6 ? System.Net.Sockets.AddressFamily.InterNetworkV6 : System.Net.Sockets.AddressFamily.InterNetwork,
        };
        return _schedulers.TryCreate(options.Scheduler, schedulerOptions, out var scheduler)
            ? scheduler
            : throw new InvalidOperationException($"Scheduler not found: '{options.Scheduler}' (known: {string.Join(", ", _schedulers.Names)}).");
    }

    private ServiceState? Find(VirtualServiceKey key)
    {
        foreach (var state in _services)
        {
            if (state.Options.Key == key)
            {
                return state;
            }
        }

        return null;
    }

    /// <summary>The kernel's trash: the same endpoint in the same service gets its old server object (and registry index) back.</summary>
    private RealServer Revive(ServiceState state, RealServerOptions options)
    {
        if (state.Trash.Remove(options.Endpoint, out var old))
        {
            _byServer[old] = (state, options);
            return old;
        }

        var live = new RealServer(options.Endpoint, options.Weight, options.Method);
        _ = Registry.Register(live);
        _byServer[live] = (state, options);
        return live;
    }

    private void Unlink(ServerState server)
    {
        server.Live.IsAvailable = false;
        if (_byServer.TryGetValue(server.Live, out var entry) && entry.Service is { } state)
        {
            state.Trash[server.Options.Endpoint] = server.Live;
        }
    }

    private VirtualService? Publish(ServiceState? changed)
    {
        var services = new VirtualService[_services.Count];
        VirtualService? result = null;
        for (int i = 0; i < services.Length; i++)
        {
            var state = _services[i];
            if (ReferenceEquals(state, changed) || state.Published is null)
            {
                var pool = new RealServer[state.Pool.Count];
                for (int j = 0; j < pool.Length; j++)
                {
                    pool[j] = state.Pool[j].Live;
                }

                var configured = new ConfiguredRealServer[state.Configured.Count];
                for (int j = 0; j < configured.Length; j++)
                {
                    var server = state.Configured[j];
                    configured[j] = new ConfiguredRealServer(server.Options, server.Live, server.InPool) { IsSorryServer = server.IsSorryServer };
                }

                state.Scheduler.UpdateServers(pool);
                state.Published = new VirtualService(state.Options, state.Scheduler, state.Index, pool, configured);
            }

            services[i] = state.Published;
            if (ReferenceEquals(state, changed))
            {
                result = state.Published;
            }
        }

        var servers = new ServiceTableSnapshot.ServerEntry[Registry.Count];
        foreach (var (server, entry) in _byServer)
        {
            if (Registry.TryGetIndex(server, out int index))
            {
                servers[index] = new ServiceTableSnapshot.ServerEntry(server, entry.Options, entry.Service?.Index ?? -1, entry.Service?.Options.Key ?? default);
            }
        }

        var snapshot = new ServiceTableSnapshot(++_version, services, servers);
        Volatile.Write(ref _snapshot, snapshot);
        Changed?.Invoke(snapshot);
        return result;
    }

    private sealed class ServiceState(VirtualServiceOptions options, IScheduler scheduler, int index)
    {
        public VirtualServiceOptions Options { get; set; } = options;

        public IScheduler Scheduler { get; set; } = scheduler;

        public int Index { get; } = index;

        public List<ServerState> Configured { get; } = [];

        public List<ServerState> Pool { get; } = [];

        public Dictionary<InetEndpoint, RealServer> Trash { get; } = [];

        public VirtualService? Published { get; set; }

        public ServerState? Find(InetEndpoint endpoint)
        {
            foreach (var server in Configured)
            {
                if (server.Options.Endpoint == endpoint)
                {
                    return server;
                }
            }

            return null;
        }
    }

    private sealed class ServerState(RealServerOptions options, RealServer live)
    {
        public RealServerOptions Options { get; set; } = options;

        public RealServer Live { get; } = live;

        public int? HealthWeight { get; set; }

        public bool IsSorryServer { get; init; }

        public bool InPool => Live.IsAvailable;
    }
}
