using System.Runtime.InteropServices;
using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Round robin (<c>rr</c>, the kernel's <c>ip_vs_rr.c</c>): each new connection goes to the next schedulable server
/// after the one picked last, in list order, whatever the weights (weight 0 still quiesces).
/// </summary>
/// <remarks>
/// <para>
/// The list positions are handed out in order from one shared count in the published snapshot, taken in runs of
/// max(servers, 32) consecutive positions with one atomic add each (at least 32 so that the add is amortised over many
/// picks, at least the number of servers so that a run holds a whole cycle). A run is kept in a plane of the snapshot
/// (one 64-bit word on a cache line of its own, advanced by compare-and-swap), from which picks take positions in order:
/// each pick takes the next position and returns that server if it is schedulable, else moves on to the next position,
/// reserving again when the run is used up. By default there is one plane, which every thread advances: the kernel's
/// one mark, each pick taking the next position of one sequence whichever thread makes it. With
/// <see cref="SchedulerOptions.RoundRobinRunsPerThread"/> there is one plane per packet thread number
/// (<see cref="PacketThread.Current"/> modulo <see cref="PlaneCount"/>), so a thread takes its picks from runs of its
/// own and the shared line is written once per run instead of on every new connection. Threads sharing a plane: the one
/// that refills it claims it, and the others take single positions from the shared count meanwhile, so a pick never
/// blocks, and no position is handed out twice or lost (a position taken so while a run is reserved comes out of order
/// by up to a run).
/// </para>
/// <para>
/// One thread alone gets exactly the kernel's sequence, skips of quiesced, overloaded and unavailable servers
/// included, since its runs follow each other. With runs per thread and several packet threads picking at once, consecutive new
/// connections are handed out in runs per thread instead of strictly alternating: each server still gets its turns,
/// and over any set of picks that have all returned (all servers schedulable), each server's count differs from the
/// mean by less than one plus the number of planes holding part of a run (positions reserved but not yet taken). A pick
/// returns null when as many positions as there are servers found none schedulable (a whole cycle, so for a thread
/// alone the position is where it was, as the kernel's) and a scan of the list finds none either; when the scan finds
/// one (other threads took positions in between, or a server became schedulable meanwhile) the pick takes one more
/// cycle of positions, and if those miss too (threads sharing the plane kept taking the positions between its own) it
/// returns the first schedulable server after where it began, as the kernel's pick under its lock would.
/// </para>
/// <para>
/// When the server set changes the position follows the last picked server; if that server was removed it moves back
/// to the nearest surviving predecessor, as the kernel's <c>ip_vs_rr_del_dest</c> does. Servers are identified by
/// endpoint, not by object. The last picked server is the last position taken from the plane whose run was reserved
/// last (for a thread alone, its own last pick); positions reserved but not yet taken are dropped, and the new
/// snapshot starts with empty planes.
/// </para>
/// </remarks>
public sealed class RoundRobinScheduler : IScheduler
{
    /// <summary>The shortest run of positions a packet thread reserves at once.</summary>
    internal const int MinRunLength = 32;

    /// <summary>The planes of a snapshot, one per packet thread number modulo their count (<see cref="PacketThread.Planes"/>).</summary>
    internal static int PlaneCount => PacketThread.Planes;

    // A plane's state while the thread that found its run used up reserves the next one; the other threads of that
    // plane take single positions from the shared count meanwhile.
    private const uint Claimed = 0x8000_0000;

    private readonly Lock _updateLock = new();
    private readonly int _planes;
    private Snapshot _snapshot;

    /// <summary>Creates the scheduler with no servers and the default options: one position for all threads, as the kernel's.</summary>
    public RoundRobinScheduler()
        : this(null)
    {
    }

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">The options (<see cref="SchedulerOptions.RoundRobinRunsPerThread"/>); null for the defaults.</param>
    public RoundRobinScheduler(SchedulerOptions? options)
    {
        _planes = (options ?? SchedulerOptions.Default).RoundRobinRunsPerThread ? PlaneCount : 1;
        _snapshot = new Snapshot([], -1, _planes);
    }

    /// <inheritdoc/>
    public string Name => SchedulerNames.RoundRobin;

    /// <summary>How many consecutive positions a packet thread reserves at once in the current snapshot.</summary>
    internal int RunLength => Volatile.Read(ref _snapshot).RunLength;

    /// <summary>Positions the current snapshot has handed out from its shared count, in runs and singly.</summary>
    internal long PositionsHandedOut => Volatile.Read(ref Volatile.Read(ref _snapshot).Reserved.Value);

    /// <summary>Positions of the current snapshot reserved by planes and not yet taken (0 for a plane being refilled).</summary>
    internal long PositionsOutstanding
    {
        get
        {
            long outstanding = 0;
            var planes = Volatile.Read(ref _snapshot).Planes;
            for (int i = 0; i < planes.Length; i++)
            {
                uint remaining = (uint)Volatile.Read(ref planes[i].State);
                outstanding += remaining == Claimed ? 0 : remaining;
            }

            return outstanding;
        }
    }

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers)
    {
        var copy = ServerSet.Copy(servers, sortByEndpoint: false);
        lock (_updateLock)
        {
            // The position follows the server picked last, identified by its endpoint (a server's identity within
            // its service), so a list rebuilt from new objects with the same endpoints keeps the cycle where it was.
            var old = _snapshot;
            int last = old.LastPicked();
            var indexByEndpoint = new Dictionary<InetEndpoint, int>(copy.Length);
            for (int i = 0; i < copy.Length; i++)
            {
                indexByEndpoint[copy[i].Endpoint] = i;
            }

            int position = -1;
            for (int i = last; i >= 0 && position < 0; i--)
            {
                position = indexByEndpoint.GetValueOrDefault(old.Servers[i].Endpoint, -1);
            }

            Volatile.Write(ref _snapshot, new Snapshot(copy, position, _planes));
        }
    }

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        var servers = snapshot.Servers;
        int count = servers.Length;
        if (count == 0)
        {
            return null;
        }

        var planes = snapshot.Planes;
        ref var plane = ref planes.Length == 1 ? ref planes[0] : ref planes[PacketThread.Current & (planes.Length - 1)];
        int budget = count;
        bool scanned = false;
        int from = int.MinValue;
        while (true)
        {
            long state = Volatile.Read(ref plane.State);
            int last = (int)(state >> 32);
            uint remaining = (uint)state;
            if (from == int.MinValue)
            {
                from = last;
            }

            int taken;
            if (remaining == Claimed)
            {
                // Another thread of this plane is reserving its next run: take one position from the shared count.
                int i = snapshot.IndexOf(Interlocked.Increment(ref snapshot.Reserved.Value) - 1);
                if (servers[i].IsSchedulable)
                {
                    return servers[i];
                }

                taken = 1;
            }
            else if (remaining == 0)
            {
                if (Interlocked.CompareExchange(ref plane.State, Pack(last, Claimed), state) == state)
                {
                    snapshot.Reserve(ref plane, last);
                }

                continue;
            }
            else
            {
                int limit = (int)Math.Min(remaining, (uint)budget);
                int i = last;
                RealServer? found = null;
                for (taken = 0; taken < limit;)
                {
                    i = i + 1 >= count ? 0 : i + 1;
                    taken++;
                    if (servers[i].IsSchedulable)
                    {
                        found = servers[i];
                        break;
                    }
                }

                if (Interlocked.CompareExchange(ref plane.State, Pack(i, remaining - (uint)taken), state) != state)
                {
                    continue;
                }

                if (found is not null)
                {
                    return found;
                }
            }

            budget -= taken;
            if (budget > 0)
            {
                continue;
            }

            int next = FirstSchedulableAfter(servers, from);
            if (next < 0)
            {
                if (from == -1)
                {
                    RestoreHead(ref plane, count);
                }

                return null;
            }

            if (scanned)
            {
                // Two cycles' worth of positions missed every schedulable server: other threads sharing the plane (or
                // taking single positions while it was refilled) kept taking the positions in between. The kernel's
                // pick, under its lock, would find the first schedulable server after where this one began: so does this.
                return servers[next];
            }

            // Not a whole cycle (other threads took positions in between) or a server became schedulable meanwhile.
            scanned = true;
            budget = count;
        }
    }

    /// <summary>The index of the first schedulable server after <paramref name="last"/> in list order, wrapping; -1 when none is.</summary>
    private static int FirstSchedulableAfter(RealServer[] servers, int last)
    {
        for (int step = 1; step <= servers.Length; step++)
        {
            int i = (int)(((long)last + step) % servers.Length);
            if (servers[i].IsSchedulable)
            {
                return i;
            }
        }

        return -1;
    }

    private static long Pack(int last, uint remaining) => ((long)last << 32) | remaining;

    // A pick that began at the list head and found nothing took a whole cycle and stands on the last server: the
    // kernel's position stays at the head, which an update tells apart (the head follows no server).
    private static void RestoreHead(ref Plane plane, int count)
    {
        long state = Volatile.Read(ref plane.State);
        uint remaining = (uint)state;
        if ((int)(state >> 32) == count - 1 && remaining != Claimed)
        {
            _ = Interlocked.CompareExchange(ref plane.State, Pack(-1, remaining), state);
        }
    }

    /// <summary>
    /// One packet thread's run of reserved positions, alone on its cache line: 64 bytes of padding on each side of its
    /// two words, so neighbouring planes in the array (and whatever object follows it) never share a line.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 144)]
    internal struct Plane
    {
        /// <summary>
        /// The index of the last position taken (-1 for the list head) in the upper 32 bits, and how many reserved
        /// positions follow it in the lower 32 (or <c>Claimed</c> while the next run is being reserved).
        /// </summary>
        [FieldOffset(64)]
        public long State;

        /// <summary>The shared count's value where the plane's current run began; -1 before its first run.</summary>
        [FieldOffset(72)]
        public long RunTicket;
    }

    private sealed class Snapshot
    {
        public readonly RealServer[] Servers;

        // The planes, one per packet thread number modulo their count, or one for all threads (the default).
        public readonly Plane[] Planes;

        // How many consecutive positions a plane reserves at once.
        public readonly int RunLength;

        // Positions handed out so far; position t is server (Start + 1 + t) modulo the count. Added to once per run
        // (and once per single position while a plane is being refilled), on a cache line of its own (see IsolatedWord).
        public IsolatedWord Reserved;

        // The index of the server picked last before this snapshot, -1 for the list head.
        private readonly int _start;

        public Snapshot(RealServer[] servers, int start, int planes)
        {
            Servers = servers;
            _start = start;
            RunLength = Math.Max(servers.Length, MinRunLength);
            Planes = new Plane[planes];
            for (int i = 0; i < Planes.Length; i++)
            {
                Planes[i].State = Pack(start, 0);
                Planes[i].RunTicket = -1;
            }
        }

        /// <summary>The server index of position <paramref name="ticket"/>.</summary>
        public int IndexOf(long ticket) => (int)((_start + 1 + ticket) % Servers.Length);

        /// <summary>Reserves the next run for a plane this thread has claimed and installs it.</summary>
        /// <param name="plane">The plane, in the claimed state.</param>
        /// <param name="last">The index of the last position taken from the plane (-1 for the list head).</param>
        public void Reserve(ref Plane plane, int last)
        {
            long ticket = Interlocked.Add(ref Reserved.Value, RunLength) - RunLength;
            int first = IndexOf(ticket);

            // The run follows the position before it; a plane at the list head (a thread alone that has not picked
            // since the update, whose runs start at the first server) stays there until it picks, as the kernel's.
            int before = first == 0 && last == -1 ? -1 : (first == 0 ? Servers.Length : first) - 1;
            Volatile.Write(ref plane.RunTicket, ticket);
            Volatile.Write(ref plane.State, Pack(before, (uint)RunLength));
        }

        /// <summary>
        /// The index of the server picked last: the last position taken from the plane whose run was reserved last,
        /// or the start when no plane has reserved one.
        /// </summary>
        public int LastPicked()
        {
            long latest = -1;
            int last = _start;
            for (int i = 0; i < Planes.Length; i++)
            {
                long ticket = Volatile.Read(ref Planes[i].RunTicket);
                if (ticket > latest)
                {
                    latest = ticket;
                    last = (int)(Volatile.Read(ref Planes[i].State) >> 32);
                }
            }

            return last;
        }
    }
}
