using System.Text.Json;
using Lvs.Core;
using Lvs.Director.Configuration;
using Lvs.Director.Replay;

namespace Lvs.Director.Tests.Replay;

/// <summary>
/// Replays the frames a real kernel NAT load balancer received (Data/captures/nat: nftables <c>dnat to numgen inc mod 3</c>,
/// conntrack) through the director and compares what it sends with what the kernel sent, byte for byte.
/// </summary>
public sealed class NatCaptureReplayTests
{
    private static readonly string Captures = Path.Combine(AppContext.BaseDirectory, "Data", "captures", "nat");

    // The kernel's rules as IPVS rules: TCP round robin over rs1, rs2, rs3, NAT; UDP to rs1 (the lab's UDP rule named rs1
    // alone). IPVS puts each added real server at the head of the service's list (list_add_rcu in __ip_vs_update_dest)
    // and rr starts at the head, so the servers are added rs3 first for rr to go rs1, rs2, rs3 as numgen inc mod 3 did.
    private const string Rules = """
        -A -t 10.77.0.100:80 -s rr
        -a -t 10.77.0.100:80 -r 10.77.1.13:80 -m
        -a -t 10.77.0.100:80 -r 10.77.1.12:80 -m
        -a -t 10.77.0.100:80 -r 10.77.1.11:80 -m
        -A -u 10.77.0.100:5201 -s rr
        -a -u 10.77.0.100:5201 -r 10.77.1.11:5201 -m
        """;

    internal static ReplayOptions LabOptions() => new()
    {
        Links = [ReplayLink.Parse("10.77.0.2/24@02:77:00:00:00:02"), ReplayLink.Parse("10.77.1.1/24@02:77:00:00:01:01")],
        Neighbors =
        [
            ReplayNeighbor.Parse("10.77.0.10=02:77:00:00:00:0a"),
            ReplayNeighbor.Parse("10.77.1.11=02:77:00:00:01:0b"),
            ReplayNeighbor.Parse("10.77.1.12=02:77:00:00:01:0c"),
            ReplayNeighbor.Parse("10.77.1.13=02:77:00:00:01:0d"),
        ],
    };

    internal static ServiceTable LabTable()
    {
        var table = new ServiceTable();
        IpvsadmRulesParser.Parse(Rules, "nat.rules").ApplyTo(table);
        return table;
    }

    [Fact]
    public void Replay_KernelNatCapture_SendsTheKernelsFramesByteForByte()
    {
        var pairs = Pairs();
        using var replayer = new CaptureReplayer(LabTable(), LabOptions());
        var result = replayer.Replay([PcapFile.Read(Path.Combine(Captures, "front.pcap")), PcapFile.Read(Path.Combine(Captures, "back.pcap"))]);

        Assert.Equal(pairs.Count, result.SkippedOwn);
        Assert.Equal(pairs.Count, result.Processed);
        Assert.Empty(result.Drops);
        Assert.Equal(pairs.Count, result.Outputs.Count);
        for (int i = 0; i < pairs.Count; i++)
        {
            var pair = pairs[i];
            var output = result.Outputs[i];
            Assert.Equal(pair.OutLink == "front" ? 0 : 1, output.Link);
            Assert.True(Convert.ToHexStringLower(output.Data) == pair.OutputHex, $"pair {i + 1} ({pair.Notes}):\n  kernel {pair.OutputHex}\n  lvs    {Convert.ToHexStringLower(output.Data)}");
        }
    }

    [Fact]
    public void Replay_KernelNatCapture_SchedulesTheConnectionsAsTheKernelDid()
    {
        using var replayer = new CaptureReplayer(LabTable(), LabOptions());
        var result = replayer.Replay([PcapFile.Read(Path.Combine(Captures, "front.pcap")), PcapFile.Read(Path.Combine(Captures, "back.pcap"))]);

        // SYNs forwarded to the real servers, in order: rs1, rs2, rs3, rs1, rs2, rs3.
        var synTargets = result.Outputs
            .Where(o => o.Link == 1 && o.Data[23] == 6 && (o.Data[14 + 20 + 13] & 0x12) == 0x02)
            .Select(o => InetAddress.ReadIPv4(o.Data.AsSpan(30)).ToString())
            .ToList();
        Assert.Equal(["10.77.1.11", "10.77.1.12", "10.77.1.13", "10.77.1.11", "10.77.1.12", "10.77.1.13"], synTargets);
    }

    [Fact]
    public void Replay_FramesOnlyOfTheDirector_AreSkippedAsItsOwn()
    {
        var front = PcapFile.Read(Path.Combine(Captures, "front.pcap"));
        var own = front.Where(f => f.Data.Span[6..12].SequenceEqual(new byte[] { 0x02, 0x77, 0, 0, 0, 0x02 })).ToList();
        using var replayer = new CaptureReplayer(LabTable(), LabOptions());

        var result = replayer.Replay([own]);

        Assert.Equal(own.Count, result.SkippedOwn);
        Assert.Equal(0, result.Processed);
        Assert.Empty(result.Outputs);
    }

    [Fact]
    public void Replay_WithoutTheRealServersNeighbours_DropsAsNeighborUnresolved()
    {
        var options = LabOptions() with { Neighbors = [ReplayNeighbor.Parse("10.77.0.10=02:77:00:00:00:0a")] };
        using var replayer = new CaptureReplayer(LabTable(), options);

        var result = replayer.Replay([PcapFile.Read(Path.Combine(Captures, "front.pcap"))]);

        Assert.Empty(result.Outputs);
        Assert.True(result.Drops[DropReason.NeighborUnresolved] > 0);
        Assert.Equal(result.Processed, result.Drops.Values.Sum());
    }

    internal static List<Pair> Pairs()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Captures, "pairs.json")));
        return [.. json.RootElement.EnumerateArray().Select(p => new Pair(
            p.GetProperty("direction").GetString()!,
            p.GetProperty("input_hex").GetString()!,
            p.GetProperty("output_hex").GetString()!,
            p.GetProperty("in_link").GetString()!,
            p.GetProperty("out_link").GetString()!,
            p.GetProperty("notes").GetString()!))];
    }

    internal sealed record Pair(string Direction, string InputHex, string OutputHex, string InLink, string OutLink, string Notes);
}

/// <summary>Where a replayed broadcast arrives: on every link whose subnet holds its target.</summary>
public sealed class ReplayBroadcastTests
{
    [Theory]
    [InlineData("10.77.0.100", 0)]
    [InlineData("10.77.1.1", 1)]
    public void Replay_ArpRequestBroadcast_ArrivesOnTheLinkOfItsTargetAndIsAnswered(string target, int link)
    {
        bool front = link == 0;
        var sender = front ? "10.77.0.10" : "10.77.1.11";
        var senderMac = MacAddress.Parse(front ? "02:77:00:00:00:0a" : "02:77:00:00:01:0b");
        var request = ArpRequest(senderMac, InetAddress.Parse(sender), InetAddress.Parse(target));
        using var replayer = new CaptureReplayer(NatCaptureReplayTests.LabTable(), NatCaptureReplayTests.LabOptions());

        var result = replayer.Replay([[new CapturedFrame(DateTimeOffset.UnixEpoch, request)]]);

        var reply = Assert.Single(result.Outputs);
        Assert.Equal(link, reply.Link);
        Assert.Equal(senderMac, MacAddress.Read(reply.Data));
        Assert.Equal(2, reply.Data[21]); // ARP reply
        Assert.Equal(InetAddress.Parse(target), InetAddress.ReadIPv4(reply.Data.AsSpan(28)));
    }

    [Fact]
    public void Replay_BroadcastForNoLinksSubnet_IsNotAddressed()
    {
        var request = ArpRequest(MacAddress.Parse("02:77:00:00:00:0a"), InetAddress.Parse("10.77.0.10"), InetAddress.Parse("192.0.2.1"));
        using var replayer = new CaptureReplayer(NatCaptureReplayTests.LabTable(), NatCaptureReplayTests.LabOptions());

        var result = replayer.Replay([[new CapturedFrame(DateTimeOffset.UnixEpoch, request)]]);

        Assert.Equal(1, result.NotAddressed);
        Assert.Equal(0, result.Processed);
    }

    private static byte[] ArpRequest(MacAddress senderMac, InetAddress sender, InetAddress target)
    {
        var frame = new byte[42];
        MacAddress.Broadcast.WriteTo(frame);
        senderMac.WriteTo(frame.AsSpan(6));
        frame[12] = 0x08;
        frame[13] = 0x06;
        byte[] header = [0, 1, 0x08, 0, 6, 4, 0, 1];
        header.CopyTo(frame, 14);
        senderMac.WriteTo(frame.AsSpan(22));
        sender.WriteTo(frame.AsSpan(28));
        target.WriteTo(frame.AsSpan(38));
        return frame;
    }
}
