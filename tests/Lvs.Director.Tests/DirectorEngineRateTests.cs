using Lvs.Core;
using Lvs.Director.Statistics;

namespace Lvs.Director.Tests;

/// <summary>
/// The rates of <c>ipvsadm -L --rate</c>, as the kernel's estimator computes them (net/netfilter/ipvs/ip_vs_est.c):
/// every 2 seconds the counters' increase becomes a rate in fixed point (events per second × 2^10, that is the 2-second
/// increase shifted left by 9; bytes per second × 2^5, the increase shifted left by 4), the average moves a quarter of
/// the way to it (<c>avg += (rate - avg) &gt;&gt; 2</c>, an arithmetic shift), and a read rounds it
/// (<c>(avg + 0x1FF) &gt;&gt; 10</c>, <c>(avg + 0xF) &gt;&gt; 5</c>). Every expected figure is worked out by hand from those rules.
/// </summary>
public class DirectorEngineRateTests
{
    private static IpvsCounters Counters(long connections, long inPackets, long outPackets, long inBytes, long outBytes) =>
        new(connections, inPackets, outPackets, inBytes, outBytes);

    /// <summary>
    /// 100 connections a second (200 per sample): the rate is 200 &lt;&lt; 9 = 102,400, so the average goes 25,600,
    /// 44,800, 59,200, 70,000, ... and reads 25, 44, 58, 68, 76, 82, 87, 90, 92, 94, 96, 97 over the first 24 seconds;
    /// 10,000 bytes a second (20,000 per sample, rate 320,000) reads 2,500, 4,375, 5,781, 6,836, ...
    /// </summary>
    [Fact]
    public void Sample_SteadyTraffic_ClimbsAQuarterOfTheWayEachSample()
    {
        var estimator = new RateEstimator(default);
        int[] expectedCps = [25, 44, 58, 68, 76, 82, 87, 90, 92, 94, 96, 97];
        int[] expectedBps = [2500, 4375, 5781, 6836, 7627, 8220, 8665, 8999, 9249, 9437, 9578, 9683];
        for (int i = 0; i < expectedCps.Length; i++)
        {
            long n = i + 1;
            estimator.Sample(Counters(200 * n, 400 * n, 600 * n, 20_000 * n, 40_000 * n));
            var rates = estimator.Rates;
            Assert.Equal(expectedCps[i], rates.ConnectionsPerSecond);
            Assert.Equal(expectedBps[i], rates.InBytesPerSecond);
        }

        // In packets at twice the connections' rate, out packets three times, out bytes twice the in bytes: after 12
        // samples 2 × 102,400 and 3 × 102,400 averaged the same way read 194 and 290; 2 × 320,000 reads 19,366.
        Assert.Equal((194, 290, 19366), (estimator.Rates.InPacketsPerSecond, estimator.Rates.OutPacketsPerSecond, estimator.Rates.OutBytesPerSecond));
    }

    /// <summary>
    /// Traffic that stops: the average falls a quarter of the way to 0 each sample (25, 44, 58, then 43, 33, 24, 18),
    /// and after enough idle samples it reads 0.
    /// </summary>
    [Fact]
    public void Sample_TrafficStops_DecaysTowardZero()
    {
        var estimator = new RateEstimator(default);
        var readings = new List<long>();
        for (int i = 1; i <= 7; i++)
        {
            long connections = 200 * Math.Min(i, 3);
            estimator.Sample(Counters(connections, 0, 0, 0, 0));
            readings.Add(estimator.Rates.ConnectionsPerSecond);
        }

        Assert.Equal([25, 44, 58, 43, 33, 24, 18], readings);
        for (int i = 0; i < 40; i++)
        {
            estimator.Sample(Counters(600, 0, 0, 0, 0));
        }

        Assert.Equal(0, estimator.Rates.ConnectionsPerSecond);
    }

    /// <summary>
    /// Through the engine: a first sample with no traffic yet (rates 0); 40 SYNs of new clients (rr over three
    /// servers: 14, 13, 13) before the second give the service (40 &lt;&lt; 9) / 4 = 5,120, which reads 5 connections and
    /// 5 packets a second, and each server 1,792 or 1,664, which read 2; bytes follow the counters (IPv4 length of
    /// each SYN).
    /// </summary>
    [Fact]
    public void SampleRates_ServiceAndServers_FromTheEnginesCounters()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat);
        var service = Assert.Single(lab.Table.Snapshot.Services);
        lab.Engine.SampleRates();

        for (int i = 0; i < 40; i++)
        {
            var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, (ushort)(40000 + i), lab.Vip, 80, "S");
            Assert.Equal(FrameAction.Transmit, lab.Send(syn, 0).Action);
        }

        lab.Time.Advance(TimeSpan.FromSeconds(2));
        lab.Engine.SampleRates();

        var counters = lab.Engine.GetCounters(service);
        Assert.Equal((40, 40), (counters.Connections, counters.InPackets));
        var rates = lab.Engine.GetRates(service);
        Assert.Equal((5, 5, 0, 0), (rates.ConnectionsPerSecond, rates.InPacketsPerSecond, rates.OutPacketsPerSecond, rates.OutBytesPerSecond));
        Assert.Equal((((counters.InBytes << 4) >> 2) + 0xF) >> 5, rates.InBytesPerSecond);
        Assert.Equal([2, 2, 2], service.RealServers.Select(server => lab.Engine.GetRates(server).ConnectionsPerSecond));
        Assert.Equal([13, 13, 14], service.RealServers.Select(server => lab.Engine.GetCounters(server).Connections).Order());
    }

    /// <summary>
    /// The first sample of a service counts everything since it was added, as the kernel's estimator, started with the
    /// service from counters at 0: 40 SYNs before it read 5 connections a second.
    /// </summary>
    [Fact]
    public void SampleRates_FirstSample_CountsTrafficSinceTheServiceWasAdded()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat);
        var service = Assert.Single(lab.Table.Snapshot.Services);
        for (int i = 0; i < 40; i++)
        {
            _ = lab.Send(Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, (ushort)(40000 + i), lab.Vip, 80, "S"), 0);
        }

        lab.Time.Advance(TimeSpan.FromSeconds(2));
        lab.Engine.SampleRates();

        Assert.Equal(5, lab.Engine.GetRates(service).ConnectionsPerSecond);
    }

    /// <summary>
    /// The kernel's <c>run_estimation</c> off (<see cref="DirectorOptions.RunEstimation"/>): no sample is taken, so the
    /// rates stay 0 while the counters count.
    /// </summary>
    [Fact]
    public void SampleRates_RunEstimationOff_RatesStayZero_CountersCount()
    {
        using var lab = new Lab(new DirectorOptions { RunEstimation = false });
        lab.AddService("rr", ForwardingMethod.Nat);
        var service = Assert.Single(lab.Table.Snapshot.Services);
        lab.Engine.SampleRates();
        for (int i = 0; i < 40; i++)
        {
            _ = lab.Send(Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, (ushort)(40000 + i), lab.Vip, 80, "S"), 0);
        }

        lab.Time.Advance(TimeSpan.FromSeconds(2));
        lab.Engine.SampleRates();

        Assert.Equal(40, lab.Engine.GetCounters(service).Connections);
        Assert.Equal(default, lab.Engine.GetRates(service));
    }
}
