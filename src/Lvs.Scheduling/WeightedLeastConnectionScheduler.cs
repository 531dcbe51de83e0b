using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Weighted least connection (<c>wlc</c>, the kernel's <c>ip_vs_wlc.c</c> and its default): the schedulable server with
/// the smallest overhead / weight, compared by integer cross-multiplication (<c>loh * dw &gt; doh * lw</c>) as the
/// kernel does; the first in list order wins a tie.
/// </summary>
/// <remarks>A pick scans the server array once, reading the live counters, weights and overload flags.</remarks>
public sealed class WeightedLeastConnectionScheduler : IScheduler
{
    private readonly PublishedServerList _servers;

    /// <summary>Creates the scheduler with no servers and the default options.</summary>
    public WeightedLeastConnectionScheduler()
        : this(null)
    {
    }

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">The options (<see cref="SchedulerOptions.OtherThreadCountsRefreshPicks"/>); null for the defaults.</param>
    public WeightedLeastConnectionScheduler(SchedulerOptions? options) =>
        _servers = new PublishedServerList(options);

    /// <inheritdoc/>
    public string Name => SchedulerNames.WeightedLeastConnection;

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers) => _servers.Replace(servers);

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow) => WeightedLeastLoad.Select<ConnectionOverheadLoad>(_servers.Snapshot);
}
