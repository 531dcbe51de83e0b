using System.Runtime.CompilerServices;
using Lvs.Core;
using Lvs.Core.Headers;

namespace Lvs.ConnectionTracking;

/// <content>
/// The part of <see cref="ConnectionStore{TAddress}"/> for the per-packet update: the protocol state machine, the counters, the timer and ASSURED templates, without a lock.
/// </content>
internal sealed partial class ConnectionStore<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    /// <summary>
    /// Applies one packet: the protocol state machine, the counters and the timer (the kernel's <c>set_tcp_state</c> /
    /// <c>set_sctp_state</c> / <c>udp_state_transition</c>). For SCTP <paramref name="flags"/> holds the packet's
    /// <see cref="SctpChunkEvent"/> (the byte <see cref="ParsedFrame.TcpFlags"/> shares with it).
    /// </summary>
    public bool Update(int index, uint generation, PacketDirection direction, TcpFlags flags, uint now) =>
        Update(index, generation, direction, flags, now, out _, out _);

    /// <summary>
    /// <see cref="Update(int, uint, PacketDirection, TcpFlags, uint)"/>, giving also the connection's real server and
    /// method, read with the word the update checked (so they are this connection's, as <c>TryGetServer</c> reads them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Update(int index, uint generation, PacketDirection direction, TcpFlags flags, uint now, out int server, out uint method)
    {
        server = -1;
        method = 0;
        if ((uint)index >= (uint)_entries.Length)
        {
            return false;
        }

        ref var e = ref _entries[index];
        var timeouts = _table.Timeouts;
        while (true)
        {
            uint w = Volatile.Read(ref e.Word);
            if ((w & LiveBit) == 0 || GenerationOf(ref e, w) != generation || (e.Meta & TemplateMeta) != 0)
            {
                return false;
            }

            byte protocol = e.Protocol;
            uint state = w & StateMask;
            uint next = w | SeenBit;
            if (protocol == (byte)L4Protocol.Tcp)
            {
                bool noOutput = (w & NoOutputBit) != 0;
                var table = TcpStateMachine.TableFor(direction, noOutput);
                var newState = TcpStateMachine.Next((TcpConnectionState)state, table, flags, _table.SecureTcpActive);
                next = WithState(next, (uint)newState, TcpStateMachine.IsActive(newState), noOutput, direction);
            }
            else if (protocol == (byte)L4Protocol.Sctp && (SctpChunkEvent)flags != SctpChunkEvent.None)
            {
                // set_sctp_state; a packet without a chunk changes neither state nor flags (the timer still restarts).
                bool noOutput = (w & NoOutputBit) != 0;
                var table = TcpStateMachine.TableFor(direction, noOutput);
                var newState = SctpStateMachine.Next((SctpConnectionState)state, table, (SctpChunkEvent)flags);
                next = WithState(next, (uint)newState, SctpStateMachine.IsActive(newState), noOutput, direction);
            }

            // Read while the word says the slot is this connection's: once the swap is done, another thread may end the
            // connection and reuse the slot, and the activity change below must go to this connection's server.
            // (Acquire reads, so that none is satisfied after the word's check below.)
            int realServer = Volatile.Read(ref e.RealServer);
            uint meta = Volatile.Read(ref e.Meta);
            uint control = meta >> AuxShift;
            uint previous = Volatile.Read(ref e.Expiry);
            if (next != w ? Interlocked.CompareExchange(ref e.Word, next, w) != w : Volatile.Read(ref e.Word) != w)
            {
                // Swapped or ended meanwhile; for an unchanged word, the check proves the fields above were this
                // connection's (a slot's next occupant has another generation in its word).
                continue;
            }

            server = realServer;
            method = meta & MethodMask;
            if (direction == PacketDirection.Inbound)
            {
                CountInboundPacket(ref e);
            }

            if (((next ^ w) & InactiveBit) != 0)
            {
                _table.Registry[realServer].ChangeConnectionActivity((next & InactiveBit) == 0);
            }

            // A template is assured when a connection it controls reaches ESTABLISHED (set_tcp_state, set_sctp_state)
            // or, for UDP, sees a reply (udp_state_transition): the kernel's ip_vs_control_assure_ct.
            if (control != 0
                && (protocol == (byte)L4Protocol.Tcp
                    ? (next & StateMask) == (uint)TcpConnectionState.Established && (w & StateMask) != (uint)TcpConnectionState.Established
                    : protocol == (byte)L4Protocol.Sctp
                        ? (next & StateMask) == (uint)SctpConnectionState.Established && (w & StateMask) != (uint)SctpConnectionState.Established
                        : direction == PacketDirection.Outbound))
            {
                Assure((int)control - 1);
            }

            uint expiry = now + ExpiryRounding + (uint)timeouts.For((L4Protocol)protocol, (int)(next & StateMask));
            if (expiry != previous)
            {
                // Only over the expiry read with the word: if the connection ended and its slot was taken meanwhile,
                // the new occupant's own expiry is left alone (a concurrent packet of this connection may also have
                // set it, to the same tick or a later one).
                _ = Interlocked.CompareExchange(ref e.Expiry, expiry, previous);
            }

            if (expiry < previous)
            {
                Refile(index, generation);
            }

            return true;
        }
    }

    /// <summary>
    /// A shorter timeout (ESTABLISHED to FIN_WAIT, CLOSE...) must be re-filed before housekeeping reaches the new tick,
    /// or the lazy wheel would expire it late. Housekeeping does it from the queue of the slot's shard; only when the
    /// queue is full does the packet thread take the shard's lock and do it itself.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Refile(int index, uint generation)
    {
        int shard = ShardOf(index);
        if (!_shardParts[shard].Refiles.TryEnqueue(index, generation))
        {
            EnterShard(shard);
            try
            {
                RefileLocked(shard, index, generation);
            }
            finally
            {
                ExitShard(shard);
            }
        }
    }

    /// <summary>
    /// The entry's word after a state transition (TCP or SCTP): the new state, inactive unless the state is active, and
    /// the no-output mark kept only while the packets seen are inbound (a reply clears it for good).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint WithState(uint word, uint state, bool active, bool noOutput, PacketDirection direction) =>
        (word & ~(StateMask | InactiveBit | NoOutputBit)) | state
            | (active ? 0 : InactiveBit)
            | (noOutput && direction == PacketDirection.Inbound ? NoOutputBit : 0);

    /// <summary>
    /// Counts an incoming packet (the kernel's <c>atomic_inc(&amp;cp->in_pkts)</c> in <c>ip_vs_in_hook</c>), up to
    /// <see cref="InPacketsSaturated"/>: only flood defence reads the count, and only counts up to 8 matter to it. After
    /// the first few packets of a connection this is one compare on a line the lookup has already read.
    /// </summary>
    /// <remarks>
    /// The count shares <see cref="ConnectionEntry{TAddress}.Meta"/> with fields written only while the slot is free,
    /// so it is changed by compare-and-swap, never by a plain store that could write a stale copy of them over a new
    /// occupant's. A packet racing with the connection's end may add one to the next occupant's count.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CountInboundPacket(ref ConnectionEntry<TAddress> e)
    {
        uint meta = Volatile.Read(ref e.Meta);
        while ((meta & InPacketsMask) < InPacketsSaturated << InPacketsShift)
        {
            uint seen = Interlocked.CompareExchange(ref e.Meta, meta + InPacketsUnit, meta);
            if (seen == meta)
            {
                return;
            }

            meta = seen;
        }
    }

    /// <summary>
    /// Marks the template at <paramref name="index"/> ASSURED. The word is swapped only if it is still the one read,
    /// which was a live template's: the template of a connection that ended meanwhile may have been removed and its
    /// slot reused, and a connection's state must never be touched.
    /// </summary>
    private void Assure(int index)
    {
        ref var t = ref _entries[index];
        while (true)
        {
            uint tw = Volatile.Read(ref t.Word);
            if ((tw & (LiveBit | AssuredBit)) != LiveBit || (Volatile.Read(ref t.Meta) & TemplateMeta) == 0
                || Interlocked.CompareExchange(ref t.Word, tw | AssuredBit, tw) == tw)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Re-arms a live template (<see cref="Rearm"/>) for a connection placed by it that is not added. Like a packet's
    /// refresh, it only writes the expiry tick (the lazy wheel re-files the entry when its old tick comes).
    /// </summary>
    public bool RefreshTemplate(int index, uint generation, uint now)
    {
        if (!TryReadWord(index, generation, out uint word) || (word & InvalidBit) != 0 || (_entries[index].Meta & TemplateMeta) == 0)
        {
            return false;
        }

        Rearm(index, now);
        return true;
    }

    /// <summary>
    /// Re-arms the template at <paramref name="index"/> at <paramref name="now"/> plus its timeout (held in its route's
    /// outbound link), never earlier than it is armed: for each connection it places, added or not (the kernel's
    /// <c>ip_vs_conn_put</c> of the template in <c>ip_vs_sched_persist</c>).
    /// </summary>
    private void Rearm(int index, uint now)
    {
        ref var t = ref _entries[index];
        uint expiry = now + ExpiryRounding + (uint)_routes[index].NextOut;
        if ((int)(expiry - Volatile.Read(ref t.Expiry)) > 0)
        {
            Volatile.Write(ref t.Expiry, expiry);
        }
    }
}
