namespace Lvs.Benchmarks.Director;

/// <summary>
/// Runs one round of work on each of <c>count</c> packet threads at once: lane 0 on the calling thread and the others
/// on dedicated background threads that live as long as this object, as a director's packet threads do. A thread
/// pool's <c>Parallel.For</c> is not used: whether its second iteration starts on another thread at all depends on the
/// pool, and a round of a few milliseconds sometimes ran both lanes on the calling thread one after the other.
/// </summary>
internal sealed class PacketThreads : IDisposable
{
    private readonly Barrier _start;
    private readonly Barrier _done;
    private readonly Thread[] _threads;
    private Action<int> _work = static _ => { };
    private bool _stop;

    public PacketThreads(int count)
    {
        _start = new Barrier(count);
        _done = new Barrier(count);
        _threads = [.. Enumerable.Range(1, count - 1).Select(lane => new Thread(() => Loop(lane)) { IsBackground = true, Name = $"packet {lane}" })];
        foreach (var thread in _threads)
        {
            thread.Start();
        }
    }

    /// <summary>Runs <paramref name="work"/>(lane) on every lane at once and returns when all have finished.</summary>
    public void Run(Action<int> work)
    {
        if (_threads.Length == 0)
        {
            // One lane: the calling thread alone, with no barrier.
            work(0);
            return;
        }

        _work = work;
        _start.SignalAndWait();
        work(0);
        _done.SignalAndWait();
    }

    public void Dispose()
    {
        Volatile.Write(ref _stop, true);
        _start.SignalAndWait();
        foreach (var thread in _threads)
        {
            thread.Join();
        }

        _start.Dispose();
        _done.Dispose();
    }

    private void Loop(int lane)
    {
        while (true)
        {
            _start.SignalAndWait();
            if (Volatile.Read(ref _stop))
            {
                return;
            }

            _work(lane);
            _done.SignalAndWait();
        }
    }
}
