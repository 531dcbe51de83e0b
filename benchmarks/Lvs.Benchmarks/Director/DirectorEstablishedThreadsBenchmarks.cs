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

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new DirectorFixture(Forwarding, capacity: 1 << 21);
        _fixture.Establish(Connections);
        _lanes = [.. Enumerable.Range(0, Threads).Select(t => new Lane(_fixture, seed: 42 + t))];
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

        private readonly PacketWorker _worker;
        private readonly byte[] _templates = new byte[Pool * FrameBytes];
        private readonly byte[] _buffer = new byte[Batch * DirectorFixture.Stride];
        private readonly FrameSlot[] _slots = new FrameSlot[Batch];
        private readonly FrameVerdict[] _verdicts = new FrameVerdict[Batch];
        private int _next;

        public Lane(DirectorFixture fixture, int seed)
        {
            _worker = fixture.Engine.CreateWorker();
            var random = new Random(seed);
            for (int i = 0; i < Pool; i++)
            {
                var (client, port) = DirectorFixture.Client(random.Next(Connections));
                _ = DirectorFixture.WriteTcp(_templates.AsSpan(i * FrameBytes, FrameBytes), DirectorFixture.RouterMac, DirectorFixture.ClientLinkMac, client, port, fixture.Vip, 80, TcpFlags.Ack);
            }

            for (int j = 0; j < Batch; j++)
            {
                _slots[j] = new FrameSlot((j * DirectorFixture.Stride) + DirectorFixture.Headroom, FrameBytes, 0);
            }
        }

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

                _worker.ProcessBatch(_buffer, _slots, _verdicts);
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
