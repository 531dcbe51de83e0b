using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;
using Lvs.Core.Headers;
using static Lvs.ConnectionTracking.Tests.TestNetwork;

namespace Lvs.ConnectionTracking.Tests;

/// <summary>
/// Model-based test: random sequences of adds, packets in both directions, removals, clock advances and capacity
/// pressure, run against the table and against a plain dictionary model, compared after every step.
/// </summary>
public class ConnectionTableModelTests
{
    private const int Capacity = 10;
    private const int ClientCount = 6;
    private const int VipCount = 2;
    private const int UdpTimeout = 12;

    // Small timeouts so that random clock advances reach them; NONE, ES, SS, SR, FW, TW, CL, CW, LA, LI, SA.
    private static readonly int[] TcpTimeouts = [2, 25, 8, 6, 9, 7, 4, 6, 3, 8, 8];

    public abstract record Op;

    public sealed record Add(int Client, int Vip, bool Udp, int ServerChoice, ForwardingMethod Method) : Op;

    public sealed record Packet(int Client, int Vip, bool Udp, PacketDirection Direction, TcpFlags Flags) : Op;

    public sealed record Remove(int Client, int Vip, bool Udp) : Op;

    public sealed record Advance(int Seconds) : Op;

    private sealed class ModelConnection
    {
        public required ConnectionHandle Handle { get; init; }

        public required int Server { get; init; }

        public required ForwardingMethod Method { get; init; }

        public required bool Udp { get; init; }

        public TcpConnectionState State { get; set; }

        public uint Expiry { get; set; }

        public bool NoOutput { get; set; }

        public bool Active { get; set; }

        public bool HalfOpen => !Udp && TcpStateMachine.IsHalfOpen(State);
    }

    private static Gen<Op> Ops()
    {
        var key = from c in Gen.Choose(0, ClientCount - 1)
                  from v in Gen.Choose(0, VipCount - 1)
                  from u in Gen.Elements(false, false, true)
                  select (c, v, u);
        var add = from k in key
                  from s in Gen.Choose(0, 1)
                  from m in Gen.Elements(ForwardingMethod.Nat, ForwardingMethod.DirectRouting, ForwardingMethod.FullNat)
                  select (Op)new Add(k.c, k.v, k.u, s, m);
        var packet = from k in key
                     from d in Gen.Elements(PacketDirection.Inbound, PacketDirection.Inbound, PacketDirection.Outbound)
                     from f in Gen.Elements(TcpFlags.Syn, TcpFlags.Syn | TcpFlags.Ack, TcpFlags.Ack, TcpFlags.Ack, TcpFlags.Fin | TcpFlags.Ack, TcpFlags.Rst, TcpFlags.Psh | TcpFlags.Ack, TcpFlags.None)
                     select (Op)new Packet(k.c, k.v, k.u, d, f);
        var remove = from k in key select (Op)new Remove(k.c, k.v, k.u);
        var advance = from s in Gen.Elements(0, 1, 1, 2, 3, 5, 7, 12, 30) select (Op)new Advance(s);
        return Gen.Frequency((4, add), (6, packet), (1, remove), (3, advance));
    }

    [FsCheck.Xunit.Property(MaxTest = 300)]
    public Property Table_RandomOperations_MatchesDictionaryModelAfterEveryStep() =>
        Prop.ForAll(Arb.From(Gen.ArrayOf(Ops())), ops =>
        {
            Run(ops, inboundCells: 15);
            return true;
        });

    /// <summary>
    /// The same with two cells per inbound bucket: this small table has one bucket, so most connections live in its
    /// overflow chain, added and removed at every place in it, as in the fuller buckets of a large table.
    /// </summary>
    [FsCheck.Xunit.Property(MaxTest = 300)]
    public Property Table_RandomOperationsThroughOverflowChains_MatchesDictionaryModelAfterEveryStep() =>
        Prop.ForAll(Arb.From(Gen.ArrayOf(Ops())), ops =>
        {
            Run(ops, inboundCells: 2);
            return true;
        });

    private static void Run(Op[] ops, int inboundCells)
    {
        var (table, registry, clock, _) = NewTable(capacity: Capacity, servers: 0, inboundCells: inboundCells, timeouts: t =>
        {
            for (int s = 0; s < TcpTimeouts.Length; s++)
            {
                t.SetTcp((TcpConnectionState)s, TcpTimeouts[s]);
            }

            t.Udp = UdpTimeout;
        });
        var servers = new RealServer[VipCount * 2];
        for (int i = 0; i < servers.Length; i++)
        {
            servers[i] = new RealServer(Server(i), 1, ForwardingMethod.Nat);
            Assert.Equal(i, registry.Register(servers[i]));
        }

        var model = new Dictionary<(int Client, int Vip, bool Udp), ModelConnection>();
        uint now = 0;
        long refused = 0;
        foreach (var op in ops)
        {
            switch (op)
            {
                case Add a:
                    now = ApplyAdd(table, model, a, now, ref refused);
                    break;
                case Packet p:
                    ApplyPacket(table, model, p, now);
                    break;
                case Remove r:
                    Assert.Equal(model.Remove((r.Client, r.Vip, r.Udp), out var removed), removed is not null && table.Remove(removed.Handle));
                    break;
                case Advance adv:
                    now += (uint)adv.Seconds;
                    table.Tick(clock, adv.Seconds);
                    // A timer set at cached tick n runs to tick n + T + 1: never before T seconds have passed (issue 16).
                    foreach (var k in model.Where(kv => kv.Value.Expiry + 1 <= now).Select(kv => kv.Key).ToList())
                    {
                        model.Remove(k);
                    }

                    break;
            }

            Check(table, servers, model, now, refused);
        }
    }

    private static uint ApplyAdd(ConnectionTable table, Dictionary<(int, int, bool), ModelConnection> model, Add a, uint now, ref long refused)
    {
        var k = (a.Client, a.Vip, a.Udp);
        int server = (a.Vip * 2) + a.ServerChoice;
        var request = new NewConnection(Flow(a.Client, a.Vip, a.Udp), server, Server(server), a.Method) { Local = LocalFor(a.Client, a.Vip, a.Udp) };
        var result = table.TryAdd(request, out var handle);
        if (model.TryGetValue(k, out var existing))
        {
            Assert.Equal(AddConnectionResult.Exists, result);
            Assert.Equal(existing.Handle, handle);
            return now;
        }

        if (model.Count == Capacity)
        {
            if (result == AddConnectionResult.Full)
            {
                refused++;
                return now;
            }

            // Flood defence shed exactly one entry, and it was half-open (no entry here can be idle for 60 s).
            Assert.Equal(AddConnectionResult.Added, result);
            var gone = model.Where(kv => !table.TryGetInfo(kv.Value.Handle, out _)).ToList();
            Assert.Single(gone);
            Assert.True(gone[0].Value.HalfOpen, $"shed {gone[0].Key} in {gone[0].Value.State}");
            model.Remove(gone[0].Key);
        }
        else
        {
            Assert.Equal(AddConnectionResult.Added, result);
        }

        model[k] = new ModelConnection
        {
            Handle = handle,
            Server = server,
            Method = a.Method,
            Udp = a.Udp,
            State = TcpConnectionState.None,
            Expiry = now + 3,
            NoOutput = a.Method == ForwardingMethod.DirectRouting,
        };
        return now;
    }

    private static void ApplyPacket(ConnectionTable table, Dictionary<(int, int, bool), ModelConnection> model, Packet p, uint now)
    {
        model.TryGetValue((p.Client, p.Vip, p.Udp), out var m);
        ConnectionHandle handle;
        bool found;
        if (p.Direction == PacketDirection.Inbound)
        {
            found = table.TryGetInbound(Flow(p.Client, p.Vip, p.Udp), out handle);
        }
        else
        {
            // The reply of whatever connection would own this key: the server depends on the model's choice.
            if (m is null || m.Method == ForwardingMethod.DirectRouting)
            {
                // Servers are per VIP, so no other key's connection answers from these two.
                for (int s = p.Vip * 2; s < (p.Vip * 2) + 2; s++)
                {
                    Assert.False(table.TryGetOutbound(Reply(p.Client, p.Vip, p.Udp, s, ForwardingMethod.Nat), out _));
                }

                return;
            }

            found = table.TryGetOutbound(Reply(p.Client, p.Vip, p.Udp, m.Server, m.Method), out handle);
        }

        Assert.Equal(m is not null, found);
        if (m is null)
        {
            return;
        }

        Assert.Equal(m.Handle, handle);
        Assert.True(table.Update(handle, p.Direction, p.Flags));
        if (m.Udp)
        {
            m.Expiry = now + UdpTimeout;
            return;
        }

        m.State = TcpStateMachine.Next(m.State, TcpStateMachine.TableFor(p.Direction, m.NoOutput), p.Flags);
        m.NoOutput &= p.Direction == PacketDirection.Inbound;
        m.Active = TcpStateMachine.IsActive(m.State);
        m.Expiry = now + (uint)TcpTimeouts[(int)m.State];
    }

    private static void Check(ConnectionTable table, RealServer[] servers, Dictionary<(int, int, bool), ModelConnection> model, uint now, long refused)
    {
        Assert.Equal(model.Count, table.Count);
        Assert.Equal(refused, table.Refused);
        for (int c = 0; c < ClientCount; c++)
        {
            for (int v = 0; v < VipCount; v++)
            {
                foreach (bool udp in new[] { false, true })
                {
                    bool inModel = model.TryGetValue((c, v, udp), out var m);
                    Assert.Equal(inModel, table.TryGetInbound(Flow(c, v, udp), out var handle));
                    if (m is null)
                    {
                        continue;
                    }

                    Assert.Equal(m.Handle, handle);
                    Assert.True(table.TryGetInfo(handle, out var info));
                    Assert.Equal(udp ? "UDP" : TcpStateMachine.Name(m.State), info.StateName);
                    Assert.Equal(TimeSpan.FromSeconds(m.Expiry - now), info.Expires);
                    Assert.Equal(Server(m.Server), info.Destination);
                    Assert.Equal(m.Active, info.IsActive);
                    if (m.Method != ForwardingMethod.DirectRouting)
                    {
                        Assert.True(table.TryGetOutbound(Reply(c, v, udp, m.Server, m.Method), out var back));
                        Assert.Equal(m.Handle, back);
                    }
                }
            }
        }

        for (int s = 0; s < servers.Length; s++)
        {
            var mine = model.Values.Where(x => x.Server == s).ToList();
            Assert.Equal(mine.Count(x => x.Active), servers[s].ActiveConnections);
            Assert.Equal(mine.Count(x => !x.Active), servers[s].InactiveConnections);
        }

        Assert.Equal(model.Count, table.Enumerate().Count());
    }

    private static FlowKey Flow(int client, int vip, bool udp) =>
        new(udp ? L4Protocol.Udp : L4Protocol.Tcp, Client(client / 2, (ushort)(1000 + (client % 2))), Virtual(vip));

    private static InetEndpoint LocalFor(int client, int vip, bool udp) =>
        new(InetAddress.Parse("198.51.100.1"), (ushort)(2000 + (client * 8) + (vip * 2) + (udp ? 1 : 0)));

    private static FlowKey Reply(int client, int vip, bool udp, int server, ForwardingMethod method) =>
        new(
            udp ? L4Protocol.Udp : L4Protocol.Tcp,
            Server(server),
            method == ForwardingMethod.FullNat ? LocalFor(client, vip, udp) : Client(client / 2, (ushort)(1000 + (client % 2))));

}
