using Lvs.ConnectionTracking;
using Lvs.Core;

namespace Lvs.Director.Tests;

/// <summary>
/// Several packet workers on a table with an index partition each (ConnectionTableOptions.IndexPartitions): a flow's
/// packets may reach any worker, and each worker expires its own partition.
/// </summary>
public sealed class DirectorEnginePacketThreadTests : IDisposable
{
    public DirectorEnginePacketThreadTests() => PacketThread.Current = 0;

    public void Dispose() => PacketThread.Current = 0;

    private static DirectorOptions TwoPartitions() =>
        new() { Connections = new ConnectionTableOptions { Capacity = 65_536, IPv6Capacity = 65_536, IndexPartitions = 2 } };

    [Fact]
    public void Workers_AreNumberedPacketThreads_AndANatFlowCrossingThemIsTranslatedBothWays()
    {
        using var lab = new Lab(TwoPartitions());
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var second = lab.Engine.CreateWorker();
        Assert.Equal(2, lab.Engine.Connections.IndexPartitions);

        // The SYN on worker 0 (packet thread 0) adds the connection into its partition.
        var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S");
        var v = lab.Send(syn, 0);
        Assert.Equal(0, PacketThread.Current);
        Assert.Equal(FrameAction.Transmit, v.Action);
        PacketAssert.Endpoints(PacketAssert.Ip(syn.Output(v)), PacketAssert.Tcp(syn.Output(v)), lab.Client, 40000, lab.Server(1), 8080);

        // The reply and the rest of the flow on worker 1 (packet thread 1) find it in the other partition.
        var synAck = Lab.Tcp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), 8080, lab.Client, 40000, "SA");
        v = second.Process(synAck.Buffer, synAck.Offset, synAck.Length, 1);
        Assert.Equal(1, PacketThread.Current);
        Assert.Equal(0, v.Link);
        PacketAssert.Endpoints(PacketAssert.Ip(synAck.Output(v)), PacketAssert.Tcp(synAck.Output(v)), lab.Vip, 80, lab.Client, 40000);

        var ack = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "A", 100);
        v = second.Process(ack.Buffer, ack.Offset, ack.Length, 0);
        PacketAssert.Endpoints(PacketAssert.Ip(ack.Output(v)), PacketAssert.Tcp(ack.Output(v)), lab.Client, 40000, lab.Server(1), 8080);
        var connection = Assert.Single(lab.Engine.Connections.Enumerate());
        Assert.Equal("ESTABLISHED", connection.StateName);

        // Worker 1's SYN of the same flow is not a second connection.
        var again = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S");
        _ = second.Process(again.Buffer, again.Offset, again.Length, 0);
        Assert.Single(lab.Engine.Connections.Enumerate());
    }

    [Fact]
    public void SteeredFlows_ClientPacketsOnTheirWorker_RepliesOnAny_TwoSynsInOneBatchOneConnection()
    {
        // As lvs-director --partition-connections: every client packet of a flow reaches one worker.
        using var lab = new Lab(new DirectorOptions { Connections = new ConnectionTableOptions { Capacity = 65_536, IPv6Capacity = 65_536, IndexPartitions = 2, SteeredFlows = true } });
        lab.AddService("rr", ForwardingMethod.Nat, count: 2);
        var second = lab.Engine.CreateWorker();

        // Two SYNs of one flow in one batch on worker 0: the second finds the connection the first created (the batch's
        // second look, kept to where worker 0's flows are), so one connection, one pick.
        var first = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S");
        var retransmitted = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "S");
        var buffer = new byte[4096];
        first.Buffer.AsSpan(first.Offset, first.Length).CopyTo(buffer.AsSpan(128));
        retransmitted.Buffer.AsSpan(retransmitted.Offset, retransmitted.Length).CopyTo(buffer.AsSpan(2048));
        var verdicts = new FrameVerdict[2];
        lab.Worker.ProcessBatch(buffer, [new FrameSlot(128, first.Length, 0), new FrameSlot(2048, retransmitted.Length, 0)], verdicts);
        Assert.Equal((FrameAction.Transmit, FrameAction.Transmit), (verdicts[0].Action, verdicts[1].Action));
        var connection = Assert.Single(lab.Engine.Connections.Enumerate());
        var server = connection.Destination.Address;
        var output = new Frame { Buffer = buffer, Offset = 128, Length = first.Length };
        PacketAssert.Endpoints(PacketAssert.Ip(output.Output(verdicts[1])), PacketAssert.Tcp(output.Output(verdicts[1])), lab.Client, 40000, server, 8080);

        // The server's reply reaches worker 1 (replies are steered by their own key): found in worker 0's partition.
        int which = server == lab.Server(1) ? 1 : 2;
        var synAck = Lab.Tcp(Lab.ServerMac(which), Lab.ServerLinkMac, server, 8080, lab.Client, 40000, "SA");
        var v = second.Process(synAck.Buffer, synAck.Offset, synAck.Length, 1);
        Assert.Equal(FrameAction.Transmit, v.Action);
        PacketAssert.Endpoints(PacketAssert.Ip(synAck.Output(v)), PacketAssert.Tcp(synAck.Output(v)), lab.Vip, 80, lab.Client, 40000);

        // The client's next packets reach worker 0, as steered.
        var ack = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "A", 100);
        v = lab.Worker.Process(ack.Buffer, ack.Offset, ack.Length, 0);
        PacketAssert.Endpoints(PacketAssert.Ip(ack.Output(v)), PacketAssert.Tcp(ack.Output(v)), lab.Client, 40000, server, 8080);
        Assert.Equal("ESTABLISHED", Assert.Single(lab.Engine.Connections.Enumerate()).StateName);

        // One reaching worker 1 (its steering changed under it) is not looked for in worker 0's partition: a non-SYN
        // segment of no connection, answered with the host's reset, where the unsteered table (the test above) finds it.
        var stray = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40000, lab.Vip, 80, "A", 100);
        v = second.Process(stray.Buffer, stray.Offset, stray.Length, 0);
        Assert.Equal(DropReason.NotSyn, v.Reason);
        Assert.True(PacketAssert.Tcp(stray.Output(v)).Reset);
        Assert.Single(lab.Engine.Connections.Enumerate());
        Assert.Single(lab.Engine.Connections.Enumerate());
    }

    [Fact]
    public void EachWorker_ExpiresItsOwnPartition_OnItsNextFrameAfterTheTickMoves()
    {
        using var lab = new Lab(TwoPartitions());
        var key = lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var server = lab.Table.Snapshot.Find(key)!.RealServers[0];
        var second = lab.Engine.CreateWorker();
        var table = lab.Engine.Connections;

        // A half-open connection from each worker (SYN_RECV: 60 s by default).
        var first = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40001, lab.Vip, 80, "S");
        _ = lab.Send(first, 0);
        var other = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40002, lab.Vip, 80, "S");
        _ = second.Process(other.Buffer, other.Offset, other.Length, 0);
        Assert.Equal(2, table.Count);

        // Both workers have seen a tick move (they expire their partitions from then on).
        lab.Time.Advance(TimeSpan.FromSeconds(1));
        _ = table.RunHousekeeping();
        var probe = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40001, lab.Vip, 80, "A");
        _ = lab.Send(probe, 0);
        var probe2 = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40002, lab.Vip, 80, "A");
        _ = second.Process(probe2.Buffer, probe2.Offset, probe2.Length, 0);
        Assert.Equal(2, table.Count);

        // The ACKs established both (900 s); a RST from each client puts them in CLOSE (10 s).
        foreach (var (port, worker) in new[] { (40001, lab.Worker), (40002, second) })
        {
            var rst = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, (ushort)port, lab.Vip, 80, "R");
            _ = worker.Process(rst.Buffer, rst.Offset, rst.Length, 0);
        }

        lab.Time.Advance(TimeSpan.FromSeconds(30));
        _ = table.RunHousekeeping();

        // Housekeeping left both partitions to their workers, which keep up.
        Assert.Equal(2, table.Count);
        var unrelated = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40100, lab.Vip, 80, "A");
        _ = lab.Send(unrelated, 0);
        Assert.Equal(1, table.Count);
        _ = second.Process(unrelated.Buffer, unrelated.Offset, unrelated.Length, 0);
        Assert.Equal(0, table.Count);
        Assert.Equal((0, 0), (server.ActiveConnections, server.InactiveConnections));
    }

    [Fact]
    public void AnIdleWorker_ExpiresItsPartitionWhenToldItIsIdle()
    {
        using var lab = new Lab(TwoPartitions());
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        var second = lab.Engine.CreateWorker();
        var table = lab.Engine.Connections;

        // Worker 1 adds a connection (SYN_RECV, 60 s) and has seen a tick move, so its partition is its own to expire.
        var syn = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, 40001, lab.Vip, 80, "S");
        _ = second.Process(syn.Buffer, syn.Offset, syn.Length, 0);
        lab.Time.Advance(TimeSpan.FromSeconds(1));
        _ = table.RunHousekeeping();
        second.Idle();
        Assert.Equal(1, table.Count);

        // Past the timeout, housekeeping leaves the partition to the worker, which is idle: Idle expires it.
        lab.Time.Advance(TimeSpan.FromSeconds(120));
        _ = table.RunHousekeeping();
        Assert.Equal(1, table.Count);
        second.Idle();
        Assert.Equal(0, table.Count);
        Assert.Equal(1, PacketThread.Current);
    }
}
