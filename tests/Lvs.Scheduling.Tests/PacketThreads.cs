using Lvs.Core;

namespace Lvs.Scheduling.Tests;

/// <summary>Concurrent picks for the schedulers' thread tests.</summary>
internal static class PacketThreads
{
    /// <summary>
    /// Runs <paramref name="body"/> (given the thread's index) on <paramref name="threads"/> threads started together,
    /// each with its packet thread number (<paramref name="number"/> of its index), and fails with the first exception any of them threw.
    /// </summary>
    public static void Run(int threads, Func<int, int> number, Action<int> body)
    {
        using var start = new Barrier(threads);
        Exception? failure = null;
        var running = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            try
            {
                PacketThread.Current = number(t);
                start.SignalAndWait();
                body(t);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
            }
        })).ToArray();
        foreach (var thread in running)
        {
            thread.Start();
        }

        foreach (var thread in running)
        {
            thread.Join();
        }

        Assert.Null(failure);
    }
}
