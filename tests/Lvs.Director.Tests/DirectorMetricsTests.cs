using System.Diagnostics.Metrics;
using Lvs.Core;
using Lvs.Director.Statistics;

namespace Lvs.Director.Tests;

/// <summary>
/// <see cref="DirectorMetrics"/> read the way dotnet-counters and OpenTelemetry read it, through a
/// <see cref="MeterListener"/>: ipvsadm's counters per service and real server (tagged <c>lvs.service</c> and
/// <c>lvs.real_server</c>), the servers' active and inactive connections, the table's entries and the drops by reason.
/// </summary>
public class DirectorMetricsTests
{
    /// <summary>Every measurement of one collection: instrument name, tags (as "key=value" joined by ","), value.</summary>
    private static List<(string Name, string Tags, long Value)> Collect(DirectorMetrics metrics)
    {
        var measurements = new List<(string, string, long)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            measurements.Add((instrument.Name, string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}")), value)));
        listener.Start();
        listener.RecordObservableInstruments();
        return measurements;
    }

    [Fact]
    public void Collect_AfterTraffic_CountersPerServiceAndServer_ConnectionsTableAndDrops()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat);
        var service = Assert.Single(lab.Table.Snapshot.Services);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(FrameAction.Transmit, lab.Send(Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, (ushort)(40000 + i), lab.Vip, 80, "S"), 0).Action);
        }

        // An ACK that matches no connection: reset, counted as NotSyn.
        Assert.Equal(DropReason.NotSyn, lab.Send(Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 41000, lab.Vip, 80, "A"), 0).Reason);

        using var metrics = new DirectorMetrics(lab.Engine);
        Assert.Equal(DirectorMetrics.MeterName, metrics.Meter.Name);
        var measured = Collect(metrics);

        string serviceTag = $"lvs.service={service.Key}";
        long Of(string name, string tags) => Assert.Single(measured, m => m.Name == name && m.Tags == tags).Value;
        var counters = lab.Engine.GetCounters(service);
        Assert.Equal(3, Of("lvs.director.connections", serviceTag));
        Assert.Equal(3, Of("lvs.director.packets.in", serviceTag));
        Assert.Equal(0, Of("lvs.director.packets.out", serviceTag));
        Assert.Equal(counters.InBytes, Of("lvs.director.bytes.in", serviceTag));
        Assert.Equal(3 * 40, counters.InBytes); // three SYNs of 40 bytes from their IP header on (the kernel's skb->len)

        // rr over three servers: one connection each, active in SYN_RECV (the kernel's tcp_state_active_table, Linux 4.8+).
        foreach (var server in service.RealServers)
        {
            string tags = $"{serviceTag},lvs.real_server={server.Endpoint}";
            Assert.Equal(1, Of("lvs.director.connections", tags));
            Assert.Equal(1, Of("lvs.director.connections.active", tags));
            Assert.Equal(0, Of("lvs.director.connections.inactive", tags));
        }

        Assert.Equal(3, Of("lvs.director.connection_table.entries", string.Empty));
        Assert.Equal(1, Of("lvs.director.drops", "lvs.drop_reason=NotSyn"));
    }
}
