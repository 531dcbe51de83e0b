using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>
/// A connection controlled by another connection (<see cref="NewConnection.Control"/>, the kernel's
/// <c>ip_vs_control_add</c> as the FTP helper ties a data connection to its control connection): the controller stays
/// while it controls (its expiry put off 60 s at a time, <c>expire_later</c>; removals refused) and goes after.
/// </summary>
public class ConnectionControlTests
{
    private sealed class Recorder : IConnectionEndObserver
    {
        public List<ConnectionEnd> Ends { get; } = [];

        public void OnConnectionEnded(in ConnectionEnd end) => Ends.Add(end);
    }

    /// <summary>An ESTABLISHED control connection (client 1, port 21) and its data connection (client 1, port 20 from the server's side), controlled by it.</summary>
    private static (ConnectionHandle Control, ConnectionHandle Data) ControlAndData(ConnectionTable table, RealServer server)
    {
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(1), Virtual(0, 21)), 0, server.Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out var control));
        Assert.True(table.Update(control, PacketDirection.Inbound, TcpFlags.Ack));
        Assert.Equal(
            AddConnectionResult.Added,
            table.TryAdd(new NewConnection(Tcp(Client(1, 41000), Virtual(0, 50000)), 0, server.Endpoint, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn, Control = control }, out var data));
        return (control, data);
    }

    [Fact]
    public void Controller_OutlivesItsTimeoutWhileItControls_PutOff60SecondsAtATime_ThenExpires()
    {
        // ESTABLISHED lasts 100 s here, SYN_RECV (the data connection's state) 1000 s.
        var (table, _, clock, servers) = NewTable(timeouts: t =>
        {
            t.SetTcp(TcpConnectionState.Established, 100);
            t.SetTcp(TcpConnectionState.SynRecv, 1000);
        });
        var (control, data) = ControlAndData(table, servers[0]);
        Assert.True(table.TryGetControl(data, out var controller));
        Assert.Equal(control, controller);
        Assert.True(table.TryGetControl(control, out var none));
        Assert.False(none.IsSome);

        // Due at tick 101: still controlling, put off to 101 + 61 = 162 (the tick's rounding included).
        table.Tick(clock, 101);
        Assert.True(table.TryGetInfo(control, out var info));
        Assert.Equal(TcpConnectionState.Established, info.TcpState);
        Assert.InRange(info.Expires, TimeSpan.FromSeconds(59), TimeSpan.FromSeconds(61));
        table.Tick(clock, 60);
        Assert.True(table.TryGetInfo(control, out _));
        Assert.False(table.Remove(control));

        // Once the data connection has gone, the next postponed expiry removes the control connection.
        Assert.True(table.Remove(data));
        table.Tick(clock, 61);
        Assert.False(table.TryGetInfo(control, out _));
        Assert.Equal(0, table.Count);
        Assert.Equal(0, servers[0].ActiveConnections + servers[0].InactiveConnections);
    }

    [Fact]
    public void Controller_APacketAfterItsExpiryWasPutOff_SetsItsStatesTimeoutAgain()
    {
        var (table, _, clock, servers) = NewTable(timeouts: t =>
        {
            t.SetTcp(TcpConnectionState.Established, 100);
            t.SetTcp(TcpConnectionState.SynRecv, 1000);
        });
        var (control, data) = ControlAndData(table, servers[0]);
        table.Tick(clock, 101);
        Assert.True(table.Update(control, PacketDirection.Inbound, TcpFlags.Ack));
        Assert.True(table.TryGetInfo(control, out var info));
        Assert.InRange(info.Expires, TimeSpan.FromSeconds(99), TimeSpan.FromSeconds(101));
        Assert.True(table.Remove(data));
        Assert.True(table.Remove(control));
    }

    [Fact]
    public void Controlled_EndsReportNoTemplate_AndTheControllerIsRemovableOnceTheyHaveEnded()
    {
        var recorder = new Recorder();
        var (table, _, _, servers) = NewTable(observer: recorder);
        var (control, data) = ControlAndData(table, servers[0]);
        Assert.False(table.Remove(control));
        Assert.Empty(recorder.Ends);

        Assert.True(table.Remove(data));
        var end = Assert.Single(recorder.Ends);
        Assert.Equal(data, end.Handle);
        Assert.False(end.Template.IsSome);

        Assert.True(table.Remove(control));
        Assert.Equal(2, recorder.Ends.Count);
    }

    [Fact]
    public void Controller_SlotReusedAfterItEnded_TheNewOccupantControlsNothing()
    {
        var (table, _, _, servers) = NewTable(capacity: 16, writerShards: 1);
        var (control, data) = ControlAndData(table, servers[0]);
        Assert.True(table.Remove(data));
        Assert.True(table.Remove(control));

        // Fill the table: one of the new connections takes the controller's slot, and each is removable at once.
        var handles = new List<ConnectionHandle>();
        for (int i = 0; i < 16; i++)
        {
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(Tcp(Client(10 + i), Virtual()), 0, servers[0].Endpoint, ForwardingMethod.Nat), out var handle));
            handles.Add(handle);
        }

        Assert.Contains(handles, h => h.Index == control.Index);
        Assert.All(handles, h => Assert.True(table.Remove(h)));
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void Control_InvalidWhenStale_WhenATemplate_OrWithATemplateToo()
    {
        var (table, _, _, servers) = NewTable();
        var (control, data) = ControlAndData(table, servers[0]);
        var key = PersistenceKey.Create(VirtualServiceKey.ForAddress(L4Protocol.Tcp, Virtual(0, 21)), Tcp(Client(1), Virtual(0, 21)), 32);
        Assert.Equal(AddConnectionResult.Added, table.TryAddTemplate(key, 0, servers[0].Endpoint, 300, out var template));

        var flow = Tcp(Client(2), Virtual(0, 50001));
        Assert.Equal(AddConnectionResult.Invalid, table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { Control = template }, out _));
        Assert.Equal(AddConnectionResult.Invalid, table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { Control = control, Template = template }, out _));

        Assert.True(table.Remove(data));
        Assert.True(table.Remove(control));
        Assert.Equal(AddConnectionResult.Invalid, table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { Control = control }, out _));

        var v6 = new FlowKey(L4Protocol.Tcp, InetEndpoint.Parse("[2001:db8::2]:40000"), InetEndpoint.Parse("[2001:db8::10]:50000"));
        var (other, _) = ControlAndData(table, servers[1]);
        Assert.Equal(AddConnectionResult.Invalid, table.TryAdd(new NewConnection(v6, 1, InetEndpoint.Parse("[2001:db8:1::11]:50000"), ForwardingMethod.Nat) { Control = other }, out _));
    }

    [Fact]
    public void RemoveAllOf_TheServersControlAndDataConnectionsBothGo()
    {
        var (table, _, _, servers) = NewTable();
        _ = ControlAndData(table, servers[0]);
        Assert.Equal(2, table.RemoveAllOf(0));
        Assert.Equal(0, table.Count);
        Assert.Equal(0, servers[0].ActiveConnections + servers[0].InactiveConnections);
    }
}
