using System.Runtime.ExceptionServices;
using Lvs.Core;

namespace Lvs.TestSupport;

/// <summary>
/// Runs test code as a given packet thread (<see cref="PacketThread.Current"/>) on a thread of its own, so that what
/// it writes goes to that thread's parts (counter planes, rr reservations). Compiled into the Core and Scheduling test
/// projects (tests/Shared).
/// </summary>
internal static class PacketThreadRunner
{
    /// <summary>Runs <paramref name="action"/> on a new thread that is packet thread <paramref name="number"/>, waits for it and rethrows what it threw.</summary>
    /// <param name="number">The packet thread number.</param>
    /// <param name="action">The work.</param>
    public static void Run(int number, Action action)
    {
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                PacketThread.Current = number;
                action();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        });
        thread.Start();
        thread.Join();
        failure?.Throw();
    }
}
