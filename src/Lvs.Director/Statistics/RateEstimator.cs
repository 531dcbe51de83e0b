namespace Lvs.Director.Statistics;

/// <summary>
/// The kernel's rate estimator (<c>ip_vs_est.c</c>) for one service or real server: every 2 seconds the counters'
/// increase is folded into an exponentially weighted average with weight 1/4, in fixed point (rates of events scaled
/// by 2^10 per second, of bytes by 2^5), so <c>ipvsadm --rate</c> shows the same numbers for the same traffic.
/// </summary>
public sealed class RateEstimator
{
    /// <summary>The sampling interval (the kernel's <c>IPVS_EST_TICK</c> period of 2 seconds).</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    private IpvsCounters _last;
    private long _cps;
    private long _inpps;
    private long _outpps;
    private long _inbps;
    private long _outbps;

    /// <summary>Starts from the counters' present values (the kernel's <c>ip_vs_start_estimator</c>).</summary>
    /// <param name="now">The counters now.</param>
    public RateEstimator(IpvsCounters now) => _last = now;

    /// <summary>Folds one 2-second sample in.</summary>
    /// <param name="now">The counters now.</param>
    public void Sample(IpvsCounters now)
    {
        // rate = delta << 9 (events: 2^10 per second over 2 s) or << 4 (bytes: 2^5 per second over 2 s); avg += (rate - avg) >> 2.
        _cps += (((now.Connections - _last.Connections) << 9) - _cps) >> 2;
        _inpps += (((now.InPackets - _last.InPackets) << 9) - _inpps) >> 2;
        _outpps += (((now.OutPackets - _last.OutPackets) << 9) - _outpps) >> 2;
        _inbps += (((now.InBytes - _last.InBytes) << 4) - _inbps) >> 2;
        _outbps += (((now.OutBytes - _last.OutBytes) << 4) - _outbps) >> 2;
        _last = now;
    }

    /// <summary>The rates per second, rounded as <c>ip_vs_read_estimator</c> rounds them.</summary>
    public IpvsRates Rates => new(
        (_cps + 0x1FF) >> 10,
        (_inpps + 0x1FF) >> 10,
        (_outpps + 0x1FF) >> 10,
        (_inbps + 0xF) >> 5,
        (_outbps + 0xF) >> 5);
}
