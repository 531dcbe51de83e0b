using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Source hashing (<c>sh</c>, the kernel's <c>ip_vs_sh.c</c>): the client's address (and source port with
/// <see cref="SchedulerFlags.Port"/>, ipvsadm <c>sh-port</c>) selects a bucket of a table of 2^bits buckets (256 by
/// default) filled with the servers, each taking as many consecutive buckets as its weight, round after round.
/// </summary>
/// <remarks>
/// <para>
/// When the bucket's server cannot take the connection the pick returns null, or with
/// <see cref="SchedulerFlags.Fallback"/> (<c>sh-fallback</c>) walks on around the table from the hashed bucket as the
/// kernel does. A server with weight 0 at rebuild time still holds one bucket, like the kernel, but is never returned.
/// </para>
/// <para>
/// The table is filled in the service's list order, as the kernel's (a new server at the head, see
/// <see cref="ServerList"/>), so rules imported from ipvsadm map every client as the kernel does. With
/// <see cref="SchedulerOptions.SortServersByEndpoint"/> it is filled in (address, port) order instead, so the mapping
/// depends only on the server set and two directors configured alike agree whatever order servers were added in.
/// </para>
/// </remarks>
public sealed class SourceHashingScheduler : IScheduler
{
    private readonly int _bits;
    private readonly bool _sortByEndpoint;
    private readonly bool _port;
    private readonly bool _fallback;
    private RealServer?[] _buckets;

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">The options (<see cref="SchedulerOptions.HashTableBits"/>, <see cref="SchedulerOptions.Flags"/>,
    /// <see cref="SchedulerOptions.SortServersByEndpoint"/>); null for the defaults.</param>
    /// <exception cref="ArgumentOutOfRangeException">The table size is outside 4 to 20 bits.</exception>
    public SourceHashingScheduler(SchedulerOptions? options = null)
    {
        options ??= SchedulerOptions.Default;
        _bits = KernelBucketHash.ValidateBits(options.HashTableBits);
        _sortByEndpoint = options.SortServersByEndpoint;
        _port = (options.Flags & SchedulerFlags.Port) != 0;
        _fallback = (options.Flags & SchedulerFlags.Fallback) != 0;
        _buckets = new RealServer?[1 << _bits];
    }

    /// <inheritdoc/>
    public string Name => SchedulerNames.SourceHashing;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers)
    {
        var ordered = ServerSet.Copy(servers, _sortByEndpoint);
        var buckets = new RealServer?[1 << _bits];
        if (ordered.Length > 0)
        {
            // ip_vs_sh_reassign: each server takes max(weight, 1) consecutive buckets, cycling through the servers.
            int server = 0;
            int taken = 0;
            int weight = ordered[0].Weight;
            for (int i = 0; i < buckets.Length; i++)
            {
                buckets[i] = ordered[server];
                if (++taken >= weight)
                {
                    server = server + 1 == ordered.Length ? 0 : server + 1;
                    weight = ordered[server].Weight;
                    taken = 0;
                }
            }
        }

        Volatile.Write(ref _buckets, buckets);
    }

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        var buckets = Volatile.Read(ref _buckets);
        uint key = KernelBucketHash.Fold(flow.SourceAddress) + (_port ? flow.SourcePort : 0u);
        uint mask = (uint)buckets.Length - 1;
        uint hash = KernelBucketHash.Hash32(key, _bits);
        var server = buckets[hash];
        if (server is null || server.IsSchedulable)
        {
            return server;
        }

        return _fallback ? Fallback(buckets, hash, mask) : null;
    }

    private static RealServer? Fallback(RealServer?[] buckets, uint hash, uint mask)
    {
        // ip_vs_sh_get_fallback: offsets from the original hash, so the walk is deterministic per client.
        for (uint offset = 0; offset < (uint)buckets.Length; offset++)
        {
            uint shifted = (offset + hash) & mask;
            var server = buckets[(shifted + hash) & mask];
            if (server is null)
            {
                return null;
            }

            if (server.IsSchedulable)
            {
                return server;
            }
        }

        return null;
    }
}
