using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Destination hashing (<c>dh</c>, the kernel's <c>ip_vs_dh.c</c>): the connection's destination address selects a
/// bucket of a table of 2^bits buckets (256 by default) filled with the servers in turn, one bucket each; meant for
/// cache clusters where each origin address should stick to one cache.
/// </summary>
/// <remarks>
/// When the bucket's server cannot take the connection the pick returns null, as in the kernel. Weights do not shape
/// the table (the kernel's dh ignores them and has no <c>upd_dest</c>), but weight 0 still refuses new connections.
/// The table is filled in the service's list order, as the kernel's (a new server at the head, see
/// <see cref="ServerList"/>); with <see cref="SchedulerOptions.SortServersByEndpoint"/> in (address, port) order, so
/// that the mapping depends only on the server set.
/// </remarks>
public sealed class DestinationHashingScheduler : IScheduler
{
    private readonly int _bits;
    private readonly bool _sortByEndpoint;
    private RealServer?[] _buckets;

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">The options (<see cref="SchedulerOptions.HashTableBits"/>, <see cref="SchedulerOptions.SortServersByEndpoint"/>); null for the defaults.</param>
    /// <exception cref="ArgumentOutOfRangeException">The table size is outside 4 to 20 bits.</exception>
    public DestinationHashingScheduler(SchedulerOptions? options = null)
    {
        options ??= SchedulerOptions.Default;
        _bits = KernelBucketHash.ValidateBits(options.HashTableBits);
        _sortByEndpoint = options.SortServersByEndpoint;
        _buckets = new RealServer?[1 << _bits];
    }

    /// <inheritdoc/>
    public string Name => SchedulerNames.DestinationHashing;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers)
    {
        var ordered = ServerSet.Copy(servers, _sortByEndpoint);
        var buckets = new RealServer?[1 << _bits];
        if (ordered.Length > 0)
        {
            for (int i = 0; i < buckets.Length; i++)
            {
                buckets[i] = ordered[i % ordered.Length];
            }
        }

        Volatile.Write(ref _buckets, buckets);
    }

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        var buckets = Volatile.Read(ref _buckets);
        var server = buckets[KernelBucketHash.Hash32(KernelBucketHash.Fold(flow.DestinationAddress), _bits)];
        return server is not null && server.IsSchedulable ? server : null;
    }
}
