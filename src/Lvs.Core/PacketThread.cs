using System.Numerics;

namespace Lvs.Core;

/// <summary>
/// Which packet thread the calling thread is: a small number (0, 1, 2...) that a director gives each of its packet
/// threads, so that what they write on every new connection (real servers' connection counters, the connection
/// table's index, the round-robin cursor's reservations) can be kept apart by thread, as the kernel keeps per-CPU data,
/// instead of every thread writing the same cache lines.
/// </summary>
/// <remarks>
/// A thread that was never given a number is packet thread 0. The number only decides where a thread's writes go:
/// every reader sums or searches over all the threads' parts, so the figures and lookups are the same whichever thread
/// made them; two threads with one number are still correct, they only share lines again. A director's packet worker
/// sets it at the start of each batch (<c>PacketWorker.ProcessBatch</c>).
/// </remarks>
public static class PacketThread
{
    [ThreadStatic]
    private static int t_current;

    /// <summary>
    /// How many copies what is kept apart by packet thread has (the real servers' counter planes, the round-robin
    /// reservations): the processor count rounded up to a power of two, at most 8, chosen once per process. Packet
    /// thread n uses copy n &amp; (Planes - 1).
    /// </summary>
    public static int Planes { get; } = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(Environment.ProcessorCount, 1, 8));

    /// <summary>The calling thread's packet thread number (0 when none was set).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value set is negative.</exception>
    public static int Current
    {
        get => t_current;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            t_current = value;
        }
    }
}
