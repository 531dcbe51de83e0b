using Lvs.Core;

namespace Lvs.Director.Statistics;

/// <summary>
/// One packet worker's counters (the kernel keeps them per CPU, <c>ip_vs_cpu_stats</c>): written by its worker only,
/// with plain stores, and summed by readers. No interlocked operation and no shared cache line on the packet path.
/// </summary>
internal sealed class WorkerCounters
{
    public const int Stride = 5;
    public const int Connections = 0;
    public const int InPackets = 1;
    public const int OutPackets = 2;
    public const int InBytes = 3;
    public const int OutBytes = 4;

    private long[] _services = [];
    private long[] _servers = [];

    public long[] Drops { get; } = new long[256];

    public long[] Services => Volatile.Read(ref _services);

    public long[] Servers => Volatile.Read(ref _servers);

    /// <summary>Grows the arrays (on a table change, never per packet) so every service and server has a slot.</summary>
    public void Ensure(int services, int servers)
    {
        if (_services.Length < services * Stride)
        {
            var grown = new long[Math.Max(services, 8) * Stride * 2];
            _services.CopyTo(grown, 0);
            Volatile.Write(ref _services, grown);
        }

        if (_servers.Length < servers * Stride)
        {
            var grown = new long[Math.Max(servers, 8) * Stride * 2];
            _servers.CopyTo(grown, 0);
            Volatile.Write(ref _servers, grown);
        }
    }

    public void Drop(DropReason reason) => Drops[(int)reason]++;

    public static IpvsCounters Read(long[] array, int index)
    {
        int i = index * Stride;
        if ((uint)(i + Stride) > (uint)array.Length)
        {
            return default;
        }

        return new IpvsCounters(
            Volatile.Read(ref array[i + Connections]),
            Volatile.Read(ref array[i + InPackets]),
            Volatile.Read(ref array[i + OutPackets]),
            Volatile.Read(ref array[i + InBytes]),
            Volatile.Read(ref array[i + OutBytes]));
    }
}
