using System.Runtime.InteropServices;

namespace Lvs.Core;

/// <summary>
/// The live load of a list of real servers in one contiguous array, so that a least-load scheduler scans 16 bytes a
/// server in list order instead of visiting a heap object per server: the connection counters, the weight and the
/// flags that decide whether a server may be scheduled.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Attach"/> moves each server's counters into the block; from then on <see cref="RealServer.AddConnection"/>
/// and the other counter operations update the block's slot (with interlocked operations, as before) and the weight,
/// overload and availability setters keep the slot's <see cref="StateOffset"/> word current. A server lives in one
/// block at a time: attaching it to another block moves its counts there exactly (an update that raced with the move
/// forwards what it wrote), and the block it left stops being <see cref="IsIntact"/>.
/// </para>
/// <para>
/// <see cref="Slots"/> exposes the layout: <see cref="SlotLength"/> integers a server, padded with empty slots (weight
/// 0, no connections) to a multiple of <see cref="CountGranularity"/> servers so that vector scans need no tail.
/// Reads are not a consistent snapshot of several servers (neither are the kernel's); each integer is exact.
/// </para>
/// </remarks>
public sealed class RealServerLoadBlock
{
    /// <summary>Integers per server slot (16 bytes).</summary>
    public const int SlotLength = 4;

    /// <summary>Offset in a slot of the active connection count.</summary>
    public const int ActiveOffset = 0;

    /// <summary>Offset in a slot of the inactive connection count.</summary>
    public const int InactiveOffset = 1;

    /// <summary>Offset in a slot of the persistence template count.</summary>
    public const int PersistentOffset = 2;

    /// <summary>
    /// Offset in a slot of the state word: the weight (<see cref="WeightMask"/>) with <see cref="OverloadedFlag"/> and
    /// <see cref="UnavailableFlag"/> above it, so that the server is schedulable exactly when the word is between 1 and
    /// <see cref="RealServer.MaxWeight"/>.
    /// </summary>
    public const int StateOffset = 3;

    /// <summary>The weight bits of the state word.</summary>
    public const int WeightMask = 0xFFFF;

    /// <summary>Set in the state word while the server is overloaded (<see cref="RealServer.IsOverloaded"/>).</summary>
    public const int OverloadedFlag = 0x1_0000;

    /// <summary>Set in the state word while the server is not available (<see cref="RealServer.IsAvailable"/> false).</summary>
    public const int UnavailableFlag = 0x2_0000;

    /// <summary>The slot count is padded to a multiple of this many servers.</summary>
    public const int CountGranularity = 8;

    private readonly RealServerLoadSlot[] _slots;
    private readonly RealServer[] _servers;
    private int _abandoned;

    private RealServerLoadBlock(RealServer[] servers)
    {
        _servers = servers;
        _slots = RealServerLoadSlot.NewArray((servers.Length + CountGranularity - 1) & -CountGranularity);
    }

    /// <summary>The number of servers (slots beyond it are padding).</summary>
    public int Count => _servers.Length;

    /// <summary>
    /// True while every server of the block still keeps its counters here; false once one of them was attached to
    /// another block, after which the block's figures for it are stale and a scan must read the servers instead.
    /// </summary>
    public bool IsIntact => Volatile.Read(ref _abandoned) == 0;

    /// <summary>The slots, <see cref="SlotLength"/> integers a server in list order, padded (see the remarks).</summary>
    public ReadOnlySpan<int> Slots => MemoryMarshal.Cast<RealServerLoadSlot, int>(_slots.AsSpan(RealServerLoadSlot.Padding, _slots.Length - (2 * RealServerLoadSlot.Padding)));

    /// <summary>The server of slot <paramref name="index"/>.</summary>
    /// <param name="index">The slot, below <see cref="Count"/>.</param>
    /// <returns>The server.</returns>
    public RealServer this[int index] => _servers[index];

    /// <summary>
    /// Returns a block holding the live load of <paramref name="servers"/> in this order: the block they are all in
    /// already when it matches the list exactly and is intact, otherwise a new block to which they are moved.
    /// </summary>
    /// <param name="servers">The servers in list order.</param>
    /// <returns>The block.</returns>
    /// <exception cref="ArgumentNullException">The list or a server is null.</exception>
    /// <exception cref="ArgumentException">A server appears twice.</exception>
    /// <remarks>
    /// Not for the hot path: a new block allocates and moves every server. Moving a server abandons the block it was
    /// in (see <see cref="IsIntact"/>), so a server given to two scanning schedulers with different lists keeps its
    /// counters in the block of the last one.
    /// </remarks>
    public static RealServerLoadBlock Attach(IReadOnlyList<RealServer> servers)
    {
        ArgumentNullException.ThrowIfNull(servers);
        var copy = new RealServer[servers.Count];
        var seen = new HashSet<RealServer>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < copy.Length; i++)
        {
            var server = servers[i] ?? throw new ArgumentNullException(nameof(servers), "A server is null.");
            if (!seen.Add(server))
            {
                throw new ArgumentException($"The server {server.Endpoint} appears twice.", nameof(servers));
            }

            copy[i] = server;
        }

        if (copy.Length > 0 && copy[0].LoadLocation.Block is { } current && current.Matches(copy))
        {
            return current;
        }

        var block = new RealServerLoadBlock(copy);
        for (int i = 0; i < copy.Length; i++)
        {
            copy[i].MoveLoad(new RealServerLoadLocation(block, block._slots, RealServerLoadSlot.Padding + i));
        }

        return block;
    }

    /// <summary>Marks the block stale: one of its servers moved to another block.</summary>
    internal void Abandon() => Volatile.Write(ref _abandoned, 1);

    private bool Matches(RealServer[] servers)
    {
        if (servers.Length != _servers.Length || !IsIntact)
        {
            return false;
        }

        for (int i = 0; i < servers.Length; i++)
        {
            var location = servers[i].LoadLocation;
            if (location.Block != this || location.Index != RealServerLoadSlot.Padding + i)
            {
                return false;
            }
        }

        return true;
    }
}
