using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Core.Headers;
using Lvs.Director;

namespace Lvs.Benchmarks.Director;

/// <summary>
/// One packet thread's share of the new-connection benchmarks (DirectorNewConnectionBenchmarks, <c>newconn-loop</c>):
/// its worker, buffer and flow counter; every flow is a SYN of a client never seen.
/// </summary>
internal sealed class NewConnectionLane
{
    public const int Batch = 64;

    private readonly DirectorFixture _fixture;
    private readonly PacketWorker _worker;
    private readonly byte[] _buffer = new byte[Batch * DirectorFixture.Stride];
    private readonly FrameSlot[] _slots = new FrameSlot[Batch];
    private readonly FrameVerdict[] _verdicts = new FrameVerdict[Batch];
    private readonly int _thread;
    private int _flow;

    public NewConnectionLane(DirectorFixture fixture, int thread)
    {
        _fixture = fixture;
        _thread = thread;
        _worker = fixture.Engine.CreateWorker();
        for (int j = 0; j < Batch; j++)
        {
            _slots[j] = new FrameSlot((j * DirectorFixture.Stride) + DirectorFixture.Headroom, 64, 0);
        }
    }

    /// <summary>Sends <paramref name="batches"/> batches of new flows' SYNs through the engine.</summary>
    public void Run(int batches)
    {
        for (int b = 0; b < batches; b++)
        {
            for (int j = 0; j < Batch; j++)
            {
                var (client, port) = NextClient();
                _ = DirectorFixture.WriteTcp(_buffer.AsSpan(_slots[j].Offset), DirectorFixture.RouterMac, DirectorFixture.ClientLinkMac, client, port, _fixture.Vip, 80, TcpFlags.Syn);
            }

            _worker.ProcessBatch(_buffer, _slots, _verdicts);
        }
    }

    /// <summary>
    /// The same flows' connections added straight into the engine's table, one by one (no parsing, scheduling or
    /// rewriting), on this lane's packet thread, which first expires its partition as a packet worker does.
    /// </summary>
    public void RunTable(int batches)
    {
        var table = _fixture.Engine.Connections;
        PacketThread.Current = _thread;
        _ = table.RunPacketThreadExpiry();
        var server = new InetEndpoint(InetAddress.Parse("10.1.0.11"), 8080);
        for (int i = 0; i < batches * Batch; i++)
        {
            var (client, port) = NextClient();
            var key = new FlowKey(L4Protocol.Tcp, new InetEndpoint(client, port), new InetEndpoint(_fixture.Vip, 80));
            _ = table.TryAdd(new NewConnection(key, 0, server, ForwardingMethod.Nat) { FirstPacket = TcpFlags.Syn }, out _);
        }
    }

    /// <summary>A new client address and port for every flow (the thread in the top bits keeps threads apart).</summary>
    private (InetAddress Client, ushort Port) NextClient()
    {
        uint flow = (uint)_flow++;
        return (InetAddress.FromIPv4(0x4000_0000u + ((uint)_thread << 26) + (flow >> 4 & 0x3FF_FFFF)), (ushort)(1024 + (flow & 15)));
    }
}
