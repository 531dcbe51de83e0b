using Lvs.ConnectionTracking;
using Lvs.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Lvs.Director.Tests;

/// <summary>Flood defence, secure_tcp and FULLNAT allocator exhaustion are logged as counts per report, not per packet.</summary>
public class DirectorEnginePressureLogTests
{
    [Fact]
    public void ReportPressure_TableFull_OneWarningWithTheShedAndRefusedCounts()
    {
        using var logs = new FakeLoggerProvider();
        using var factory = LoggerFactory.Create(builder => builder.AddProvider(logs));
        var options = new DirectorOptions { Connections = new ConnectionTableOptions { Capacity = 64, IPv6Capacity = 64, RandomSeed = 7, SecureTcp = 1 } };
        using var lab = new Lab(options, loggerFactory: factory);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);

        lab.Engine.ReportPressure();
        Assert.DoesNotContain(logs.Collector.GetSnapshot(), r => r.Level == LogLevel.Warning);

        // Twice the capacity in SYNs: the full table sheds SYN_RECV entries to make room (ip_vs_random_dropentry).
        for (int i = 0; i < 128; i++)
        {
            var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, (ushort)(20000 + i), lab.Vip, 80, "S");
            _ = lab.Send(syn, 0);
        }

        lab.Time.Advance(TimeSpan.FromSeconds(2));
        _ = lab.Engine.Connections.RunHousekeeping(); // secure_tcp 1 sees the pressure and turns the defence on
        lab.Engine.ReportPressure();
        var warnings = logs.Collector.GetSnapshot().Where(r => r.Level == LogLevel.Warning).Select(r => r.Message).ToList();
        long shed = lab.Engine.Connections.Shed;
        long refused = lab.Engine.Connections.Refused;
        Assert.True(shed + refused > 0);
        Assert.Contains($"Connection table full (capacity 64): flood defence shed {shed} connections and {refused} new connections were refused in the last 2 s", warnings);
        Assert.Contains("secure_tcp defence on", warnings);
        Assert.Equal(2, warnings.Count);

        // Nothing new: nothing logged.
        lab.Engine.ReportPressure();
        Assert.Equal(2, logs.Collector.GetSnapshot().Count(r => r.Level == LogLevel.Warning));
    }

    [Fact]
    public void ReportPressure_FullNatPortsExhausted_OneWarningWithTheDroppedCount()
    {
        using var logs = new FakeLoggerProvider();
        using var factory = LoggerFactory.Create(builder => builder.AddProvider(logs));
        var options = new DirectorOptions { LocalAddresses = [Lab.LocalV4], LocalPortFirst = 1024, LocalPortLast = 1025 };
        using var lab = new Lab(options, loggerFactory: factory);
        lab.AddService("rr", ForwardingMethod.FullNat, count: 1);

        for (int i = 0; i < 5; i++)
        {
            var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, (ushort)(20000 + i), lab.Vip, 80, "S");
            _ = lab.Send(syn, 0);
        }

        Assert.Equal(3, lab.Engine.GetDropCount(DropReason.LocalAddressesExhausted));
        lab.Engine.ReportPressure();
        var warning = Assert.Single(logs.Collector.GetSnapshot(), r => r.Level == LogLevel.Warning);
        Assert.Equal("FULLNAT local addresses exhausted: 3 new connections dropped in the last 2 s (1 addresses, ports 1024-1025)", warning.Message);
    }
}
