using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>
/// The SCTP state machine against the kernel's: net/netfilter/ipvs/ip_vs_proto_sctp.c (<c>sctp_states[][][]</c>,
/// <c>sctp_timeouts[]</c>, <c>sctp_state_name_table[]</c>, <c>set_sctp_state</c>) and ip_vs_core.c
/// (<c>is_new_conn</c>, <c>is_new_conn_expected</c>).
/// </summary>
public sealed class SctpStateMachineTests
{
    // sctp_states[IP_VS_DIR_LAST][IP_VS_SCTP_EVENT_LAST][IP_VS_SCTP_S_LAST] as the kernel writes it, row by row
    // (columns sNO, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL; rows d, i, i_a, c_e, c_a, s,
    // s_a, s_c, err, ab), in INPUT, OUTPUT, INPUT-ONLY order.
    private static readonly string[] KernelRows =
    [
        // INPUT
        "sES, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL",
        "sI1, sIN, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sIN, sIN",
        "sCW, sCW, sCW, sCS, sCR, sCO, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL",
        "sCR, sIN, sIN, sCR, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL",
        "sES, sI1, sIN, sCS, sCR, sCW, sCO, sES, sES, sSS, sSR, sSA, sRJ, sCL",
        "sSR, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sSR, sSS, sSR, sSA, sRJ, sCL",
        "sCL, sIN, sIN, sCS, sCR, sCW, sCO, sCE, sES, sCL, sSR, sCL, sRJ, sCL",
        "sCL, sCL, sCL, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sCL, sRJ, sCL",
        "sCL, sI1, sIN, sCS, sCR, sCW, sCO, sCL, sES, sSS, sSR, sSA, sRJ, sCL",
        "sCL, sCL, sCL, sCL, sCL, sRJ, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL",

        // OUTPUT
        "sES, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL",
        "sCW, sCW, sCW, sCW, sCW, sCW, sCW, sCW, sES, sCW, sCW, sCW, sCW, sCW",
        "sCS, sCS, sCS, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL",
        "sCE, sCE, sCE, sCE, sCE, sCE, sCE, sCE, sES, sSS, sSR, sSA, sRJ, sCL",
        "sES, sES, sES, sES, sES, sES, sES, sES, sES, sSS, sSR, sSA, sRJ, sCL",
        "sSS, sSS, sSS, sSS, sSS, sSS, sSS, sSS, sSS, sSS, sSR, sSA, sRJ, sCL",
        "sSA, sSA, sSA, sSA, sSA, sCW, sCO, sCE, sES, sSA, sSA, sSA, sRJ, sCL",
        "sCL, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL",
        "sCL, sCL, sCL, sCL, sCL, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL",
        "sCL, sRJ, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL",

        // INPUT-ONLY
        "sES, sI1, sIN, sCS, sCR, sES, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL",
        "sI1, sIN, sIN, sIN, sIN, sIN, sCO, sCE, sES, sSS, sSR, sSA, sIN, sIN",
        "sCE, sCE, sCE, sCE, sCE, sCE, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL",
        "sES, sES, sES, sES, sES, sES, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL",
        "sES, sI1, sIN, sES, sES, sCW, sES, sES, sES, sSS, sSR, sSA, sRJ, sCL",
        "sSR, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sSR, sSS, sSR, sSA, sRJ, sCL",
        "sCL, sIN, sIN, sCS, sCR, sCW, sCO, sCE, sCL, sCL, sSR, sCL, sRJ, sCL",
        "sCL, sCL, sCL, sCL, sCL, sCW, sCO, sCE, sES, sSS, sCL, sCL, sRJ, sCL",
        "sCL, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL",
        "sCL, sCL, sCL, sCL, sCL, sRJ, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL",
    ];

    private static readonly string[] KernelStateOrder = ["sNO", "sI1", "sIN", "sCS", "sCR", "sCW", "sCO", "sCE", "sES", "sSS", "sSR", "sSA", "sRJ", "sCL"];

    // The kernel's event order (enum ipvs_sctp_event_t) as the parser's events.
    private static readonly SctpChunkEvent[] KernelEventOrder =
    [
        SctpChunkEvent.Data, SctpChunkEvent.Init, SctpChunkEvent.InitAck, SctpChunkEvent.CookieEcho, SctpChunkEvent.CookieAck,
        SctpChunkEvent.Shutdown, SctpChunkEvent.ShutdownAck, SctpChunkEvent.ShutdownComplete, SctpChunkEvent.Error, SctpChunkEvent.Abort,
    ];

    public static TheoryData<TcpStateTable, SctpChunkEvent, SctpConnectionState, SctpConnectionState> KernelTransitions()
    {
        var data = new TheoryData<TcpStateTable, SctpChunkEvent, SctpConnectionState, SctpConnectionState>();
        for (int direction = 0; direction < 3; direction++)
        {
            for (int e = 0; e < KernelEventOrder.Length; e++)
            {
                string[] row = KernelRows[(direction * KernelEventOrder.Length) + e].Split(", ");
                Assert.Equal(KernelStateOrder.Length, row.Length);
                for (int s = 0; s < row.Length; s++)
                {
                    data.Add((TcpStateTable)direction, KernelEventOrder[e], (SctpConnectionState)s, (SctpConnectionState)Array.IndexOf(KernelStateOrder, row[s]));
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(KernelTransitions))]
    public void Next_EveryDirectionEventAndState_IsTheKernelsSctpStatesEntry(TcpStateTable table, SctpChunkEvent @event, SctpConnectionState from, SctpConnectionState expected) =>
        Assert.Equal(expected, SctpStateMachine.Next(from, table, @event));

    [Fact]
    public void Next_AbortAfterCookie_IsTheAbortRow_AndNoChunkLeavesTheState()
    {
        foreach (TcpStateTable table in Enum.GetValues<TcpStateTable>())
        {
            for (int s = 0; s < SctpStateMachine.StateCount; s++)
            {
                var state = (SctpConnectionState)s;
                Assert.Equal(SctpStateMachine.Next(state, table, SctpChunkEvent.Abort), SctpStateMachine.Next(state, table, SctpChunkEvent.AbortAfterCookie));
                Assert.Equal(state, SctpStateMachine.Next(state, table, SctpChunkEvent.None));
            }
        }
    }

    [Fact]
    public void Names_AreTheKernelsSctpStateNameTable()
    {
        string[] expected = ["NONE", "INIT1", "INIT", "C-SENT", "C-REPLIED", "C-WAIT", "COOKIE", "C-ECHOED", "ESTABLISHED", "S-SENT", "S-RECEIVED", "S-ACK-SENT", "REJECTED", "CLOSED"];
        Assert.Equal(expected, Enumerable.Range(0, SctpStateMachine.StateCount).Select(s => SctpStateMachine.Name((SctpConnectionState)s)));
        Assert.Equal("ERR!", SctpStateMachine.Name((SctpConnectionState)14));
    }

    [Fact]
    public void Timeouts_DefaultToTheKernelsSctpTimeouts()
    {
        var timeouts = new ConnectionTimeouts();
        int[] expected = [2, 4, 61, 61, 61, 61, 61, 61, 900, 61, 61, 61, 4, 61];
        Assert.Equal(expected, Enumerable.Range(0, SctpStateMachine.StateCount).Select(s => timeouts.GetSctp((SctpConnectionState)s)));
        timeouts.SetSctp(SctpConnectionState.Established, 120);
        Assert.Equal(120, timeouts.GetSctp(SctpConnectionState.Established));
        Assert.Throws<ArgumentOutOfRangeException>(() => timeouts.SetSctp((SctpConnectionState)14, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => timeouts.SetSctp(SctpConnectionState.Closed, 0));
    }

    [Fact]
    public void IsActive_OnlyEstablished()
    {
        for (int s = 0; s < SctpStateMachine.StateCount; s++)
        {
            Assert.Equal(s == (int)SctpConnectionState.Established, SctpStateMachine.IsActive((SctpConnectionState)s));
        }
    }

    private static FlowKey Sctp(InetEndpoint client, InetEndpoint @virtual) => new(L4Protocol.Sctp, client, @virtual);

    private static TcpFlags Of(SctpChunkEvent @event) => (TcpFlags)(byte)@event;

    [Fact]
    public void Association_ThroughNat_FollowsTheKernelsStates_ActiveOnlyWhileEstablished_ListedAsIpvsadm()
    {
        var (table, _, clock, servers) = NewTable();
        var flow = Sctp(Client(1, 5000), Virtual(0, 36412));
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = Of(SctpChunkEvent.Init) }, out var h));

        void Expect(SctpConnectionState state, string name, int seconds)
        {
            Assert.True(table.TryGetInfo(h, out var info));
            Assert.Equal(state, info.SctpState);
            Assert.Equal(name, info.StateName);
            Assert.Equal("SCTP", info.ProtocolName);
            Assert.Equal(state == SctpConnectionState.Established, info.IsActive);
            Assert.Equal(state == SctpConnectionState.Established ? 1 : 0, servers[0].ActiveConnections);
            Assert.Equal(state == SctpConnectionState.Established ? 0 : 1, servers[0].InactiveConnections);
            Assert.InRange(info.Expires.TotalSeconds, seconds - 1, seconds);
        }

        Expect(SctpConnectionState.Init1, "INIT1", 4);
        Assert.True(table.Update(h, PacketDirection.Outbound, Of(SctpChunkEvent.InitAck)));
        Expect(SctpConnectionState.CookieSent, "C-SENT", 61);
        Assert.True(table.Update(h, PacketDirection.Inbound, Of(SctpChunkEvent.CookieEcho)));
        Expect(SctpConnectionState.CookieReplied, "C-REPLIED", 61);
        Assert.True(table.Update(h, PacketDirection.Outbound, Of(SctpChunkEvent.CookieAck)));
        Expect(SctpConnectionState.Established, "ESTABLISHED", 900);
        Assert.True(table.Update(h, PacketDirection.Inbound, Of(SctpChunkEvent.Data)));
        Assert.True(table.Update(h, PacketDirection.Outbound, Of(SctpChunkEvent.Data)));
        Expect(SctpConnectionState.Established, "ESTABLISHED", 900);
        Assert.True(table.Update(h, PacketDirection.Inbound, Of(SctpChunkEvent.Shutdown)));
        Expect(SctpConnectionState.ShutdownReceived, "S-RECEIVED", 61);
        Assert.True(table.Update(h, PacketDirection.Outbound, Of(SctpChunkEvent.ShutdownAck)));
        Expect(SctpConnectionState.ShutdownAckSent, "S-ACK-SENT", 61);
        Assert.True(table.Update(h, PacketDirection.Inbound, Of(SctpChunkEvent.ShutdownComplete)));
        Expect(SctpConnectionState.Closed, "CLOSED", 61);

        table.Tick(clock, 62);
        Assert.False(table.TryGetInbound(flow, out _));
        Assert.Equal(0, servers[0].InactiveConnections);
    }

    [Fact]
    public void FirstInit_TimesOutAfterInit1sFourSeconds()
    {
        var (table, _, clock, servers) = NewTable();
        var flow = Sctp(Client(1, 5000), Virtual(0, 36412));
        _ = table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = Of(SctpChunkEvent.Init) }, out _);
        table.Tick(clock, 3);
        Assert.True(table.TryGetInbound(flow, out _));
        table.Tick(clock, 2);
        Assert.False(table.TryGetInbound(flow, out _));
    }

    [Fact]
    public void DirectRouting_UsesInputOnly_CookieEchoEstablishes_UntilAReplyIsSeen()
    {
        var (table, _, _, servers) = NewTable();
        var flow = Sctp(Client(1, 5000), Virtual(0, 36412));
        _ = table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.DirectRouting) { FirstPacket = Of(SctpChunkEvent.Init) }, out var h);
        Assert.True(table.TryGetInfo(h, out var info));
        Assert.Equal(SctpConnectionState.Init1, info.SctpState);

        // INPUT-ONLY c_e from INIT1 is ESTABLISHED (INPUT would give INIT).
        Assert.True(table.Update(h, PacketDirection.Inbound, Of(SctpChunkEvent.CookieEcho)));
        Assert.True(table.TryGetInfo(h, out info));
        Assert.Equal(SctpConnectionState.Established, info.SctpState);
        Assert.Equal(1, servers[0].ActiveConnections);

        // INPUT-ONLY s_a from ESTABLISHED is CLOSED (INPUT keeps ESTABLISHED).
        Assert.True(table.Update(h, PacketDirection.Inbound, Of(SctpChunkEvent.ShutdownAck)));
        Assert.True(table.TryGetInfo(h, out info));
        Assert.Equal(SctpConnectionState.Closed, info.SctpState);
        Assert.Equal(0, servers[0].ActiveConnections);
    }

    [Fact]
    public void PacketWithoutChunk_LeavesTheStateButRestartsTheTimer()
    {
        var (table, _, clock, servers) = NewTable();
        var flow = Sctp(Client(1, 5000), Virtual(0, 36412));
        _ = table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = Of(SctpChunkEvent.Init) }, out var h);
        table.Tick(clock, 3);
        Assert.True(table.Update(h, PacketDirection.Inbound, Of(SctpChunkEvent.None)));
        table.Tick(clock, 3);
        Assert.True(table.TryGetInfo(h, out var info));
        Assert.Equal(SctpConnectionState.Init1, info.SctpState);
    }

    [Theory]
    [InlineData(SctpChunkEvent.Init, SctpConnectionState.Closed, 1, true)]
    [InlineData(SctpChunkEvent.Init, SctpConnectionState.Closed, 0, false)]
    [InlineData(SctpChunkEvent.Init, SctpConnectionState.Established, 1, false)]
    [InlineData(SctpChunkEvent.Init, SctpConnectionState.ShutdownAckSent, 1, false)]
    [InlineData(SctpChunkEvent.Shutdown, SctpConnectionState.Closed, 1, false)]
    [InlineData(SctpChunkEvent.InitAck, SctpConnectionState.Closed, 1, false)]
    [InlineData(SctpChunkEvent.Abort, SctpConnectionState.Closed, 1, false)]
    public void ShouldReschedule_OnlyAnInitOnAClosedAssociation(SctpChunkEvent @event, SctpConnectionState state, int mode, bool expected)
    {
        var (table, _, _, servers) = NewTable(reuseMode: mode);
        var flow = Sctp(Client(1, 5000), Virtual(0, 36412));
        _ = table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = Of(SctpChunkEvent.Init) }, out var h);
        SctpChunkEvent[] path = state switch
        {
            SctpConnectionState.Established => [SctpChunkEvent.InitAck, SctpChunkEvent.CookieEcho, SctpChunkEvent.CookieAck],
            SctpConnectionState.ShutdownAckSent => [SctpChunkEvent.InitAck, SctpChunkEvent.CookieEcho, SctpChunkEvent.CookieAck, SctpChunkEvent.Shutdown, SctpChunkEvent.ShutdownAck],
            _ => [SctpChunkEvent.Abort],
        };
        bool outbound = true;
        foreach (var e in path)
        {
            Assert.True(table.Update(h, e == SctpChunkEvent.Abort ? PacketDirection.Inbound : outbound ? PacketDirection.Outbound : PacketDirection.Inbound, Of(e)));
            outbound = !outbound;
        }

        Assert.True(table.TryGetInfo(h, out var info));
        Assert.Equal(state, info.SctpState);
        Assert.Equal(expected, table.ShouldReschedule(h, Of(@event)));
    }

    [Fact]
    public void Template_IsAssuredWhenAnAssociationItPlacedIsEstablished()
    {
        var (table, _, _, servers) = NewTable();
        var flow = Sctp(Client(1, 5000), Virtual(0, 36412));
        var key = PersistenceKey.Create(VirtualServiceKey.ForAddress(L4Protocol.Sctp, Virtual(0, 36412)), flow, 32);
        Assert.Equal(AddConnectionResult.Added, table.TryAddTemplate(key, 0, servers[0].Endpoint, 300, out var template));
        _ = table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = Of(SctpChunkEvent.Init), Template = template }, out var h);
        Assert.True(table.TryGetInfo(template, out var t));
        Assert.Equal("NONE", t.StateName);
        Assert.True(table.Update(h, PacketDirection.Outbound, Of(SctpChunkEvent.InitAck)));
        Assert.True(table.Update(h, PacketDirection.Inbound, Of(SctpChunkEvent.CookieEcho)));
        Assert.True(table.TryGetInfo(template, out t));
        Assert.Equal("NONE", t.StateName);
        Assert.True(table.Update(h, PacketDirection.Outbound, Of(SctpChunkEvent.CookieAck)));
        Assert.True(table.TryGetInfo(template, out t));
        Assert.Equal("ASSURED", t.StateName);
    }

    [Fact]
    public void FloodDefence_ShedsInitStatesAtOnce_NeverCookieStates_AsIpVsRandomDropentry()
    {
        var (table, _, _, servers) = NewTable(capacity: 4);
        var handles = new ConnectionHandle[4];
        for (int i = 0; i < 4; i++)
        {
            var flow = Sctp(Client(i, 5000), Virtual(0, 36412));
            Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(flow, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = Of(SctpChunkEvent.Init) }, out handles[i]));
            Assert.True(table.Update(handles[i], PacketDirection.Outbound, Of(SctpChunkEvent.InitAck)));
            Assert.True(table.Update(handles[i], PacketDirection.Inbound, Of(SctpChunkEvent.CookieEcho)));
        }

        // Four associations in C-REPLIED: nothing the kernel would drop.
        var late = Sctp(Client(10, 5000), Virtual(0, 36412));
        Assert.Equal(AddConnectionResult.Full, table.TryAdd(new NewConnection(late, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = Of(SctpChunkEvent.Init) }, out _));

        // One of them is aborted and a new INIT takes its place in INIT1: the next INIT sheds that one.
        Assert.True(table.Remove(handles[3]));
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(late, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = Of(SctpChunkEvent.Init) }, out _));
        var later = Sctp(Client(11, 5000), Virtual(0, 36412));
        Assert.Equal(AddConnectionResult.Added, table.TryAdd(new NewConnection(later, 0, servers[0].Endpoint, ForwardingMethod.Nat) { FirstPacket = Of(SctpChunkEvent.Init) }, out _));
        Assert.False(table.TryGetInbound(late, out _));
        for (int i = 0; i < 3; i++)
        {
            Assert.True(table.TryGetInbound(Sctp(Client(i, 5000), Virtual(0, 36412)), out _));
        }
    }
}
