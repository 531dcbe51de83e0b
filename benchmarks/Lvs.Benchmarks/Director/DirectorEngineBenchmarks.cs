using BenchmarkDotNet.Attributes;
using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Core.Headers;
using Lvs.Director;
using Lvs.Forwarding;

namespace Lvs.Benchmarks.Director;

/// <summary>
/// Whole-engine cost per frame of an established flow, with 1 M tracked connections, against its parts measured in the
/// same run: parse, batched lookup, state update, and copy + rewrite. Frames go through
/// <see cref="PacketWorker.ProcessBatch"/> 64 at a time, from a pool of 16,384 flows picked at random among the
/// connections (the active flows among those tracked): once warm, their table lines come mostly from the L3 cache, not
/// from DRAM (<see cref="ConnectionTracking.MemoryFloorBenchmarks"/> measures the same pattern's floor, and a DRAM read's
/// latency). Every operation first copies the frame's 64 bytes back (the engine rewrites in place);
/// <c>Part_CopyAndRewrite</c> pays the same copy.
/// </summary>
/// <remarks>
/// With <c>LVS_BENCH_PARTITIONS=2</c> the table has two index partitions and the connections are made by packet thread
/// 0 while the measured worker is packet thread 1: every frame then reaches another thread than its connection's (as
/// a NAT reply steered by its own key does about half the time) and is found in the second partition looked in.
/// </remarks>
[MemoryDiagnoser]
[Config(typeof(MedianJobConfig))]
public class DirectorEngineBenchmarks
{
    private const int Batch = 64;
    private const int Pool = 16384;
    private const int FrameBytes = 64;

    private DirectorFixture _fixture = null!;
    private PacketWorker _worker = null!;
    private byte[] _templates = [];
    private byte[] _buffer = [];
    private FrameSlot[] _slots = [];
    private byte[] _replyTemplates = [];
    private FrameSlot[] _replySlots = [];
    private FlowKey[] _replyKeys = [];
    private FrameVerdict[] _verdicts = [];
    private FlowKey[] _keys = [];
    private ConnectionHandle[] _handles = [];
    private ConnectionHandle[] _lookedUp = [];
    private ParsedFrame[] _parsed = [];
    private ConnectionForwarding[] _forwarding = [];
    private TunnelRoute _route;
    private DirectRoutingRewriter _dr = null!;
    private NatRewriter _nat = null!;
    private FullNatRewriter _fullNat = null!;
    private TunnelEncapsulator _tunnel = null!;
    private int _next;

    /// <summary>The forwarding method of the service.</summary>
    [ParamsSource(nameof(Methods))]
    public ForwardingMethod Forwarding { get; set; }

    /// <summary>The four methods; or those listed, comma-separated, in <c>LVS_BENCH_METHODS</c> (e.g. <c>Nat,DirectRouting</c>).</summary>
    public static IEnumerable<ForwardingMethod> Methods =>
        Environment.GetEnvironmentVariable("LVS_BENCH_METHODS") is { Length: > 0 } methods
            ? methods.Split(',').Select(Enum.Parse<ForwardingMethod>)
            : [ForwardingMethod.Nat, ForwardingMethod.DirectRouting, ForwardingMethod.FullNat, ForwardingMethod.Tunnel];

    /// <summary>Established connections in the table.</summary>
    [Params(1_000_000)]
    public int Connections { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new DirectorFixture(Forwarding, capacity: 1 << 21, packetThreads: int.Parse(Environment.GetEnvironmentVariable("LVS_BENCH_PARTITIONS") ?? "1", System.Globalization.CultureInfo.InvariantCulture));
        _fixture.Establish(Connections);
        _worker = _fixture.Engine.CreateWorker();
        var options = new ForwardingOptions { Mtu = 9000 };
        _dr = new DirectRoutingRewriter(options);
        _nat = new NatRewriter(options);
        _fullNat = new FullNatRewriter(options);
        _tunnel = new TunnelEncapsulator(options);
        _route = new TunnelRoute(InetAddress.Parse("10.1.0.1"), InetAddress.Parse("10.1.0.11"), TunnelType.IpIp);
        _templates = new byte[Pool * FrameBytes];
        _buffer = new byte[Batch * DirectorFixture.Stride];
        _slots = new FrameSlot[Batch];
        _verdicts = new FrameVerdict[Batch];
        _keys = new FlowKey[Pool];
        _handles = new ConnectionHandle[Pool];
        _lookedUp = new ConnectionHandle[Batch];
        _parsed = new ParsedFrame[Pool];
        _forwarding = new ConnectionForwarding[Pool];
        var random = new Random(42);
        for (int i = 0; i < Pool; i++)
        {
            var (client, port) = DirectorFixture.Client(random.Next(Connections));
            var frame = _templates.AsSpan(i * FrameBytes, FrameBytes);
            _ = DirectorFixture.WriteTcp(frame, DirectorFixture.RouterMac, DirectorFixture.ClientLinkMac, client, port, _fixture.Vip, 80, TcpFlags.Ack);
            if (FrameParser.Parse(frame, out _parsed[i]) != DropReason.None
                || !_fixture.Engine.Connections.TryGetInbound(_parsed[i].Flow, out _handles[i])
                || !_fixture.Engine.Connections.TryGetForwarding(_handles[i], out _forwarding[i]))
            {
                throw new InvalidOperationException($"Frame {i} has no connection.");
            }

            _keys[i] = _parsed[i].Flow;
        }

        for (int j = 0; j < Batch; j++)
        {
            _slots[j] = new FrameSlot((j * DirectorFixture.Stride) + DirectorFixture.Headroom, FrameBytes, 0);
        }

        // The real servers' replies (NAT and FULLNAT, whose replies come back through the director), for Engine_Reply.
        if (Forwarding is ForwardingMethod.Nat or ForwardingMethod.FullNat)
        {
            _replyTemplates = new byte[Pool * FrameBytes];
            _replySlots = new FrameSlot[Batch];
            for (int i = 0; i < Pool; i++)
            {
                ref var connection = ref _forwarding[i];
                var to = Forwarding == ForwardingMethod.FullNat ? connection.Local : connection.Client;
                var serverMac = new MacAddress(0x02_00_00_00_02_00UL + (ulong)(connection.Destination.Address.IPv4Value & 0xFF) - 10);
                _ = DirectorFixture.WriteTcp(
                    _replyTemplates.AsSpan(i * FrameBytes, FrameBytes), serverMac, DirectorFixture.ServerLinkMac, connection.Destination.Address, connection.Destination.Port,
                    to.Address, to.Port, TcpFlags.Ack);
            }

            for (int j = 0; j < Batch; j++)
            {
                _replySlots[j] = new FrameSlot((j * DirectorFixture.Stride) + DirectorFixture.Headroom, FrameBytes, 1);
            }

            _replyKeys = new FlowKey[Pool];
            for (int i = 0; i < Pool; i++)
            {
                _ = FrameParser.Parse(_replyTemplates.AsSpan(i * FrameBytes, FrameBytes), out var reply);
                _replyKeys[i] = reply.Flow;
            }

            Engine_Reply();
            foreach (var verdict in _verdicts)
            {
                if (verdict.Action != FrameAction.Transmit || verdict.Link != 0)
                {
                    throw new InvalidOperationException($"The engine did not forward a real server's reply: {verdict}.");
                }
            }
        }

        // Every frame must be forwarded, or the benchmark measures a drop.
        Engine_Established();
        foreach (var verdict in _verdicts)
        {
            if (verdict.Action != FrameAction.Transmit)
            {
                throw new InvalidOperationException($"The engine did not forward an established frame: {verdict}.");
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _fixture.Dispose();

    /// <summary>The whole engine: copy 64 frames in, then one <see cref="PacketWorker.ProcessBatch"/>.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int Engine_Established()
    {
        int first = NextGroup();
        CopyIn(first);
        _worker.ProcessBatch(_buffer, _slots, _verdicts);
        return _verdicts[Batch - 1].Length;
    }

    /// <summary>
    /// The whole engine on a NAT or FULLNAT real server's replies: copy 64 frames in, then one
    /// <see cref="PacketWorker.ProcessBatch"/> on the servers' link (batched outbound lookup, state update, rewrite
    /// back to the client). Run by <c>engine-loop</c> as the <c>reply</c> case, not by BenchmarkDotNet (direct routing
    /// and tunnelling have no replies through the director).
    /// </summary>
    /// <returns>The last verdict's length.</returns>
    public int Engine_Reply()
    {
        int first = NextGroup();
        for (int j = 0; j < Batch; j++)
        {
            _replyTemplates.AsSpan((first + j) * FrameBytes, FrameBytes).CopyTo(_buffer.AsSpan(_replySlots[j].Offset, FrameBytes));
        }

        _worker.ProcessBatch(_buffer, _replySlots, _verdicts);
        return _verdicts[Batch - 1].Length;
    }

    /// <summary>Part of <see cref="Engine_Reply"/>: the batched outbound lookup of 64 replies (engine-loop's <c>reply-lookup</c>).</summary>
    /// <returns>How many were found.</returns>
    public int Part_ReplyLookup()
    {
        int first = NextGroup();
        return _fixture.Engine.Connections.TryGetOutboundBatch(_replyKeys.AsSpan(first, Batch), _lookedUp);
    }

    /// <summary>Part: the 64-byte copy alone.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int Part_Copy()
    {
        CopyIn(NextGroup());
        return _buffer[DirectorFixture.Headroom];
    }

    /// <summary>Part: parsing each frame.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int Part_Parse()
    {
        int first = NextGroup();
        int sum = 0;
        for (int j = 0; j < Batch; j++)
        {
            sum += (int)FrameParser.Parse(_templates.AsSpan((first + j) * FrameBytes, FrameBytes), out var parsed) + parsed.L4Offset;
        }

        return sum;
    }

    /// <summary>Part: the batched inbound lookup of the 64 flows.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int Part_BatchedLookup()
    {
        int first = NextGroup();
        return _fixture.Engine.Connections.TryGetInboundBatch(_keys.AsSpan(first, Batch), _lookedUp);
    }

    /// <summary>Part: the state update of each connection.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int Part_Update()
    {
        int first = NextGroup();
        int sum = 0;
        for (int j = 0; j < Batch; j++)
        {
            sum += _fixture.Engine.Connections.Update(_handles[first + j], PacketDirection.Inbound, TcpFlags.Ack) ? 1 : 0;
        }

        return sum;
    }

    /// <summary>Part: copy each frame in and rewrite it with the method's rewriter.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int Part_CopyAndRewrite()
    {
        int first = NextGroup();
        CopyIn(first);
        int sum = 0;
        var source = DirectorFixture.ServerLinkMac;
        var next = new MacAddress(0x02_00_00_00_02_01UL);
        for (int j = 0; j < Batch; j++)
        {
            int i = first + j;
            int offset = _slots[j].Offset;
            ref var connection = ref _forwarding[i];
            var verdict = Forwarding switch
            {
                ForwardingMethod.DirectRouting => _dr.Rewrite(_buffer, offset, FrameBytes, _parsed[i], source, next),
                ForwardingMethod.Nat => _nat.RewriteInbound(_buffer, offset, FrameBytes, _parsed[i], connection.Destination, source, next),
                ForwardingMethod.FullNat => _fullNat.RewriteInbound(_buffer, offset, FrameBytes, _parsed[i], connection.Local, connection.Destination, source, next),
                _ => _tunnel.Encapsulate(_buffer, offset, FrameBytes, _parsed[i], _route, source, next),
            };
            sum += verdict.FrameLength;
        }

        return sum;
    }

    private int NextGroup()
    {
        int first = _next;
        _next = first + Batch == Pool ? 0 : first + Batch;
        return first;
    }

    private void CopyIn(int first)
    {
        for (int j = 0; j < Batch; j++)
        {
            _templates.AsSpan((first + j) * FrameBytes, FrameBytes).CopyTo(_buffer.AsSpan(_slots[j].Offset, FrameBytes));
        }
    }
}
