
using Lvs.Core.Headers;
namespace Lvs.ConnectionTracking.Tests;

public class TcpStateMachineTests
{
    // The kernel's tcp_states[] (net/netfilter/ipvs/ip_vs_proto_tcp.c), copied row by row as text: each row is the
    // next state for the current states sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA.
    private static readonly string[] Columns = ["sNO", "sES", "sSS", "sSR", "sFW", "sTW", "sCL", "sCW", "sLA", "sLI", "sSA"];

    public static TheoryData<TcpStateTable, TcpFlags, string> KernelRows => new()
    {
        { TcpStateTable.Input, TcpFlags.Syn, "sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR" },
        { TcpStateTable.Input, TcpFlags.Fin, "sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW" },
        { TcpStateTable.Input, TcpFlags.Ack, "sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES" },
        { TcpStateTable.Input, TcpFlags.Rst, "sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR" },
        { TcpStateTable.Output, TcpFlags.Syn, "sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR" },
        { TcpStateTable.Output, TcpFlags.Fin, "sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW" },
        { TcpStateTable.Output, TcpFlags.Ack, "sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES" },
        { TcpStateTable.Output, TcpFlags.Rst, "sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL" },
        { TcpStateTable.InputOnly, TcpFlags.Syn, "sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR" },
        { TcpStateTable.InputOnly, TcpFlags.Fin, "sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW" },
        { TcpStateTable.InputOnly, TcpFlags.Ack, "sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES" },
        { TcpStateTable.InputOnly, TcpFlags.Rst, "sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL" },
    };

    private static TcpConnectionState Parse(string kernelName) => kernelName.Trim() switch
    {
        "sNO" => TcpConnectionState.None,
        "sES" => TcpConnectionState.Established,
        "sSS" => TcpConnectionState.SynSent,
        "sSR" => TcpConnectionState.SynRecv,
        "sFW" => TcpConnectionState.FinWait,
        "sTW" => TcpConnectionState.TimeWait,
        "sCL" => TcpConnectionState.Close,
        "sCW" => TcpConnectionState.CloseWait,
        "sLA" => TcpConnectionState.LastAck,
        "sLI" => TcpConnectionState.Listen,
        "sSA" => TcpConnectionState.SynAck,
        _ => throw new ArgumentException(kernelName),
    };

    [Theory]
    [MemberData(nameof(KernelRows))]
    public void Next_EveryStateOfKernelRow_MatchesKernelTable(TcpStateTable table, TcpFlags flags, string row)
    {
        string[] next = row.Split(',');
        Assert.Equal(Columns.Length, next.Length);
        for (int s = 0; s < Columns.Length; s++)
        {
            var from = Parse(Columns[s]);
            Assert.Equal(Parse(next[s]), TcpStateMachine.Next(from, table, flags));

            // PSH and URG do not select a row (tcp_state_idx looks at rst, syn, fin, ack only).
            Assert.Equal(Parse(next[s]), TcpStateMachine.Next(from, table, flags | TcpFlags.Psh | TcpFlags.Urg));
        }
    }

    [Theory]
    [InlineData(TcpFlags.Rst | TcpFlags.Syn, TcpFlags.Rst)]
    [InlineData(TcpFlags.Rst | TcpFlags.Ack, TcpFlags.Rst)]
    [InlineData(TcpFlags.Syn | TcpFlags.Ack, TcpFlags.Syn)]
    [InlineData(TcpFlags.Syn | TcpFlags.Fin, TcpFlags.Syn)]
    [InlineData(TcpFlags.Fin | TcpFlags.Ack, TcpFlags.Fin)]
    public void Next_SeveralFlags_KernelPrecedenceRstSynFinAck(TcpFlags flags, TcpFlags decisive)
    {
        foreach (var table in new[] { TcpStateTable.Input, TcpStateTable.Output, TcpStateTable.InputOnly })
        {
            for (int s = 0; s < TcpStateMachine.StateCount; s++)
            {
                var state = (TcpConnectionState)s;
                Assert.Equal(TcpStateMachine.Next(state, table, decisive), TcpStateMachine.Next(state, table, flags));
            }
        }
    }

    [Fact]
    public void Next_NoDecisiveFlag_GoesToClose()
    {
        Assert.Equal(TcpConnectionState.Close, TcpStateMachine.Next(TcpConnectionState.Established, TcpStateTable.Input, TcpFlags.None));
        Assert.Equal(TcpConnectionState.Close, TcpStateMachine.Next(TcpConnectionState.SynRecv, TcpStateTable.Output, TcpFlags.Psh));
    }

    [Fact]
    public void Handshake_ThroughNat_ReachesEstablishedThenTimeWait()
    {
        var s = TcpConnectionState.None;
        s = TcpStateMachine.Next(s, TcpStateTable.Input, TcpFlags.Syn);
        Assert.Equal(TcpConnectionState.SynRecv, s);
        s = TcpStateMachine.Next(s, TcpStateTable.Output, TcpFlags.Syn | TcpFlags.Ack);
        Assert.Equal(TcpConnectionState.SynRecv, s);
        s = TcpStateMachine.Next(s, TcpStateTable.Input, TcpFlags.Ack);
        Assert.Equal(TcpConnectionState.Established, s);
        s = TcpStateMachine.Next(s, TcpStateTable.Input, TcpFlags.Fin | TcpFlags.Ack);
        Assert.Equal(TcpConnectionState.CloseWait, s);
        s = TcpStateMachine.Next(s, TcpStateTable.Output, TcpFlags.Fin | TcpFlags.Ack);
        Assert.Equal(TcpConnectionState.TimeWait, s);
    }

    [Fact]
    public void TableFor_DirectionAndNoOutput_PicksKernelSection()
    {
        Assert.Equal(TcpStateTable.Input, TcpStateMachine.TableFor(PacketDirection.Inbound, noOutput: false));
        Assert.Equal(TcpStateTable.InputOnly, TcpStateMachine.TableFor(PacketDirection.Inbound, noOutput: true));
        Assert.Equal(TcpStateTable.Output, TcpStateMachine.TableFor(PacketDirection.Outbound, noOutput: true));
    }

    [Fact]
    public void IsActive_KernelActiveTable()
    {
        // tcp_state_active_table: ES, SS, SR and SA are active.
        bool[] expected = [false, true, true, true, false, false, false, false, false, false, true];
        for (int s = 0; s < TcpStateMachine.StateCount; s++)
        {
            Assert.Equal(expected[s], TcpStateMachine.IsActive((TcpConnectionState)s));
        }
    }

    [Fact]
    public void Name_IpvsadmNames()
    {
        Assert.Equal("NONE", TcpStateMachine.Name(TcpConnectionState.None));
        Assert.Equal("ESTABLISHED", TcpStateMachine.Name(TcpConnectionState.Established));
        Assert.Equal("SYN_RECV", TcpStateMachine.Name(TcpConnectionState.SynRecv));
        Assert.Equal("FIN_WAIT", TcpStateMachine.Name(TcpConnectionState.FinWait));
        Assert.Equal("SYNACK", TcpStateMachine.Name(TcpConnectionState.SynAck));
        Assert.Equal("ERR!", TcpStateMachine.Name((TcpConnectionState)11));
    }
}
