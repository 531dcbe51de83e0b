using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// Weighted round robin (<c>wrr</c>, the kernel's <c>ip_vs_wrr.c</c>): passes over the list with a current weight
/// that starts at the maximum weight and steps down by the gcd of the weights; each pass picks, in list order, the
/// servers whose weight reaches the current weight. Weights A=4, B=3, C=2 give A A B A B C A B C, repeating.
/// </summary>
/// <remarks>
/// <para>
/// The pick sequence of one period (sum of weights divided by their gcd) is precomputed at <see cref="UpdateServers"/>
/// and picks walk it with a compare-and-swap on a 64-bit position (entry index and pass), so a pick costs a few
/// nanoseconds and never blocks. With <see cref="SchedulerOptions.WeightedRoundRobinPositionPerThread"/> the position is
/// kept once per packet thread number (<see cref="PacketThread.Current"/> modulo <see cref="PacketThread.Planes"/>, each
/// on a cache line of its own): a thread alone, and the threads of one number together, walk exactly the kernel's
/// sequence, and threads of different numbers each walk it on their own, rather than moving one shared word between
/// their cores on every new connection (a deviation from the kernel's one mark, hence an option); an update then
/// continues from the position of the thread number that moved most.
/// A server that is not schedulable at pick time (overloaded, unavailable, or given weight 0 since the last update) is
/// skipped in the sequence, which is exactly what the kernel's pass does. Periods longer than
/// <see cref="SchedulerOptions.MaxWeightedRoundRobinPeriod"/> (one million entries by default; e.g. a thousand servers
/// with large coprime weights) run the kernel's stepping algorithm on the same 64-bit position instead (kept the same
/// way, once or per thread number), to bound memory.
/// </para>
/// <para>
/// Weights are those of the last update (the kernel rebuilds its maximum weight and gcd in <c>upd_dest</c> too). On an
/// update the sequence restarts at the list head in the current pass, with the kernel's rounding of the current weight
/// to the new gcd (<c>ip_vs_wrr_dest_changed</c>). An update that changes nothing (the same endpoints in the same order
/// with the same weights, whether or not the same objects) keeps the position, as the kernel, which is not called then;
/// an explicit edit of a server that changes nothing restarts it, as the kernel's <c>upd_dest</c> (<see cref="ServerEdited"/>).
/// </para>
/// </remarks>
public sealed class WeightedRoundRobinScheduler : IScheduler
{
    private readonly Lock _updateLock = new();
    private readonly int _maxPeriod;
    private readonly int _planes;
    private Snapshot _snapshot;

    /// <summary>Creates the scheduler with no servers.</summary>
    /// <param name="options">The options (only the internal period bound is read); null for the defaults.</param>
    public WeightedRoundRobinScheduler(SchedulerOptions? options = null)
    {
        _maxPeriod = (options ?? SchedulerOptions.Default).MaxWeightedRoundRobinPeriod;
        _planes = (options ?? SchedulerOptions.Default).WeightedRoundRobinPositionPerThread ? PacketThread.Planes : 1;
        _snapshot = Snapshot.Build([], 0, _maxPeriod, _planes);
    }

    /// <inheritdoc/>
    public string Name => SchedulerNames.WeightedRoundRobin;

    /// <summary>True when the current snapshot walks a precomputed period table (false: the kernel's stepping algorithm).</summary>
    internal bool UsesPeriodTable => Volatile.Read(ref _snapshot).Sequence is not null;

    /// <summary>The current snapshot, for tests that check whether an update rebuilt it.</summary>
    internal object CurrentSnapshot => Volatile.Read(ref _snapshot);

    /// <inheritdoc/>
    public void UpdateServers(IReadOnlyList<RealServer> servers)
    {
        var copy = ServerSet.Copy(servers, sortByEndpoint: false);
        lock (_updateLock)
        {
            var old = _snapshot;
            long state = old.LastState();

            // The kernel's add_dest/del_dest/upd_dest run only for what changed: a list with the same endpoints (a
            // server's identity), order and weights, even as new objects, leaves the position where it is.
            var next = old.Matches(copy) ? old.WithServers(copy, state) : Snapshot.Build(copy, old.CurrentWeight(state), _maxPeriod, _planes);
            Volatile.Write(ref _snapshot, next);
        }
    }

    /// <summary>
    /// An edit of a server (ipvsadm <c>-e</c>), even one that changed nothing, restarts the scan at the list head with the
    /// current weight rounded onto the weights' grid, as the kernel's <c>upd_dest</c> (<c>ip_vs_wrr_dest_changed</c>).
    /// </summary>
    /// <param name="server">The edited server (a server not in the list changes nothing).</param>
    public void ServerEdited(RealServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        lock (_updateLock)
        {
            var old = _snapshot;
            if (Array.FindIndex(old.Servers, s => s.Endpoint == server.Endpoint) < 0)
            {
                return;
            }

            // A snapshot built for this change (UpdateServers with the new weight, just before) with no pick since is
            // already at the head with the current weight on its grid: building it again from the same weights would
            // give the same, and a period table can be large.
            if (old.IsUnusedBuild && old.Matches(old.Servers))
            {
                return;
            }

            Volatile.Write(ref _snapshot, Snapshot.Build(old.Servers, old.CurrentWeight(old.LastState()), _maxPeriod, _planes));
        }
    }

    /// <inheritdoc/>
    public RealServer? Pick(in FlowKey flow)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        if (snapshot.MaxWeight <= 0)
        {
            return null;
        }

        return snapshot.Sequence is not null ? snapshot.SelectFromTable() : snapshot.SelectByStepping();
    }

    private sealed class Snapshot
    {
        public readonly RealServer[] Servers;
        public readonly int[] Weights;

        // The kernel's mark: mw (maximum weight less gcd - 1, so the last pass is at weight 1) and di (the gcd).
        public readonly int MaxWeight;
        public readonly int Step;

        // Table mode: server index per entry of one period, and where each pass starts (PassStarts[^1] == length).
        public readonly int[]? Sequence;
        public readonly int[]? PassStarts;

        // The state Build left, or long.MinValue for a snapshot WithServers carried over (see IsUnusedBuild).
        private readonly long _builtState;

        // The position: (index of the last pick + 1) << 32 | pass (table mode) or current weight (stepping mode), advanced
        // by CAS on every pick, each on a cache line of its own. One for every thread, or one per packet thread number
        // (modulo their count) with the option, all starting where the snapshot does.
        private readonly Plane[] _planes;

        private Snapshot(RealServer[] servers, int[] weights, int maxWeight, int step, int[]? sequence, int[]? passStarts, long state, bool built, int planes)
        {
            _builtState = built ? state : long.MinValue;
            _planes = new Plane[planes];
            for (int i = 0; i < _planes.Length; i++)
            {
                _planes[i].State = state;
            }

            Servers = servers;
            Weights = weights;
            MaxWeight = maxWeight;
            Step = step;
            Sequence = sequence;
            PassStarts = passStarts;
        }

        public static Snapshot Build(RealServer[] servers, int previousWeight, int maxPeriod, int planes)
        {
            var weights = new int[servers.Length];
            int gcd = 0;
            int max = 0;
            long sum = 0;
            for (int i = 0; i < servers.Length; i++)
            {
                int w = servers[i].Weight;
                weights[i] = w;
                max = Math.Max(max, w);
                sum += w;
                if (w > 0)
                {
                    gcd = gcd > 0 ? Gcd(gcd, w) : w;
                }
            }

            int step = gcd > 0 ? gcd : 1;
            int maxWeight = max - (step - 1);

            // ip_vs_wrr_dest_changed: keep the current weight, rounded onto the new pass grid.
            int current = previousWeight;
            if (current > maxWeight || current <= 0)
            {
                current = maxWeight;
            }
            else if (step > 1)
            {
                current = current / step * step + 1;
            }

            long period = sum / step;
            if (maxWeight <= 0 || period > maxPeriod)
            {
                return new Snapshot(servers, weights, maxWeight, step, null, null, Pack(-1, current), built: true, planes);
            }

            int passes = ((maxWeight - 1) / step) + 1;
            var sequence = new int[period];
            var passStarts = new int[passes + 1];
            int length = 0;
            for (int pass = 0; pass < passes; pass++)
            {
                passStarts[pass] = length;
                int cw = maxWeight - (pass * step);
                for (int i = 0; i < weights.Length; i++)
                {
                    if (weights[i] >= cw)
                    {
                        sequence[length++] = i;
                    }
                }
            }

            passStarts[passes] = length;
            int startPass = (maxWeight - current) / step;
            return new Snapshot(servers, weights, maxWeight, step, sequence, passStarts, Pack(passStarts[startPass] - 1, startPass), built: true, planes);
        }

        /// <summary>True when <see cref="Build"/> made this snapshot and no pick has moved it since.</summary>
        public bool IsUnusedBuild
        {
            get
            {
                foreach (ref var plane in _planes.AsSpan())
                {
                    if (Volatile.Read(ref plane.State) != _builtState)
                    {
                        return false;
                    }
                }

                return true;
            }
        }

        /// <summary>
        /// The state of the last pick, for updates: that of the plane that moved most (the one plane without the option;
        /// a thread alone's own with it, as the kernel's single mark).
        /// </summary>
        public long LastState()
        {
            int most = 0;
            for (int i = 1; i < _planes.Length; i++)
            {
                if (Volatile.Read(ref _planes[i].Moves) > Volatile.Read(ref _planes[most].Moves))
                {
                    most = i;
                }
            }

            return Volatile.Read(ref _planes[most].State);
        }

        /// <summary>True when a list has this snapshot's endpoints in the same order with the same weights.</summary>
        public bool Matches(RealServer[] servers)
        {
            if (servers.Length != Servers.Length)
            {
                return false;
            }

            for (int i = 0; i < servers.Length; i++)
            {
                if (servers[i].Endpoint != Servers[i].Endpoint || servers[i].Weight != Weights[i])
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>The same tables and position over another list of the same endpoints and weights.</summary>
        public Snapshot WithServers(RealServer[] servers, long state) =>
            new(servers, Weights, MaxWeight, Step, Sequence, PassStarts, state, built: false, _planes.Length);

        /// <summary>The kernel's current weight (cw) that a state stands for.</summary>
        public int CurrentWeight(long state) =>
            Sequence is not null ? MaxWeight - (Low(state) * Step) : Low(state);

        public RealServer? SelectFromTable()
        {
            var sequence = Sequence!;
            var passStarts = PassStarts!;
            int length = sequence.Length;
            ref var plane = ref CallerPlane;
            while (true)
            {
                long state = Volatile.Read(ref plane.State);
                int i = High(state);
                int pass = Low(state);
                RealServer? found = null;
                for (int step = 0; step < length; step++)
                {
                    if (++i == length)
                    {
                        i = 0;
                        pass = 0;
                    }
                    else if (i == passStarts[pass + 1])
                    {
                        pass++;
                    }

                    var server = Servers[sequence[i]];
                    if (server.IsSchedulable)
                    {
                        found = server;
                        break;
                    }

                    if (step == 0 && !AnySchedulable())
                    {
                        break;
                    }
                }

                if (found is null)
                {
                    MoveAfterFailedPick(ref plane, state);
                    return null;
                }

                if (Interlocked.CompareExchange(ref plane.State, Pack(i, pass), state) == state)
                {
                    // Counted for LastState only: a racy count (threads of one number) is close enough there.
                    Volatile.Write(ref plane.Moves, plane.Moves + 1);
                    return found;
                }
            }
        }

        public RealServer? SelectByStepping()
        {
            ref var plane = ref CallerPlane;
            if (!AnySchedulable())
            {
                MoveAfterFailedPick(ref plane, Volatile.Read(ref plane.State));
                return null;
            }

            int count = Servers.Length;
            long bound = ((long)((MaxWeight - 1) / Step) + 2) * (count + 1);
            while (true)
            {
                long state = Volatile.Read(ref plane.State);
                int i = High(state);
                int cw = Low(state);
                RealServer? found = null;

                // ip_vs_wrr_schedule: continue after the last pick; at the end of the list lower the current weight
                // by the gcd (back to the maximum below 1) and restart from the head.
                for (long steps = 0; steps < bound; steps++)
                {
                    if (++i == count)
                    {
                        i = -1;
                        cw -= Step;
                        if (cw <= 0)
                        {
                            cw = MaxWeight;
                        }

                        continue;
                    }

                    if (Weights[i] >= cw && Servers[i].IsSchedulable)
                    {
                        found = Servers[i];
                        break;
                    }
                }

                if (found is null)
                {
                    MoveAfterFailedPick(ref plane, state);
                    return null;
                }

                if (Interlocked.CompareExchange(ref plane.State, Pack(i, cw), state) == state)
                {
                    // Counted for LastState only: a racy count (threads of one number) is close enough there.
                    Volatile.Write(ref plane.Moves, plane.Moves + 1);
                    return found;
                }
            }
        }

        /// <summary>
        /// Where the kernel's <c>ip_vs_wrr_schedule</c> leaves its mark when no server qualifies: a scan that starts in
        /// the last pass (current weight at most the gcd) after a server stops at that server, so the position stays;
        /// any other scan runs down to the last pass, wraps to the maximum weight and stops at the list head there.
        /// </summary>
        /// <param name="plane">The calling thread's plane (the one plane without the option).</param>
        /// <param name="state">The state the failed scan started from; a pick that moved it meanwhile wins.</param>
        private void MoveAfterFailedPick(ref Plane plane, long state)
        {
            int index = High(state);
            bool atHead;
            bool lastPass;
            long head;
            if (Sequence is not null)
            {
                // Table mode: the head of pass p is "just before the pass's first entry" with pass p; a pick at that
                // index would carry the previous pass.
                int pass = Low(state);
                atHead = index == PassStarts![pass] - 1;
                lastPass = pass == PassStarts.Length - 2;
                head = Pack(-1, 0);
            }
            else
            {
                atHead = index == -1;
                lastPass = Low(state) <= Step;
                head = Pack(-1, MaxWeight);
            }

            if ((atHead || !lastPass) && state != head && Interlocked.CompareExchange(ref plane.State, head, state) == state)
            {
                // A move like a pick's (see LastState): a thread alone whose only pick failed is still the one followed.
                Volatile.Write(ref plane.Moves, plane.Moves + 1);
            }
        }

        /// <summary>The calling thread's plane: <see cref="PacketThread.Current"/> modulo the planes (the one plane without the option).</summary>
        private ref Plane CallerPlane => ref _planes.Length == 1 ? ref _planes[0] : ref _planes[PacketThread.Current & (_planes.Length - 1)];

        private bool AnySchedulable()
        {
            for (int i = 0; i < Servers.Length; i++)
            {
                if (Weights[i] > 0 && Servers[i].IsSchedulable)
                {
                    return true;
                }
            }

            return false;
        }

        private static long Pack(int index, int low) => ((long)(index + 1) << 32) | (uint)low;

        private static int High(long state) => (int)(state >> 32) - 1;

        private static int Low(long state) => (int)(uint)state;

        private static int Gcd(int a, int b)
        {
            while (b != 0)
            {
                (a, b) = (b, a % b);
            }

            return a;
        }
    }

    /// <summary>A position in wrr's sequence (every thread's, or one packet thread number's), alone on its cache line.</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 144)]
    private struct Plane
    {
        /// <summary>(index of the last pick + 1) &lt;&lt; 32 | pass (table mode) or current weight (stepping mode).</summary>
        [System.Runtime.InteropServices.FieldOffset(64)]
        public long State;

        /// <summary>How many times a pick moved the state (see <see cref="Snapshot.LastState"/>).</summary>
        [System.Runtime.InteropServices.FieldOffset(72)]
        public long Moves;
    }
}
