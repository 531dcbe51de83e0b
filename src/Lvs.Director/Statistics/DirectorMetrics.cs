using System.Diagnostics.Metrics;
using Lvs.Core;

namespace Lvs.Director.Statistics;

/// <summary>
/// The director's instruments on a <see cref="Meter"/> named <c>Lvs.Director</c>, named the OpenTelemetry way with the
/// service and real server as tags; ipvsadm's counters map one to one. Every instrument is observable: nothing is
/// recorded on the packet path, the values are read from the workers' counters when a listener (dotnet-counters,
/// OpenTelemetry) collects.
/// </summary>
public sealed class DirectorMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Lvs.Director";

    private readonly DirectorEngine _engine;
    private readonly bool _ownsMeter;

    /// <summary>Creates the instruments for an engine.</summary>
    /// <param name="engine">The engine.</param>
    /// <param name="meterFactory">The host's meter factory; null: a meter owned (and disposed) by this object.</param>
    public DirectorMetrics(DirectorEngine engine, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
        _ownsMeter = meterFactory is null;
        Meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _ = Meter.CreateObservableCounter("lvs.director.connections", () => Per(c => c.Connections), "{connection}", "Connections scheduled (ipvsadm Conns).");
        _ = Meter.CreateObservableCounter("lvs.director.packets.in", () => Per(c => c.InPackets), "{packet}", "Packets from clients (ipvsadm InPkts).");
        _ = Meter.CreateObservableCounter("lvs.director.packets.out", () => Per(c => c.OutPackets), "{packet}", "Packets to clients (ipvsadm OutPkts).");
        _ = Meter.CreateObservableCounter("lvs.director.bytes.in", () => Per(c => c.InBytes), "By", "Bytes from clients (ipvsadm InBytes).");
        _ = Meter.CreateObservableCounter("lvs.director.bytes.out", () => Per(c => c.OutBytes), "By", "Bytes to clients (ipvsadm OutBytes).");
        _ = Meter.CreateObservableUpDownCounter("lvs.director.connections.active", () => PerServer(s => s.ActiveConnections), "{connection}", "Active connections per real server (ipvsadm ActiveConn).");
        _ = Meter.CreateObservableUpDownCounter("lvs.director.connections.inactive", () => PerServer(s => s.InactiveConnections), "{connection}", "Inactive connections per real server (ipvsadm InActConn).");
        _ = Meter.CreateObservableUpDownCounter("lvs.director.connection_table.entries", () => (long)_engine.Connections.Count, "{entry}", "Connections and templates in the table.");
        _ = Meter.CreateObservableCounter("lvs.director.drops", Drops, "{frame}", "Frames dropped, by reason.");
    }

    /// <summary>The meter.</summary>
    public Meter Meter { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsMeter)
        {
            Meter.Dispose();
        }
    }

    private List<Measurement<long>> Per(Func<Statistics.IpvsCounters, long> field)
    {
        var result = new List<Measurement<long>>();
        foreach (var service in _engine.Table.Snapshot.Services)
        {
            var key = service.Key.ToString();
            result.Add(new Measurement<long>(field(_engine.GetCounters(service)), new KeyValuePair<string, object?>("lvs.service", key)));
            foreach (var server in service.RealServers)
            {
                result.Add(new Measurement<long>(
                    field(_engine.GetCounters(server)),
                    new KeyValuePair<string, object?>("lvs.service", key),
                    new KeyValuePair<string, object?>("lvs.real_server", server.Endpoint.ToString())));
            }
        }

        return result;
    }

    private List<Measurement<long>> PerServer(Func<RealServer, int> field)
    {
        var result = new List<Measurement<long>>();
        foreach (var service in _engine.Table.Snapshot.Services)
        {
            var key = service.Key.ToString();
            foreach (var server in service.RealServers)
            {
                result.Add(new Measurement<long>(
                    field(server),
                    new KeyValuePair<string, object?>("lvs.service", key),
                    new KeyValuePair<string, object?>("lvs.real_server", server.Endpoint.ToString())));
            }
        }

        return result;
    }

    private List<Measurement<long>> Drops()
    {
        var result = new List<Measurement<long>>();
        foreach (var (reason, count) in _engine.GetDropCounts())
        {
            result.Add(new Measurement<long>(count, new KeyValuePair<string, object?>("lvs.drop_reason", reason.ToString())));
        }

        return result;
    }
}
