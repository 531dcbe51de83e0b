using Lvs.Core;
using Lvs.Director.Configuration;
using Lvs.Director.Replay;

namespace Lvs.Director.Tests.Replay;

/// <summary>The captures' timestamps are the replayed engine's clock: connections expire as they would have.</summary>
public sealed class ReplayClockTests
{
    private static readonly MacAddress ClientMac = MacAddress.Parse("02:77:00:00:00:0a");
    private static readonly MacAddress FrontMac = MacAddress.Parse("02:77:00:00:00:02");

    [Fact]
    public void Replay_SameUdpFlowAfterTheUdpTimeout_IsScheduledAgainOnTheCapturesClock()
    {
        var table = new ServiceTable();
        IpvsadmRulesParser.Parse("-A -u 10.77.0.100:53 -s rr\n-a -u 10.77.0.100:53 -r 10.77.1.12:53 -m\n-a -u 10.77.0.100:53 -r 10.77.1.11:53 -m\n").ApplyTo(table);
        var start = new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero);
        // Times from the start: 0 s and 10 s (one connection), then 400 s: past the 300 s UDP timeout, a new connection.
        var frames = new[] { 0, 10, 400 }
            .Select(seconds => new CapturedFrame(start.AddSeconds(seconds), Datagram()))
            .ToList();
        using var replayer = new CaptureReplayer(table, NatCaptureReplayTests.LabOptions());

        var result = replayer.Replay([frames]);

        Assert.Equal(3, result.Outputs.Count);
        Assert.Equal(["10.77.1.11", "10.77.1.11", "10.77.1.12"], result.Outputs.Select(o => InetAddress.ReadIPv4(o.Data.AsSpan(30)).ToString()).ToArray());
        Assert.Equal(frames.Select(f => f.Timestamp), result.Outputs.Select(o => o.Timestamp));
    }

    [Fact]
    public void Replay_InputsOutOfStep_AreMergedInTimestampOrder()
    {
        var table = NatCaptureReplayTests.LabTable();
        var start = new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero);
        var late = new CapturedFrame(start.AddSeconds(2), Datagram(40002));
        var early = new CapturedFrame(start.AddSeconds(1), Datagram(40001));
        using var replayer = new CaptureReplayer(table, NatCaptureReplayTests.LabOptions());

        var result = replayer.Replay([[late], [early]]);

        Assert.Equal([start.AddSeconds(1), start.AddSeconds(2)], result.Outputs.Select(o => o.Timestamp).ToArray());
        Assert.Equal(40001, System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(result.Outputs[0].Data.AsSpan(34)));
    }

    private static byte[] Datagram(ushort sourcePort = 40000)
    {
        var frame = Lab.Udp(ClientMac, FrontMac, InetAddress.Parse("10.77.0.10"), sourcePort, InetAddress.Parse("10.77.0.100"), sourcePort == 40000 ? (ushort)53 : (ushort)5201);
        return frame.Buffer.AsSpan(frame.Offset, frame.Length).ToArray();
    }
}

public sealed class ReplayDropTests
{
    [Fact]
    public void Replay_SynToAServiceWithNoServer_CountsNoRealServerAndSendsThePortUnreachable()
    {
        var table = new ServiceTable();
        IpvsadmRulesParser.Parse("-A -t 10.77.0.100:80 -s rr\n-a -t 10.77.0.100:80 -r 10.77.1.11:80 -m -w 0\n").ApplyTo(table);
        var syn = Lab.Tcp(MacAddress.Parse("02:77:00:00:00:0a"), MacAddress.Parse("02:77:00:00:00:02"), InetAddress.Parse("10.77.0.10"), 40000, InetAddress.Parse("10.77.0.100"), 80, "S");
        using var replayer = new CaptureReplayer(table, NatCaptureReplayTests.LabOptions());

        var result = replayer.Replay([[new CapturedFrame(DateTimeOffset.UnixEpoch, syn.Buffer.AsMemory(syn.Offset, syn.Length))]]);

        Assert.Equal(1, result.Drops[DropReason.NoRealServer]);
        var error = Assert.Single(result.Outputs);
        Assert.Equal(DropReason.NoRealServer, error.Cause);
        Assert.Equal(0, error.Link);
        Assert.Equal(1, error.Data[23]); // ICMP
        Assert.Equal(3, error.Data[34]); // destination unreachable
    }
}
