using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;
using Lvs.HealthChecks;

namespace Lvs.Director.Tests;

/// <summary>
/// Model-based: random sequences of table edits, health events and packets through the engine; after every step the
/// engine's choice agrees with a simple reference model (a new flow goes to a server in the pool with weight above 0,
/// or is refused when there is none; a flow stays on its server, also after that server is drained, taken out or
/// deleted; a segment that is not a SYN and matches nothing is dropped; a segment for a port of the VIP that no service
/// has is reset and creates nothing), and at the end every counter equals the model's.
/// </summary>
public class DirectorEngineModelTests
{
    private const int Candidates = 4;
    private const int Ports = 12;

    public abstract record Op;

    public sealed record AddServer(int Server, int Weight) : Op;

    public sealed record DeleteServer(int Server) : Op;

    public sealed record SetWeight(int Server, int Weight) : Op;

    public sealed record HealthDown(int Server) : Op;

    public sealed record HealthUp(int Server) : Op;

    public sealed record Syn(int Port) : Op;

    public sealed record Ack(int Port) : Op;

    /// <summary>A segment (a SYN or not) from the flow's client port to a port of the VIP that no service has.</summary>
    public sealed record Unserved(int Port, bool Syn) : Op;

    private sealed class ModelServer
    {
        public bool Configured { get; set; }

        public bool InPool { get; set; }

        public int Weight { get; set; }

        public int ConfiguredWeight { get; set; }

        public long Connections { get; set; }

        public long InPackets { get; set; }
    }

    private static Gen<Op> Ops()
    {
        var server = Gen.Choose(1, Candidates);
        var weight = Gen.Elements(0, 1, 1, 2, 5);
        var port = Gen.Choose(0, Ports - 1);
        return Gen.Frequency(
            (3, from s in server from w in weight select (Op)new AddServer(s, w)),
            (1, from s in server select (Op)new DeleteServer(s)),
            (2, from s in server from w in weight select (Op)new SetWeight(s, w)),
            (1, from s in server select (Op)new HealthDown(s)),
            (1, from s in server select (Op)new HealthUp(s)),
            (5, from p in port select (Op)new Syn(p)),
            (5, from p in port select (Op)new Ack(p)),
            (2, from p in port from syn in Gen.Elements(true, false) select (Op)new Unserved(p, syn)));
    }

    [FsCheck.Xunit.Property(MaxTest = 100)]
    public Property Engine_RandomEditsHealthAndPackets_AgreesWithReferenceModel() =>
        Prop.ForAll(Arb.From(Gen.ArrayOf(Ops())), ops =>
        {
            Run(ops);
            return true;
        });

    private static void Run(Op[] ops)
    {
        using var lab = new Lab();
        var key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, new InetEndpoint(lab.Vip, 80));
        lab.Table.AddService(new VirtualServiceOptions(key) { Scheduler = "wrr" });
        var model = Enumerable.Range(0, Candidates + 1).Select(_ => new ModelServer()).ToArray();
        var flows = new Dictionary<int, int>();
        long refused = 0;
        long notSyn = 0;
        long unserved = 0;
        InetEndpoint Endpoint(int n) => new(lab.Server(n), 8080);
        RealServerOptions Options(int n, int w) => new(Endpoint(n)) { Method = ForwardingMethod.Nat, Weight = w };
        for (int n = 1; n <= Candidates; n++)
        {
            lab.Engine.Neighbors.Set(1, lab.Server(n), Lab.ServerMac(n));
        }

        foreach (var op in ops)
        {
            switch (op)
            {
                case AddServer(var n, var w) when !model[n].Configured:
                    lab.Table.AddRealServer(key, Options(n, w));
                    (model[n].Configured, model[n].InPool, model[n].Weight, model[n].ConfiguredWeight) = (true, true, w, w);
                    break;
                case DeleteServer(var n) when model[n].Configured:
                    lab.Table.DeleteRealServer(key, Endpoint(n));
                    (model[n].Configured, model[n].InPool) = (false, false);
                    break;
                case SetWeight(var n, var w) when model[n].Configured:
                    lab.Table.EditRealServer(key, Options(n, w));
                    (model[n].Weight, model[n].ConfiguredWeight) = (w, w);
                    break;
                case HealthDown(var n) when model[n].Configured && model[n].InPool:
                    Assert.True(lab.Table.ApplyHealth(key, Endpoint(n), PoolAction.Remove, model[n].Weight));
                    model[n].InPool = false;
                    break;
                case HealthUp(var n) when model[n].Configured && !model[n].InPool:
                    Assert.True(lab.Table.ApplyHealth(key, Endpoint(n), PoolAction.Add, model[n].ConfiguredWeight));
                    (model[n].InPool, model[n].Weight) = (true, model[n].ConfiguredWeight);
                    break;
                case Syn(var p):
                    Packet(p, syn: true);
                    break;
                case Ack(var p):
                    Packet(p, syn: false);
                    break;
                case Unserved(var p, var syn):
                    ToUnservedPort(p, syn);
                    break;
                default:
                    break;
            }
        }

        for (int n = 1; n <= Candidates; n++)
        {
            var live = FindServer(n);
            var counters = live is null ? default : lab.Engine.GetCounters(live);
            Assert.Equal(model[n].Connections, counters.Connections);
            Assert.Equal(model[n].InPackets, counters.InPackets);
        }

        Assert.Equal(refused, lab.Engine.GetDropCount(DropReason.NoRealServer));
        Assert.Equal(notSyn, lab.Engine.GetDropCount(DropReason.NotSyn));
        Assert.Equal(unserved, lab.Engine.GetDropCount(DropReason.NoVirtualService));
        Assert.Equal(model.Sum(m => m.Connections), lab.Engine.GetCounters(lab.Table.Snapshot.Find(key)!).Connections);

        RealServer? FindServer(int n)
        {
            for (int i = 0; i < lab.Table.Registry.Count; i++)
            {
                if (lab.Table.Registry[i].Endpoint == Endpoint(n))
                {
                    return lab.Table.Registry[i];
                }
            }

            return null;
        }

        void ToUnservedPort(int p, bool syn)
        {
            // The host's reset back to the client, whatever the service on port 80 holds for the same client port.
            var frame = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, (ushort)(30000 + p), lab.Vip, 81, syn ? "S" : "A");
            var verdict = lab.Send(frame, 0);
            Assert.Equal((FrameAction.Transmit, 0, DropReason.NoVirtualService), (verdict.Action, verdict.Link, verdict.Reason));
            Assert.True(PacketAssert.Tcp(frame.Output(verdict)).Reset);
            unserved++;
        }

        void Packet(int p, bool syn)
        {
            ushort port = (ushort)(30000 + p);
            var frame = Lab.Tcp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, port, lab.Vip, 80, syn ? "S" : "A");
            var verdict = lab.Send(frame, 0);
            if (flows.TryGetValue(p, out int server))
            {
                // An existing flow stays on its server, whatever happened to the server since.
                Assert.Equal(FrameAction.Transmit, verdict.Action);
                Assert.Equal(1, verdict.Link);
                Assert.Equal(lab.Server(server).ToIPAddress(), PacketAssert.Ip(frame.Output(verdict)).DestinationAddress);
                model[server].InPackets++;
                return;
            }

            if (!syn)
            {
                Assert.Equal(DropReason.NotSyn, verdict.Reason);
                notSyn++;
                return;
            }

            var eligible = Enumerable.Range(1, Candidates).Where(n => model[n].Configured && model[n].InPool && model[n].Weight > 0).ToList();
            if (eligible.Count == 0)
            {
                Assert.Equal(DropReason.NoRealServer, verdict.Reason);
                refused++;
                return;
            }

            Assert.Equal(FrameAction.Transmit, verdict.Action);
            var chosen = InetAddress.FromIPAddress(PacketAssert.Ip(frame.Output(verdict)).DestinationAddress);
            int pick = eligible.SingleOrDefault(n => lab.Server(n) == chosen);
            Assert.True(pick != 0, $"{chosen} is not a server the model allows ({string.Join(", ", eligible)})");
            flows[p] = pick;
            model[pick].Connections++;
            model[pick].InPackets++;
        }
    }
}
