using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

public class ConnectionEndObserverTests
{
    private static readonly VirtualServiceKey Http = VirtualServiceKey.ForAddress(L4Protocol.Tcp, Virtual());

    /// <summary>Records every end; optionally runs a check inside the callback.</summary>
    private sealed class Recorder : IConnectionEndObserver
    {
        public List<ConnectionEnd> Ends { get; } = [];

        public Action<ConnectionEnd>? During { get; set; }

        public void OnConnectionEnded(in ConnectionEnd end)
        {
            Ends.Add(end);
            During?.Invoke(end);
        }
    }

    [Fact]
    public void Observer_Expiry_ReportsOnceAfterUnlinkWithCountersReleasedAndNoLockHeld()
    {
        var recorder = new Recorder();
        var (table, _, clock, servers) = NewTable(observer: recorder);
        var flow = Tcp(Client(1), Virtual());
        var local = new InetEndpoint(InetAddress.Parse("198.51.100.1"), 5000);
        _ = table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.FullNat) { Local = local, FirstPacket = TcpFlags.Syn }, out var handle);
        recorder.During = end =>
        {
            // Unlinked and released before the call: not found, counters back to zero.
            Assert.False(table.TryGetInbound(flow, out _));
            Assert.Equal(0, servers[0].ActiveConnections + servers[0].InactiveConnections);

            // No lock a packet thread waits on is held: another thread can add at once (the FULLNAT port is reusable).
            var other = Task.Run(() => table.TryAdd(new NewConnection(Tcp(Client(2), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.FullNat) { Local = local }, out _));
            Assert.True(other.Wait(TimeSpan.FromSeconds(10)));
            Assert.Equal(AddConnectionResult.Added, other.Result);
        };

        table.Tick(clock, 59);
        Assert.Empty(recorder.Ends);
        table.Tick(clock, 2);
        var ended = Assert.Single(recorder.Ends);
        Assert.Equal(
            new ConnectionEnd(handle, L4Protocol.Tcp, Client(1), Virtual(), servers[0].Endpoint, local, 0, ForwardingMethod.FullNat, false, ConnectionHandle.None, (byte)TcpConnectionState.SynRecv, ConnectionEndReason.Expired),
            ended);
        recorder.During = null;
        table.Tick(clock, 1);
        Assert.Single(recorder.Ends);
    }

    [Fact]
    public void Observer_RemoveRemoveAllOfAndNoDestination_ReportEachReasonOnce()
    {
        var recorder = new Recorder();
        var (table, _, _, servers) = NewTable(observer: recorder, expireNoDest: true);
        _ = table.TryAdd(new NewConnection(Tcp(Client(1), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out var removed);
        Assert.True(table.Remove(removed));
        Assert.False(table.Remove(removed));
        Assert.Equal(ConnectionEndReason.Removed, Assert.Single(recorder.Ends).Reason);

        var key = PersistenceKey.Create(Http, Tcp(Client(2), Virtual()), 32);
        _ = table.TryAddTemplate(key, 1, servers[1].Endpoint, 300, out var template);
        _ = table.TryAdd(new NewConnection(Tcp(Client(2), Virtual()), 1, servers[1].Endpoint, ForwardingMethod.Nat) { Template = template }, out var controlled);
        Assert.Equal(2, table.RemoveAllOf(1));
        Assert.Equal(3, recorder.Ends.Count);
        Assert.Equal(controlled, recorder.Ends[1].Handle);
        Assert.Equal(template, recorder.Ends[1].Template);
        Assert.Equal(ConnectionEndReason.ServerRemoved, recorder.Ends[1].Reason);
        Assert.Equal(template, recorder.Ends[2].Handle);
        Assert.True(recorder.Ends[2].IsTemplate);
        Assert.Equal(ConnectionEndReason.ServerRemoved, recorder.Ends[2].Reason);
        Assert.Equal(0, servers[1].PersistentConnections + servers[1].ActiveConnections + servers[1].InactiveConnections);

        var flow = Tcp(Client(3), Virtual());
        _ = table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat), out var gone);
        servers[0].IsAvailable = false;
        Assert.False(table.TryGetInbound(flow, out _));
        Assert.Equal(new[] { gone }, recorder.Ends.Skip(3).Select(e => e.Handle));
        Assert.Equal(ConnectionEndReason.ServerUnavailable, recorder.Ends[3].Reason);
    }

    [Fact]
    public void Observer_FloodDefence_ReportsDroppedEntryOnceForSingleAndBatchedAdds()
    {
        var recorder = new Recorder();
        var (table, _, _, servers) = NewTable(capacity: 16, observer: recorder);
        var first = new ConnectionHandle[16];
        for (int i = 0; i < 16; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out first[i]));
        }

        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(100), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out _));
        var dropped = Assert.Single(recorder.Ends);
        Assert.Equal(ConnectionEndReason.Dropped, dropped.Reason);
        Assert.Contains(dropped.Handle, first);

        var batch = Enumerable.Range(200, 8).Select(i => new NewConnection(Tcp(Client(i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat)).ToArray();
        var handles = new ConnectionHandle[8];
        var results = new AddConnectionResult[8];
        Assert.Equal(8, table.TryAddBatch(batch, handles, results));
        Assert.Equal(9, recorder.Ends.Count);
        Assert.All(recorder.Ends, e => Assert.Equal(ConnectionEndReason.Dropped, e.Reason));
        Assert.Equal(9, recorder.Ends.Select(e => e.Handle).Distinct().Count());
        Assert.Equal(table.Shed, recorder.Ends.Count);
        Assert.Equal(16, servers[0].ActiveConnections + servers[0].InactiveConnections);
    }

    [Fact]
    public void Observer_ManyExpiriesInOneTick_EachReportedOnce()
    {
        var recorder = new Recorder();
        var (table, _, clock, servers) = NewTable(capacity: 1000, observer: recorder);
        for (int i = 0; i < 1000; i++)
        {
            _ = table.TryAdd(new NewConnection(Udp(Client(i), Virtual()), i % 2, servers[i % 2].Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.None }, out _);
        }

        table.Tick(clock, 301);
        Assert.Equal(1000, recorder.Ends.Count);
        Assert.Equal(1000, recorder.Ends.Select(e => e.Client).Distinct().Count());
        Assert.All(recorder.Ends, e => Assert.Equal(ConnectionEndReason.Expired, e.Reason));
        Assert.Equal(0, table.Count);
    }
}
