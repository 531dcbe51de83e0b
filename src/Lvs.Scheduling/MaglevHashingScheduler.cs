using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Maglev hashing (<c>mh</c>, the kernel's <c>ip_vs_mh.c</c>, after Eisenbud et al., NSDI 2016): the client's address
/// (and source port with <see cref="SchedulerFlags.Port"/>, ipvsadm <c>mh-port</c>) selects a slot of a prime-sized
/// lookup table (65537 by default) populated by Maglev's permutation rounds, with weights honoured.
/// </summary>
/// <remarks>
/// <para>
/// The table depends only on the servers' endpoints and weights, the table size and <see cref="SchedulerOptions.MaglevSeed"/>
/// (a fixed documented constant by default), never on insertion order or on the process: directors behind ECMP with the
/// same configuration pick the same server for every client without sharing state. Each server owns
/// floor(M/N) or ceil(M/N) slots when weights are equal; removing a server reassigns its slots and, as Maglev trades
/// for that balance, a small fraction of others (see docs/schedulers.md for the measured figures).
/// </para>
/// <para>
/// With <see cref="SchedulerOptions.MaglevKernelCompatible"/> the table and the flow hash are the kernel's own
/// (<c>hsiphash</c> under its fixed keys, list order, its table sizes), so it agrees with kernel directors instead.
/// </para>
/// <para>
/// As in the kernel, the table is built from each server's last weight above 0: setting a weight to 0 (quiescing, as a
/// health checker does) keeps the table, and only that server's clients are refused, or with
/// <see cref="SchedulerFlags.Fallback"/> (<c>mh-fallback</c>) rehashed around the table, while every other client
/// stays where it was. Overloaded and unavailable servers are treated the same way.
/// </para>
/// </remarks>
public sealed class MaglevHashingScheduler : IScheduler
{
    private readonly Lock _updateLock = new();
    private readonly int _size;
    private readonly ulong _seed;
    private readonly bool _port;
    private readonly bool _fallback;
    private readonly bool _kernel;
    private readonly System.Net.Sockets.AddressFamily _serviceFamily;
    private readonly Dictionary<InetEndpoint, int> _lastWeights = [];
    private Snapshot _snapshot = new([], []);

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">The options (<see cref="SchedulerOptions.MaglevTableSize"/>, <see cref="SchedulerOptions.MaglevSeed"/>,
    /// <see cref="SchedulerOptions.Flags"/>); null for the defaults.</param>
    /// <exception cref="ArgumentOutOfRangeException">The table size is not a prime above 2.</exception>
    public MaglevHashingScheduler(SchedulerOptions? options = null)
    {
        options ??= SchedulerOptions.Default;
        _kernel = options.MaglevKernelCompatible;
        _serviceFamily = options.ServiceAddressFamily;
        if (_kernel)
        {
            _size = options.MaglevTableSize == SchedulerOptions.DefaultMaglevTableSize ? KernelMaglevTable.DefaultSize : options.MaglevTableSize;
            if (!KernelMaglevTable.Sizes.Contains(_size))
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.MaglevTableSize, $"The kernel's mh table sizes are {string.Join(", ", KernelMaglevTable.Sizes.ToArray())}.");
            }
        }
        else if (options.MaglevTableSize < 3 || !MaglevTable.IsPrime(options.MaglevTableSize))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaglevTableSize, "The Maglev table size must be a prime above 2.");
        }
        else
        {
            _size = options.MaglevTableSize;
        }

        _seed = options.MaglevSeed;
        _port = (options.Flags & SchedulerFlags.Port) != 0;
        _fallback = (options.Flags & SchedulerFlags.Fallback) != 0;
    }

    /// <inheritdoc/>
    public string Name => SchedulerNames.MaglevHashing;

    /// <summary>The table size M.</summary>
    public int TableSize => _size;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">There are more servers than table slots.</exception>
    public void UpdateServers(IReadOnlyList<RealServer> servers)
    {
        var sorted = ServerSet.Copy(servers, sortByEndpoint: !_kernel);
        if (sorted.Length > _size)
        {
            throw new ArgumentException($"Maglev needs at most {_size} servers, the table size.", nameof(servers));
        }

        lock (_updateLock)
        {
            // The kernel's last_weight: a weight set to 0 keeps the table as it was, so quiescing moves nobody else.
            // Keyed by endpoint, a server's identity within its service: new objects for the same endpoints keep it.
            var weights = new int[sorted.Length];
            var present = new HashSet<InetEndpoint>();
            for (int i = 0; i < sorted.Length; i++)
            {
                var endpoint = sorted[i].Endpoint;
                present.Add(endpoint);
                int weight = sorted[i].Weight;
                if (weight > 0)
                {
                    _lastWeights[endpoint] = weight;
                }

                weights[i] = _lastWeights.GetValueOrDefault(endpoint);
            }

            foreach (var gone in _lastWeights.Keys.Where(s => !present.Contains(s)).ToList())
            {
                _lastWeights.Remove(gone);
            }

            var table = _kernel ? KernelMaglevTable.Build(sorted, weights, _size, _serviceFamily) : MaglevTable.Build(sorted, weights, _size, _seed);
            Volatile.Write(ref _snapshot, new Snapshot(sorted, table));
        }
    }

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        var table = snapshot.Table;
        if (table.Length == 0)
        {
            return null;
        }

        var address = flow.SourceAddress;
        ushort port = _port ? flow.SourcePort : (ushort)0;
        int slot = SlotOf(address, port, 0, table.Length);
        var server = snapshot.Servers[table[slot]];
        if (server.IsSchedulable)
        {
            return server;
        }

        return _fallback ? Fallback(snapshot, address, port, (uint)slot) : null;
    }

    /// <summary>The server index of every slot of the current table (for tests and tools).</summary>
    /// <returns>The slots' server indices into <see cref="CurrentServers"/>, empty when no server has a weight.</returns>
    internal int[] CurrentTable() => Volatile.Read(ref _snapshot).Table;

    /// <summary>The servers of the current table ordered by (address, port), or in list order with <see cref="SchedulerOptions.MaglevKernelCompatible"/>.</summary>
    /// <returns>The servers.</returns>
    internal RealServer[] CurrentServers() => Volatile.Read(ref _snapshot).Servers;

    private RealServer? Fallback(Snapshot snapshot, InetAddress address, ushort port, uint slot)
    {
        // ip_vs_mh_get_fallback: rehash with successive offsets from the first slot until a usable server comes up;
        // deterministic per client, so every director falls back the same way.
        bool any = false;
        foreach (var candidate in snapshot.Servers)
        {
            any |= candidate.IsSchedulable;
        }

        if (!any)
        {
            return null;
        }

        // The kernel's walk starts at offset 0 (a round that need not give the first slot again); the portable one at 1.
        var table = snapshot.Table;
        for (uint offset = _kernel ? 0u : 1u; offset < (uint)table.Length; offset++)
        {
            var server = snapshot.Servers[table[SlotOf(address, port, (offset + slot) % (uint)table.Length, table.Length)]];
            if (server.IsSchedulable)
            {
                return server;
            }
        }

        return null;
    }

    /// <summary>A client's slot in round <paramref name="round"/> (0 for the first lookup), by the kernel's hash or the portable one.</summary>
    private int SlotOf(InetAddress address, ushort port, uint round, int size) =>
        _kernel ? KernelMaglevTable.Slot(address, port, round, size) : MaglevTable.Slot(MaglevTable.FlowHash(address, port, round, _seed), size);

    private sealed class Snapshot(RealServer[] servers, int[] table)
    {
        public readonly RealServer[] Servers = servers;
        public readonly int[] Table = table;
    }
}
