using BenchmarkDotNet.Attributes;
using Lvs.Core;
using Lvs.Core.Headers;
using Lvs.Director;

namespace Lvs.Benchmarks.Director;

/// <summary>
/// Established frames through the whole engine on one packet thread and on two at once, with 1 M tracked connections:
/// each thread has its own <see cref="PacketWorker"/> and its own frames (random connections among all), 64 per
/// <see cref="PacketWorker.ProcessBatch"/>, 256 batches per thread per operation. The established path takes no lock
/// (lookups are lock-free, state updates compare-and-swap the entry's word), so two threads should cost about what one
/// does per frame. Per thread: with 2 threads each operation stands for twice the frames.
/// </summary>
/// <remarks>
/// <see cref="SteeredPartitions"/> gives the table one index partition per packet thread with steered flows, as
/// <c>lvs-director run --partition-connections</c> does on AF_PACKET links: each thread's connections are then made
/// by that thread (in its partition) and its frames are of its own connections, as the kernel's fan-out steers a flow
/// to one thread. With one thread that is the one table again.
/// </remarks>
[MemoryDiagnoser]
[Config(typeof(MedianJobConfig))]
public class DirectorEstablishedThreadsBenchmarks
{
    private const int Batch = 64;
    private const int BatchesPerThread = 256;
    private const int Connections = 1_000_000;

    private DirectorFixture _fixture = null!;
    private Lane[] _lanes = [];
    private PacketThreads _threads = null!;
    private Action<int> _runLane = static _ => { };

    /// <summary>The forwarding method.</summary>
    [Params(ForwardingMethod.Nat, ForwardingMethod.DirectRouting)]
    public ForwardingMethod Forwarding { get; set; }

    /// <summary>Packet threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>An index partition per packet thread, with steered flows (see the remarks).</summary>
    [Params(false, true)]
    public bool SteeredPartitions { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new DirectorFixture(Forwarding, capacity: 1 << 21, packetThreads: SteeredPartitions ? Threads : 1, steered: SteeredPartitions);
        int stride = SteeredPartitions ? Threads : 1;
        if (!SteeredPartitions)
        {
            _fixture.Establish(Connections);
        }

        _lanes = [.. Enumerable.Range(0, Threads).Select(t => new Lane(_fixture, seed: 42 + t, first: SteeredPartitions ? t : 0, stride))];
        if (SteeredPartitions)
        {
            for (int t = 0; t < Threads; t++)
            {
                _fixture.Establish(Connections, _lanes[t].Worker, first: t, stride);
            }

            if (_fixture.Engine.Connections.Count != Connections)
            {
                throw new InvalidOperationException($"{_fixture.Engine.Connections.Count} connections after setup, expected {Connections}.");
            }
        }

        _runLane = lane => _lanes[lane].Run(BatchesPerThread);
        _threads = new PacketThreads(Threads);
        foreach (var lane in _lanes)
        {
            lane.Run(1);
            lane.CheckForwarded();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _threads.Dispose();
        _fixture.Dispose();
    }

    /// <summary>64 x 256 established frames per thread.</summary>
    [Benchmark(OperationsPerInvoke = Batch * BatchesPerThread)]
    public int EstablishedFrames()
    {
        _threads.Run(_runLane);

        return _lanes[0].LastLength;
    }

    /// <summary>One thread's worker, frames and buffer.</summary>
    private sealed class Lane
    {
        private const int Pool = 16384;
        private const int FrameBytes = 64;

        private readonly byte[] _templates = new byte[Pool * FrameBytes];
        private readonly byte[] _buffer = new byte[Batch * DirectorFixture.Stride];
        private readonly FrameSlot[] _slots = new FrameSlot[Batch];
        private readonly FrameVerdict[] _verdicts = new FrameVerdict[Batch];
        private int _next;

        /// <summary>A lane whose frames are of clients <paramref name="first"/>, <paramref name="first"/> + <paramref name="stride"/>, ... (all with stride 1).</summary>
        public Lane(DirectorFixture fixture, int seed, int first, int stride)
        {
            Worker = fixture.Engine.CreateWorker();
            var random = new Random(seed);
            for (int i = 0; i < Pool; i++)
            {
                var (client, port) = DirectorFixture.Client(first + (stride * random.Next((Connections - first + stride - 1) / stride)));
                _ = DirectorFixture.WriteTcp(_templates.AsSpan(i * FrameBytes, FrameBytes), DirectorFixture.RouterMac, DirectorFixture.ClientLinkMac, client, port, fixture.Vip, 80, TcpFlags.Ack);
            }

            for (int j = 0; j < Batch; j++)
            {
                _slots[j] = new FrameSlot((j * DirectorFixture.Stride) + DirectorFixture.Headroom, FrameBytes, 0);
            }
        }

        public PacketWorker Worker { get; }

        public int LastLength => _verdicts[Batch - 1].Length;

        public void Run(int batches)
        {
            for (int b = 0; b < batches; b++)
            {
                // The engine rewrites in place: copy the next 64 frames back first.
                int first = _next;
                _next = (_next + Batch) % Pool;
                for (int j = 0; j < Batch; j++)
                {
                    _templates.AsSpan((first + j) * FrameBytes, FrameBytes).CopyTo(_buffer.AsSpan(_slots[j].Offset));
                }

                Worker.ProcessBatch(_buffer, _slots, _verdicts);
            }
        }

        public void CheckForwarded()
        {
            foreach (var verdict in _verdicts)
            {
                if (verdict.Action != FrameAction.Transmit)
                {
                    throw new InvalidOperationException($"The engine did not forward an established frame: {verdict}.");
                }
            }
        }
    }
}
