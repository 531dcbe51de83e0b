using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Core.Headers;
using Lvs.Director.Statistics;
using Lvs.Forwarding;

namespace Lvs.Director;

/// <summary>
/// Processes frames for one packet thread: the kernel's <c>ip_vs_in</c> / <c>ip_vs_out</c> / <c>ip_vs_in_icmp</c>
/// path plus the few host duties of a director (ARP and neighbour discovery for its addresses, echo replies). A
/// worker is used by one thread at a time; create one per thread with <see cref="DirectorEngine.CreateWorker"/>.
/// </summary>
/// <remarks>
/// Per frame: parse; answer ARP/NDP for owned addresses; for an ICMP error, find the connection it is about and
/// translate it; for a packet to a virtual address, find its connection (or schedule a new one: persistence template,
/// scheduler pick, FULLNAT local port, insert); for any other packet, find the connection it replies to; advance the
/// connection's state; rewrite in place with the connection's forwarding method; return where to send it. Nothing
/// here allocates, throws on packet data or waits for a lock that a reader holds (a new connection takes the
/// connection table's short writer lock, as the kernel's hash lock).
/// </remarks>
public sealed partial class PacketWorker
{
    private readonly DirectorEngine _engine;
    private readonly WorkerCounters _counters;
    private const int BatchSize = 64;

    /// <summary>IKE's UDP port (ISAKMP), whose connection ESP and AH packets follow (the kernel's <c>PORT_ISAKMP</c>).</summary>
    private const ushort KeyExchangePort = 500;

    private readonly ConnectionTable _connections;
    private readonly Ftp.FtpHelper? _ftp;
    private readonly ParsedFrame[] _parsed = new ParsedFrame[BatchSize];
    private readonly GroupKind[] _kinds = new GroupKind[BatchSize];
    private readonly int[] _slots = new int[BatchSize];
    private readonly FlowKey[] _inboundKeys = new FlowKey[BatchSize];
    private readonly ConnectionHandle[] _inboundHandles = new ConnectionHandle[BatchSize];
    private readonly FlowKey[] _outboundKeys = new FlowKey[BatchSize];
    private readonly ConnectionHandle[] _outboundHandles = new ConnectionHandle[BatchSize];
    private readonly int _thread;
    private EngineView? _view;
    private long _created;
    private uint _expiredTick;

    private enum GroupKind : byte
    {
        Done,
        Single,
        Inbound,
        Outbound,
    }

    internal PacketWorker(DirectorEngine engine, WorkerCounters counters, int thread)
    {
        _engine = engine;
        _counters = counters;
        _thread = thread;
        _connections = engine.Connections;
        _ftp = engine.Ftp;
    }

    /// <summary>Processes one frame received on a link; the frame is rewritten in place (or replaced by an answer) as the verdict says.</summary>
    /// <param name="buffer">The buffer holding the frame, with headroom before it for tunnel headers and ICMP errors (<see cref="FrameHeadroom.Required"/>).</param>
    /// <param name="offset">Where the frame starts in the buffer.</param>
    /// <param name="length">The frame's length.</param>
    /// <param name="link">The link it arrived on.</param>
    /// <returns>What to do with it.</returns>
    public FrameVerdict Process(Span<byte> buffer, int offset, int length, int link)
    {
        EnterPacketThread();
        var view = _engine.View;
        if (!ReferenceEquals(view, _view))
        {
            Refresh(view);
        }

        if ((uint)offset > (uint)buffer.Length || (uint)length > (uint)(buffer.Length - offset))
        {
            return Dropped(DropReason.Truncated);
        }

        var reason = FrameParser.Parse(buffer.Slice(offset, length), out var parsed);
        if (reason != DropReason.None)
        {
            return Dropped(reason);
        }

        if (parsed.IpVersion == 0)
        {
            return HandleArp(buffer, offset, parsed, link, view);
        }

        var flow = parsed.Flow;
        if (parsed.IsIcmpError)
        {
            return HandleIcmpError(buffer, offset, length, parsed, link, view);
        }

        ConnectionHandle handle;
        if (view.IsForAService(flow.DestinationAddress))
        {
            if (_connections.TryGetInboundSteered(flow, out handle))
            {
                Inbound(buffer, offset, length, parsed, link, view, handle, out var inbound);
                return inbound;
            }

            return New(buffer, offset, length, parsed, link, view);
        }

        if (_connections.TryGetOutbound(flow, out handle))
        {
            Outbound(buffer, offset, length, parsed, link, view, handle, out var outbound);
            return outbound;
        }

        return NotForAService(buffer, offset, length, parsed, link, view);
    }

    /// <summary>
    /// Processes a batch of frames in one buffer (a TPACKET_V3 block, a pool of receive buffers): the frames are parsed
    /// first, then the connections of the whole batch are looked up with the connection table's batched lookups (which
    /// keep dozens of memory reads in flight instead of one), then each frame is finished as <see cref="Process"/> does.
    /// The verdicts are those <see cref="Process"/> would give frame by frame, in order.
    /// </summary>
    /// <param name="buffer">The buffer holding every frame, each with headroom before it.</param>
    /// <param name="frames">Where each frame lies and which link it came from.</param>
    /// <param name="verdicts">Receives one verdict per frame.</param>
    /// <exception cref="ArgumentException"><paramref name="verdicts"/> is shorter than <paramref name="frames"/>.</exception>
    public void ProcessBatch(Span<byte> buffer, ReadOnlySpan<FrameSlot> frames, Span<FrameVerdict> verdicts)
    {
        if (verdicts.Length < frames.Length)
        {
            throw new ArgumentException("There must be a verdict for every frame.", nameof(verdicts));
        }

        EnterPacketThread();
        var view = _engine.View;
        if (!ReferenceEquals(view, _view))
        {
            Refresh(view);
        }

        for (int start = 0; start < frames.Length; start += BatchSize)
        {
            int count = Math.Min(BatchSize, frames.Length - start);
            ProcessGroup(buffer, frames.Slice(start, count), verdicts.Slice(start, count), view);
        }
    }

    /// <summary>
    /// Does what the worker does once a tick while no frame comes: expires its partition of the connection table when
    /// the tick has moved (<see cref="ConnectionTable.RunPacketThreadExpiry"/>, which <see cref="ProcessBatch"/> and
    /// <see cref="Process"/> do first), so that an idle worker's connections end on time rather than when housekeeping
    /// takes its partition back. Call it from the worker's thread when a receive returns nothing; it costs a
    /// thread-local write and a read when the tick has not moved. Nothing to do without index partitions.
    /// </summary>
    public void Idle() => EnterPacketThread();

    /// <summary>
    /// Makes the calling thread this worker's packet thread (<see cref="PacketThread.Current"/>: the worker's number,
    /// in order of creation), so that what it writes for new connections goes to its own parts of the connection
    /// table, the real servers' counters and the round-robin reservations; and once a tick, expires its part of the
    /// connection table (<see cref="ConnectionTable.RunPacketThreadExpiry"/>), as the kernel's timers run on the CPU
    /// that armed them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void EnterPacketThread()
    {
        PacketThread.Current = _thread;
        uint tick = _connections.CurrentTick;
        if (tick != _expiredTick)
        {
            _expiredTick = tick;
            _ = _connections.RunPacketThreadExpiry();
        }
    }

    /// <summary>
    /// Counts a frame the host dropped after the engine's verdict, in this worker's counters (so
    /// <see cref="DirectorEngine.GetDropCount"/> and the drops instrument include it): a frame held for a neighbour
    /// that did not resolve (<see cref="DropReason.NeighborUnresolved"/>). Call it from the worker's own thread.
    /// </summary>
    /// <param name="reason">Why.</param>
    public void CountDrop(DropReason reason) => _counters.Drop(reason);

    private void ProcessGroup(Span<byte> buffer, ReadOnlySpan<FrameSlot> frames, Span<FrameVerdict> verdicts, EngineView view)
    {
        int inbound = 0;
        int outbound = 0;
        var parsedFrames = _parsed.AsSpan(0, frames.Length);
        var kinds = _kinds.AsSpan(0, frames.Length);
        var slots = _slots.AsSpan(0, frames.Length);
        var inboundKeys = _inboundKeys.AsSpan(0, frames.Length);
        var outboundKeys = _outboundKeys.AsSpan(0, frames.Length);
        for (int i = 0; i < frames.Length; i++)
        {
            var frame = frames[i];
            if ((uint)frame.Offset > (uint)buffer.Length || (uint)frame.Length > (uint)(buffer.Length - frame.Offset) || frame.End > buffer.Length)
            {
                verdicts[i] = Dropped(DropReason.Truncated);
                kinds[i] = GroupKind.Done;
                continue;
            }

            var reason = FrameParser.Parse(buffer.Slice(frame.Offset, frame.Length), out parsedFrames[i]);
            if (reason != DropReason.None)
            {
                verdicts[i] = Dropped(reason);
                kinds[i] = GroupKind.Done;
            }
            else
            {
                kinds[i] = GroupKind.Single;
            }
        }

        // Classified in a second pass: reading a frame's flow (32-byte loads) right after the parse wrote it field by
        // field could not be served from the store buffer and stalled every frame; by now those stores are in the cache.
        for (int i = 0; i < frames.Length; i++)
        {
            if (kinds[i] == GroupKind.Done)
            {
                continue;
            }

            if (parsedFrames[i].IpVersion == 0 || parsedFrames[i].IsIcmpError)
            {
                kinds[i] = GroupKind.Single;
            }
            else if (view.IsForAService(parsedFrames[i].Flow.DestinationAddress))
            {
                // Through a ref to the slot: an assignment to the element copied the 40-byte key via a stack temporary.
                ref var key = ref inboundKeys[inbound];
                key = parsedFrames[i].Flow;
                slots[i] = inbound++;
                kinds[i] = GroupKind.Inbound;
            }
            else
            {
                ref var key = ref outboundKeys[outbound];
                key = parsedFrames[i].Flow;
                slots[i] = outbound++;
                kinds[i] = GroupKind.Outbound;
            }
        }

        if (inbound > 0)
        {
            // FULLNAT reads the route part of each slot (the local endpoint), another line: when the table has FULLNAT
            // servers, the lookup loads it with the entry's line (prefetching it after the lookup, or a few frames
            // ahead, measured slower). The other methods need only the lookup's line.
            _ = view.HasFullNat
                ? _connections.TryGetInboundBatchForForwarding(_inboundKeys.AsSpan(0, inbound), _inboundHandles.AsSpan(0, inbound))
                : _connections.TryGetInboundBatch(_inboundKeys.AsSpan(0, inbound), _inboundHandles.AsSpan(0, inbound));
        }

        if (outbound > 0)
        {
            _ = _connections.TryGetOutboundBatch(_outboundKeys.AsSpan(0, outbound), _outboundHandles.AsSpan(0, outbound));
        }

        long createdBefore = _created;
        for (int i = 0; i < frames.Length; i++)
        {
            if (kinds[i] == GroupKind.Done)
            {
                continue;
            }

            var frame = frames[i];
            ref var parsed = ref parsedFrames[i];

            // Each frame sees the buffer only up to the end of its own room, so growing it (outer fragments) cannot
            // reach the next frame of the batch.
            var room = buffer[..(int)frame.End];
            switch (kinds[i])
            {
                case GroupKind.Inbound:
                    var handle = _inboundHandles[slots[i]];
                    if (!handle.IsSome && _created != createdBefore)
                    {
                        // An earlier frame of this group created connections after the batched lookup: look again, so
                        // the verdicts are those of frame-by-frame processing.
                        _ = _connections.TryGetInboundSteered(parsed.Flow, out handle);
                    }

                    // The verdict is written in place: returned by value it went through two stack copies, each a
                    // 32-byte store read back at once.
                    if (handle.IsSome)
                    {
                        Inbound(room, frame.Offset, frame.Length, parsed, frame.Link, view, handle, out verdicts[i]);
                    }
                    else
                    {
                        verdicts[i] = New(room, frame.Offset, frame.Length, parsed, frame.Link, view);
                    }

                    break;
                case GroupKind.Outbound:
                    var reply = _outboundHandles[slots[i]];
                    if (!reply.IsSome && _created != createdBefore)
                    {
                        _ = _connections.TryGetOutbound(parsed.Flow, out reply);
                    }

                    if (reply.IsSome)
                    {
                        Outbound(room, frame.Offset, frame.Length, parsed, frame.Link, view, reply, out verdicts[i]);
                    }
                    else
                    {
                        verdicts[i] = NotForAService(room, frame.Offset, frame.Length, parsed, frame.Link, view);
                    }

                    break;
                case GroupKind.Single:
                    verdicts[i] = parsed.IpVersion == 0
                        ? HandleArp(room, frame.Offset, parsed, frame.Link, view)
                        : HandleIcmpError(room, frame.Offset, frame.Length, parsed, frame.Link, view);
                    break;
                default:
                    break;
            }
        }
    }

    private void Inbound(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, EngineView view, ConnectionHandle handle, out FrameVerdict verdict)
    {
        // A SYN on a closing connection ends it first (conn_reuse_mode); a connection that ended meanwhile is not updated.
        // Either way the packet is a new one. The update gives the server and method with the one check of the slot's
        // word both need.
        if (IsRescheduled(handle, parsed) || !_connections.UpdateAndGetServer(handle, PacketDirection.Inbound, parsed.TcpFlags, out int server, out var method))
        {
            verdict = New(buffer, offset, length, parsed, link, view);
            return;
        }

        // Direct routing and tunnelling need only the server (the lookup's line). NAT needs the server's endpoint, which
        // for a service with a port is the destination New gave the connection (the server's port, or the packet's for a
        // port-0 server), so it need not read the slot's route line either; FULLNAT reads it for the local endpoint.
        // (StableDestination is set only for a path with a server.) The common case builds no ConnectionForwarding (four
        // endpoints, over a hundred bytes a frame).
        if (method != ForwardingMethod.FullNat && (method != ForwardingMethod.Nat || IsStableDestination(ref Path(view, server), parsed.Flow.DestinationPort)))
        {
            ref var serverPath = ref Path(view, server);
            var destination = method == ForwardingMethod.Nat ? DestinationOf(ref serverPath, parsed.Flow) : default;
            if (_ftp is not null && method == ForwardingMethod.Nat && _ftp.IsControlPort(parsed.Flow.DestinationPort))
            {
                FromFtpClient(buffer, offset, parsed, handle, server, destination);
            }

            ToRealServer(buffer, offset, length, parsed, link, ref serverPath, server, method, destination, default, out verdict);
            return;
        }

        if (!_connections.TryGetForwarding(handle, out var connection))
        {
            // Ended between the update and the read: the packet is a new one.
            verdict = New(buffer, offset, length, parsed, link, view);
            return;
        }

        // expire_nodest_conn is the connection table's: its lookup ends a connection whose server was deleted.
        if (_ftp is not null && connection.Method == ForwardingMethod.Nat && _ftp.IsControlPort(parsed.Flow.DestinationPort))
        {
            FromFtpClient(buffer, offset, parsed, handle, connection.RealServer, connection.Destination);
        }

        verdict = ToRealServer(buffer, offset, length, parsed, link, ref Path(view, connection.RealServer), connection);
    }

    /// <summary>
    /// Whether a NAT connection's destination is its server's endpoint (<see cref="DestinationPath.StableDestination"/>)
    /// for a packet to <paramref name="virtualPort"/>: not for a connection to another port of the virtual address than
    /// its service's, which only a helper creates (the FTP helper's data connections), whose destination is its own.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsStableDestination(ref DestinationPath path, ushort virtualPort) =>
        path.StableDestination && path.ServicePort == virtualPort;

    /// <summary>
    /// conn_reuse_mode: a SYN on a closing connection (or an SCTP INIT, which has the SYN bit in the same byte, on a
    /// CLOSED association) ends it, to be scheduled afresh (ip_vs_in's is_new_conn).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsRescheduled(ConnectionHandle handle, in ParsedFrame parsed)
    {
        if ((parsed.TcpFlags & TcpFlags.Syn) != 0 && _connections.ShouldReschedule(handle, parsed.TcpFlags))
        {
            _ = _connections.Remove(handle);
            return true;
        }

        return false;
    }

    private FrameVerdict ToRealServer(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, ref DestinationPath path, in ConnectionForwarding connection)
    {
        ToRealServer(buffer, offset, length, parsed, link, ref path, connection.RealServer, connection.Method, connection.Destination, connection.Local, out var verdict);
        return verdict;
    }

    /// <summary>Rewrites a client's packet for <paramref name="server"/> with <paramref name="method"/>: <paramref name="destination"/> is NAT's and FULLNAT's new destination, <paramref name="local"/> FULLNAT's new source.</summary>
    private void ToRealServer(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, ref DestinationPath path, int server, ForwardingMethod method, in InetEndpoint destination,
        in InetEndpoint local, out FrameVerdict result)
    {
        if (!TryNextHop(ref path, out var mac, out result))
        {
            return;
        }

        // The egress link's MTU: a packet over it is answered (DF) or fragmented, as the kernel's ip_vs_*_xmit.
        var outLink = _engine.LinkArray[path.Link];
        var source = outLink.Mac;
        var verdict = method switch
        {
            ForwardingMethod.DirectRouting => _engine.Dr.Rewrite(buffer, offset, length, parsed, source, mac, outLink.Mtu),
            ForwardingMethod.Nat => _engine.Nat.RewriteInbound(buffer, offset, length, parsed, destination, source, mac, outLink.Mtu),
            ForwardingMethod.FullNat => _engine.FullNat.RewriteInbound(buffer, offset, length, parsed, local, destination, source, mac, outLink.Mtu),
            _ => _engine.Tunnel.Encapsulate(buffer, offset, length, parsed, path.Tunnel, source, mac, outLink.Mtu),
        };
        if (verdict.Action == ForwardingAction.Transmit)
        {
            // The common case, written straight into the caller's verdict.
            Count(path.ServiceIndex, server, WorkerCounters.InPackets, parsed.L3Length);
            result = FrameVerdict.Transmit(path.Link, verdict.FrameOffset, verdict.FrameLength);
            return;
        }

        if (verdict.Action == ForwardingAction.TransmitFragments)
        {
            Count(path.ServiceIndex, server, WorkerCounters.InPackets, parsed.L3Length);
        }

        result = Finish(verdict, path.Link, link);
    }

    private void Outbound(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, EngineView view, ConnectionHandle handle, out FrameVerdict result)
    {
        // A NAT reply needs only the lookup part of the slot (client, virtual service, server, method).
        if (!_connections.TryGetReply(handle, out var client, out var virtualService, out int server, out var method))
        {
            // Ended between the lookup and the read.
            result = ToHost(buffer, offset, length, parsed, link, view);
            return;
        }

        _ = _connections.Update(handle, PacketDirection.Outbound, parsed.TcpFlags);
        if (_ftp is not null && method == ForwardingMethod.Nat && _ftp.IsControlPort(virtualService.Port))
        {
            FromFtpServer(buffer, offset, length, parsed, link, view, handle, client, virtualService, server, out result);
            return;
        }

        ReplyToClient(buffer, offset, length, parsed, link, view, client, virtualService, server, method, out result);
    }

    /// <summary>Rewrites a real server's reply of a NAT or FULLNAT connection back to the client and sends it on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ReplyToClient(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, EngineView view, in InetEndpoint client, in InetEndpoint virtualService, int server,
        ForwardingMethod method, out FrameVerdict result)
    {
        if (!TryNextHopTo(client.Address, out int outLink, out var mac, out result))
        {
            return;
        }

        var egress = _engine.LinkArray[outLink];
        var source = egress.Mac;
        var verdict = method == ForwardingMethod.FullNat
            ? _engine.FullNat.RewriteOutbound(buffer, offset, length, parsed, virtualService, client, source, mac, egress.Mtu)
            : ((uint)link < (uint)_engine.NatReplies.Length ? _engine.NatReplies[link] : _engine.Nat).RewriteOutbound(buffer, offset, length, parsed, virtualService, source, mac, egress.Mtu);
        if (verdict.Action is ForwardingAction.Transmit or ForwardingAction.TransmitFragments)
        {
            ref var path = ref Path(view, server);
            Count(path.ServiceIndex, server, WorkerCounters.OutPackets, parsed.L3Length);
            if (verdict.Action == ForwardingAction.Transmit)
            {
                // The common case, written straight into the caller's verdict (as ToRealServer).
                result = FrameVerdict.Transmit(outLink, verdict.FrameOffset, verdict.FrameLength);
                return;
            }
        }

        result = Finish(verdict, outLink, link);
    }

    /// <summary>
    /// The service of a new flow, as <c>ip_vs_service_find</c>: by the mark of the packet (<paramref name="marked"/>,
    /// the flow itself, or an ICMP error carrying it) first, then by the flow's address and port.
    /// </summary>
    private static bool TryFindService(EngineView view, in FlowKey marked, in FlowKey flow, out VirtualService service)
    {
        if (view.MarkRules.Length != 0)
        {
            uint mark = view.MarkOf(marked);
            if (mark != 0 && view.Snapshot.TryFindService(mark, !flow.IsIPv4, out service))
            {
                return true;
            }
        }

        return view.Snapshot.TryFindService(flow.Protocol, flow.Destination, out service);
    }

    /// <summary>A packet for a virtual address that matches no connection: the kernel's <c>conn_schedule</c> and <c>ip_vs_schedule</c>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private FrameVerdict New(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, EngineView view)
    {
        var flow = parsed.Flow;
        if (flow.Protocol is not (L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.Sctp))
        {
            if (flow.Protocol is L4Protocol.Esp or L4Protocol.Ah)
            {
                return FollowKeyExchangeInbound(buffer, offset, length, parsed, link, view);
            }

            if (flow.Protocol is not (L4Protocol.Icmp or L4Protocol.IcmpV6) || !_engine.Options.ScheduleIcmpEcho)
            {
                // ip_vs_in leaves a protocol IPVS has no handler for to the host, a firewall-marked one too; an echo
                // request is the host's unless ScheduleIcmpEcho.
                return ToOwnedAddress(buffer, offset, length, parsed, link, DropReason.NoVirtualService);
            }
        }

        if (_ftp is not null && flow.Protocol == L4Protocol.Tcp && TryTakeExpected(parsed, out var expected))
        {
            // A data connection the FTP helper expects, from any port of the client (ip_vs_conn_in_get's cport 0).
            return Forward(buffer, offset, length, parsed, link, ref Path(view, expected.RealServer), expected);
        }

        if (!TryFindService(view, flow, flow, out var service))
        {
            return ToOwnedAddress(buffer, offset, length, parsed, link, DropReason.NoVirtualService);
        }

        if (parsed.Fragment == FragmentKind.NonFirst)
        {
            // A non-first fragment has no ports: it can only follow a connection (ip_vs_in drops it otherwise).
            return Dropped(DropReason.NonFirstFragment);
        }

        if (flow.Protocol == L4Protocol.Tcp
            && ((parsed.TcpFlags & TcpFlags.Rst) != 0 || ((parsed.TcpFlags & TcpFlags.Syn) == 0 && !_engine.Options.SloppyTcp)))
        {
            // tcp_conn_schedule: only a SYN without RST creates a connection (any segment with sloppy_tcp). The kernel
            // lets the rest through to the host, whose TCP stack, with no socket there, answers with a reset.
            return _engine.Options.ResetUnmatchedTcp ? AnswerUnmatched(buffer, offset, parsed, link, DropReason.NotSyn) : Dropped(DropReason.NotSyn);
        }

        if (flow.Protocol == L4Protocol.Sctp && !IsSctpSchedulable(parsed.SctpEvent))
        {
            // sctp_conn_schedule: only an INIT creates an association (with sloppy_sctp any chunk but an ABORT); a
            // packet without a chunk is dropped. The kernel lets the rest through to the host, whose SCTP stack, with
            // no association, answers it as out of the blue.
            return _engine.Options.AbortUnmatchedSctp && parsed.SctpEvent != SctpChunkEvent.None
                ? AnswerUnmatched(buffer, offset, parsed, link, DropReason.NotSctpInit)
                : Dropped(DropReason.NotSctpInit);
        }

        return Schedule(buffer, offset, length, parsed, link, view, service, flow, parsed.TcpFlags);
    }

    /// <summary>
    /// Schedules <paramref name="flow"/> (a client's flow to <paramref name="service"/>) and sends the frame to the
    /// real server chosen, as the kernel's <c>ip_vs_schedule</c> and the transmit after it: persistence templates, the
    /// scheduler's pick, FULLNAT's local address, the connection (none with <c>-o</c>). The frame is the flow's first
    /// packet, with <paramref name="firstPacket"/> the transition it applies, or an ICMP error about the flow
    /// (<see cref="DirectorOptions.ScheduleIcmpErrors"/>), which applies none: the connection starts inactive.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // one body with New, as before ScheduleIcmpError shared it
    private FrameVerdict Schedule(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, EngineView view, VirtualService service, in FlowKey flow, TcpFlags? firstPacket)
    {
        var options = service.Options;
        ConnectionHandle template = default;
        RealServer? server;
        int index;
        if (options.IsPersistent)
        {
            int prefix = options.PersistencePrefixLength ?? (flow.IsIPv4 ? 32 : 128);
            var key = PersistenceKey.Create(service.Key, flow, prefix);
            if (_connections.TryGetTemplate(key, out template, out index))
            {
                server = view.Snapshot.Servers[index].Server;
            }
            else
            {
                server = service.Scheduler.Pick(flow);
                if (server is null || !view.IndexOf.TryGetValue(server, out index))
                {
                    return NoServer(buffer, offset, parsed, link);
                }

                // The template lists the server with port 0 when it covers every port of the service (ip_vs_sched_persist).
                var listed = new InetEndpoint(server.Address, key.VirtualPort == 0 ? (ushort)0 : server.Port);
                var added = _connections.TryAddTemplate(key, index, listed, options.PersistenceTimeout, out template);
                if (added != AddConnectionResult.Added && !_connections.TryGetTemplate(key, out template, out _))
                {
                    return Dropped(DropReason.ConnectionTableFull);
                }
            }
        }
        else
        {
            server = service.Scheduler.Pick(flow);
            if (server is null || !view.IndexOf.TryGetValue(server, out index))
            {
                return NoServer(buffer, offset, parsed, link);
            }
        }

        if (server is null)
        {
            return NoServer(buffer, offset, parsed, link);
        }

        ref var path = ref Path(view, index);
        var destination = DestinationOf(ref path, flow);
        var method = server.ForwardingMethod;
        InetEndpoint local = default;
        if (method == ForwardingMethod.FullNat)
        {
            var allocator = _engine.LocalAddresses;
            if (allocator is null || !allocator.TryAllocate(out local))
            {
                return Dropped(DropReason.LocalAddressesExhausted);
            }
        }

        var connection = new ConnectionForwarding(flow.Protocol, flow.Source, flow.Destination, destination, local, index, method);
        if (options.OnePacket && flow.Protocol == L4Protocol.Udp)
        {
            // -o: the datagram is scheduled alone and no connection is kept (IP_VS_CONN_F_ONE_PACKET); its template is
            // re-armed as for any connection it places (ip_vs_sched_persist's ip_vs_conn_put).
            if (template.IsSome)
            {
                _ = _connections.RefreshTemplate(template);
            }

            Count(path.ServiceIndex, index, WorkerCounters.Connections, 0);
            var once = Forward(buffer, offset, length, parsed, link, ref path, connection);
            if (method == ForwardingMethod.FullNat)
            {
                _ = _engine.LocalAddresses!.Release(local);
            }

            return once;
        }

        // The insert applies the first packet's transition (a SYN makes it SYN_RECV), as the kernel right after ip_vs_conn_new.
        var result = _connections.TryAdd(new NewConnection(flow, index, destination, method) { Local = local, Template = template, FirstPacket = firstPacket }, out var handle);
        if (result != AddConnectionResult.Added)
        {
            if (method == ForwardingMethod.FullNat)
            {
                _ = _engine.LocalAddresses!.Release(local);
            }

            // Another thread added the same flow first: the add processed this packet on that connection; forward it there.
            return result == AddConnectionResult.Exists && _connections.TryGetInboundSteered(flow, out handle) && _connections.TryGetForwarding(handle, out var existing)
                ? Forward(buffer, offset, length, parsed, link, ref Path(view, existing.RealServer), existing)
                : Dropped(DropReason.ConnectionTableFull);
        }

        _created++;
        Count(path.ServiceIndex, index, WorkerCounters.Connections, 0);
        return Forward(buffer, offset, length, parsed, link, ref path, connection);
    }

    /// <summary>A client's frame to the real server of <paramref name="connection"/>: a packet of the flow, or an ICMP error about it.</summary>
    private FrameVerdict Forward(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, ref DestinationPath path, in ConnectionForwarding connection) =>
        parsed.IsIcmpError
            ? IcmpErrorToRealServer(buffer, offset, length, parsed, link, ref path, connection)
            : ToRealServer(buffer, offset, length, parsed, link, ref path, connection);

    /// <summary>Whether an SCTP packet that matches no association may create one (the kernel's <c>sctp_conn_schedule</c>).</summary>
    private bool IsSctpSchedulable(SctpChunkEvent @event) =>
        @event == SctpChunkEvent.Init || (_engine.Options.SloppySctp && @event is not (SctpChunkEvent.None or SctpChunkEvent.Abort));

    /// <summary>No real server can take the connection: the kernel's <c>ip_vs_leave</c> drops it (and tells the client with an ICMP port unreachable).</summary>
    private FrameVerdict NoServer(Span<byte> buffer, int offset, in ParsedFrame parsed, int link)
    {
        _counters.Drop(DropReason.NoRealServer);

        // "Since it is in IP layer, the TCP socket is not actually created, the TCP RST packet cannot be sent, instead
        // that ICMP_PORT_UNREACH is sent here no matter it is TCP/UDP" (ip_vs_leave), from the address it was sent to.
        return PortUnreachable(buffer, offset, parsed, link, DropReason.NoRealServer);
    }

    /// <summary>An ICMP port unreachable back to the sender, from the address it sent to, under the ICMP rate limit; the frame is counted as <paramref name="reason"/> by the caller.</summary>
    private FrameVerdict PortUnreachable(Span<byte> buffer, int offset, in ParsedFrame parsed, int link, DropReason reason) =>
        HostErrorAboutOwnPacket(buffer, offset, parsed, IcmpErrors.PortUnreachable(buffer, offset, parsed, parsed.Flow.DestinationAddress, _engine.Options.HopLimit, reason, _engine.Options.Forwarding.IcmpRateLimiter), link, reason);

    /// <summary>
    /// <see cref="HostError"/> for an error about a packet sent to one of the director's addresses, from that address:
    /// an IPv4 packet's options are echoed into it (<see cref="HostErrorWithOptions"/>).
    /// </summary>
    private FrameVerdict HostErrorAboutOwnPacket(Span<byte> buffer, int offset, in ParsedFrame parsed, in ForwardingVerdict verdict, int link, DropReason reason) =>
        verdict.Action == ForwardingAction.SendIcmpError && parsed.IpVersion == 4 && parsed.L3HeaderLength > Ipv4Header.MinLength
            ? HostErrorWithOptions(buffer, offset, parsed, verdict, link, reason)
            : HostError(verdict, link, reason);

    /// <summary>
    /// The ICMP error about an IPv4 packet with options that was sent to the director, as the kernel's
    /// <c>__icmp_send</c> writes it: the options echoed as for a reset (<see cref="ReplyIpOptions"/>: a record route or
    /// timestamp with room gets the host's address or time twice, a source route is reversed and the error goes to its
    /// first hop) between the error's IP and ICMP headers, at most 576 bytes in all (the quote shortened); and the
    /// quoted packet's header as the host's input processing left it: its options with the host's address and time
    /// recorded by <c>ip_options_compile</c>, its checksum the one it came with (checked on this host's kernel: a UDP
    /// datagram with a record route to a closed port). The options take room after the frame (the quote moves on by
    /// their length); without it no error is sent. Options the host drops the packet for: no error either.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private FrameVerdict HostErrorWithOptions(Span<byte> buffer, int offset, in ParsedFrame parsed, in ForwardingVerdict verdict, int link, DropReason reason)
    {
        const int Icmp = 8;
        int linkHeader = parsed.L3Offset;
        int headerLength = parsed.L3HeaderLength;
        int quoteAt = offset + linkHeader;
        int errorIp = verdict.FrameOffset + linkHeader;
        if (errorIp + Ipv4Header.MinLength + Icmp != quoteAt)
        {
            // Not the layout IcmpErrorBuilder writes in front of the packet: sent as built.
            return HostError(verdict, link, reason);
        }

        Span<byte> options = stackalloc byte[ReplyIpOptions.MaxLength];
        Span<byte> received = stackalloc byte[ReplyIpOptions.MaxLength];
        var original = buffer.Slice(quoteAt, headerLength);
        uint source = BinaryPrimitives.ReadUInt32BigEndian(original[12..]);
        uint destination = BinaryPrimitives.ReadUInt32BigEndian(original[16..]);
        if (!TryReplyOptions(original, headerLength, options, ref source, ref destination, out int length, received))
        {
            return FrameVerdict.Drop(reason);
        }

        int quoted = Math.Min(verdict.FrameLength - linkHeader - Ipv4Header.MinLength - Icmp, 576 - Ipv4Header.MinLength - length - Icmp);
        if (quoteAt + length + quoted > buffer.Length)
        {
            return FrameVerdict.Drop(reason);
        }

        // The quoted packet, its header's options as received, then the ICMP header move on by the options' length.
        received[..(headerLength - Ipv4Header.MinLength)].CopyTo(buffer[(quoteAt + Ipv4Header.MinLength)..]);
        buffer.Slice(quoteAt, quoted).CopyTo(buffer[(quoteAt + length)..]);
        buffer.Slice(quoteAt - Icmp, Icmp).CopyTo(buffer[(quoteAt - Icmp + length)..]);
        options[..length].CopyTo(buffer[(errorIp + Ipv4Header.MinLength)..]);

        var ip = buffer.Slice(errorIp, Ipv4Header.MinLength + length);
        var icmp = buffer.Slice(errorIp + ip.Length, Icmp + quoted);
        ip[0] = (byte)(0x40 | (ip.Length / 4));
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ip.Length + icmp.Length));
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], source);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], destination);
        ip[10] = 0;
        ip[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip));
        icmp[2] = 0;
        icmp[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp));
        return FrameVerdict.Transmit(link, verdict.FrameOffset, linkHeader + ip.Length + icmp.Length, reason);
    }

    /// <summary>An ICMP error the director built as the host (sent back on <paramref name="link"/>), or the drop when none could be sent (rate limit, fragment).</summary>
    private static FrameVerdict HostError(in ForwardingVerdict verdict, int link, DropReason reason) =>
        verdict.Action == ForwardingAction.SendIcmpError
            ? FrameVerdict.Transmit(link, verdict.FrameOffset, verdict.FrameLength, reason)
            : FrameVerdict.Drop(reason);

    /// <summary>An ICMP error: find the connection whose packet it quotes and send it on, translated (<c>ip_vs_in_icmp</c>, <c>ip_vs_out_icmp</c>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private FrameVerdict HandleIcmpError(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, EngineView view)
    {
        if (parsed.IpVersion == 4 && TryRelayTunnelError(buffer, offset, parsed, link, view, out var relayed))
        {
            return relayed;
        }

        var embeddedReason = IcmpErrorTranslator.TryGetEmbeddedFlow(buffer.Slice(offset, length), parsed, out var embedded, out int transport);
        if (embeddedReason == DropReason.NotIcmpError)
        {
            // An error IPVS does not relate to a connection (an IPv4 parameter problem or redirect): the host's.
            return NotForAService(buffer, offset, length, parsed, link, view);
        }

        if (embeddedReason != DropReason.None)
        {
            return Dropped(embeddedReason);
        }

        bool keyExchange = embedded.Protocol is L4Protocol.Esp or L4Protocol.Ah;
        if (keyExchange)
        {
            // About an ESP or AH packet: related to the IKE connection of the same two hosts (ah_esp_conn_in_get and
            // ah_esp_conn_out_get on the quoted header), FULLNAT's excepted as for the packets themselves.
            embedded = KeyExchangeFlow(embedded);
        }

        // About a packet the director sent to the client (VIP -> client): the connection is found inbound by its reverse.
        var reverse = embedded.Reverse();
        if (_connections.TryGetInbound(reverse, out var handle) && _connections.TryGetForwarding(handle, out var connection)
            && !(keyExchange && connection.Method == ForwardingMethod.FullNat))
        {
            return IcmpErrorToRealServer(buffer, offset, length, parsed, link, ref Path(view, connection.RealServer), connection);
        }

        // About a packet the director sent to the real server (client or local -> RS): found outbound by its reverse.
        if (_connections.TryGetOutbound(reverse, out handle) && _connections.TryGetForwarding(handle, out connection))
        {
            if (!TryNextHopTo(connection.Client.Address, out int outLink, out var mac, out var unresolved))
            {
                return unresolved;
            }

            var toClient = _engine.Icmp.TranslateToClient(buffer, offset, length, parsed, Endpoints(connection), _engine.LinkArray[outLink].Mac, mac);
            if (toClient.Action == ForwardingAction.Transmit)
            {
                ref var path = ref Path(view, connection.RealServer);
                Count(path.ServiceIndex, connection.RealServer, WorkerCounters.OutPackets, parsed.L3Length);
            }

            return Finish(toClient, outLink, link);
        }

        if (_engine.Options.ScheduleIcmpErrors && !keyExchange && view.IsForAService(parsed.Flow.DestinationAddress))
        {
            // (ESP and AH are never scheduled: ah_esp_conn_schedule leaves them to the host.)
            return ScheduleIcmpError(buffer, offset, length, parsed, link, view, reverse, transport);
        }

        return NotForAService(buffer, offset, length, parsed, link, view);
    }

    /// <summary>
    /// <c>ip_vs_in_icmp</c>'s tunnel case: an ICMPv4 destination unreachable, source quench or time exceeded about a
    /// tunnel packet the director sent to a real server (IPIP, or GUE or GRE to the server's tunnel port, carrying an
    /// IPv4 packet) whose carried packet belongs to a connection is relayed to the client as the same error about its
    /// own packet, from the VIP. For "fragmentation needed" the MTU becomes the path's towards the server, less the
    /// 20 bytes the kernel takes off for the tunnel, and the error is only taken in (not relayed) when the client's
    /// packet did not forbid fragmentation. False when the error is not about a tunnel of ours: the caller goes on as
    /// with any error.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TryRelayTunnelError(Span<byte> buffer, int offset, in ParsedFrame parsed, int link, EngineView view, out FrameVerdict verdict)
    {
        verdict = default;
        byte type = parsed.IcmpType;
        if (type is not (IcmpHeader.TypeDestinationUnreachable or IcmpHeader.TypeSourceQuench or IcmpHeader.TypeTimeExceeded))
        {
            return false;
        }

        var frame = buffer.Slice(offset, parsed.FrameLength);
        int outer = parsed.L4Offset + 8;
        if (outer > frame.Length || Ipv4Header.Validate(frame[outer..], checkTotalLength: false) != DropReason.None
            || (BinaryPrimitives.ReadUInt16BigEndian(frame[(outer + 6)..]) & 0x1FFF) != 0)
        {
            return false;
        }

        int inner = outer + ((frame[outer] & 0x0F) * 4);
        if (!TryTunnelHeader(view, InetAddress.ReadIPv4(frame[(outer + 16)..]), frame[outer + 9], frame[inner..], out int tunnelHeader))
        {
            return false;
        }

        // The carried packet (IPv4 with TCP, UDP or SCTP ports), whose connection is found as the client sent it.
        inner += tunnelHeader;
        if (IcmpErrorTranslator.TryGetQuotedFlow(frame, parsed, inner, out var flow) != DropReason.None || !flow.IsIPv4
            || !_connections.TryGetInbound(flow, out var handle) || !_connections.TryGetForwarding(handle, out var connection))
        {
            return false;
        }

        var checksum = _engine.Icmp.VerifyChecksum(frame, parsed, out _);
        if (checksum != DropReason.None)
        {
            verdict = Dropped(checksum);
            return true;
        }

        var icmp = frame[parsed.L4Offset..];
        byte code = icmp[1];
        uint rest = BinaryPrimitives.ReadUInt32BigEndian(icmp[4..]);
        ref var path = ref Path(view, connection.RealServer);
        if (type == IcmpHeader.TypeDestinationUnreachable && code == IcmpHeader.CodeFragmentationNeeded)
        {
            if ((BinaryPrimitives.ReadUInt16BigEndian(frame[(inner + 6)..]) & 0x4000) == 0)
            {
                // The client does not use path MTU discovery: nothing to tell it.
                verdict = FrameVerdict.Consumed();
                return true;
            }

            // ipv4_update_pmtu lowers the route's MTU to what the router said (not below min_pmtu, 552), and the error
            // then carries the route's MTU less an IPv4 header.
            int reported = (int)(rest & 0xFFFF);
            int mtu = Math.Min(_engine.LinkArray[path.Link].Mtu, Math.Max(reported, 552));
            rest = (uint)(mtu > 68 + 20 ? mtu - 20 : mtu);
        }

        if (!TryNextHopTo(flow.SourceAddress, out int outLink, out var mac, out var unresolved))
        {
            verdict = unresolved;
            return true;
        }

        var limiter = _engine.Options.Forwarding.IcmpRateLimiter;
        if (limiter is not null && !limiter.TryAcquire(flow.SourceAddress, type, code))
        {
            verdict = FrameVerdict.Consumed();
            return true;
        }

        var relay = IcmpErrors.RelayAboutInnerPacket(
            buffer, offset, parsed.FrameLength, inner, type, code, rest, _engine.Options.HopLimit, _engine.LinkArray[outLink].Mac, mac, DropReason.None);
        if (relay.Action != ForwardingAction.SendIcmpError)
        {
            verdict = Dropped(DropReason.EmbeddedTruncated);
            return true;
        }

        // ip_vs_out_stats: a packet out of the connection's server, of the length of the client's packet as quoted.
        Count(path.ServiceIndex, connection.RealServer, WorkerCounters.OutPackets, parsed.FrameLength - inner);
        verdict = FrameVerdict.Transmit(outLink, relay.FrameOffset, relay.FrameLength);
        return true;
    }

    /// <summary>
    /// Whether a quoted packet to <paramref name="destination"/> of <paramref name="protocol"/> is a tunnel packet the
    /// director sends to one of its tunnel servers (<c>ip_vs_find_tunnel</c>, <c>ipvs_udp_decap</c>,
    /// <c>ipvs_gre_decap</c>), and how long its tunnel header is after the outer IP header.
    /// </summary>
    private static bool TryTunnelHeader(EngineView view, InetAddress destination, byte protocol, ReadOnlySpan<byte> header, out int length)
    {
        length = 0;
        foreach (ref readonly var path in view.Paths.AsSpan())
        {
            var tunnel = path.Tunnel;
            if (path.Server?.ForwardingMethod != ForwardingMethod.Tunnel || tunnel.RealServer != destination)
            {
                continue;
            }

            switch (tunnel.Type)
            {
                case TunnelType.IpIp when protocol == (byte)L4Protocol.IpInIp:
                    return true;
                case TunnelType.Gue when protocol == (byte)L4Protocol.Udp && header.Length >= 12 && BinaryPrimitives.ReadUInt16BigEndian(header[2..]) == tunnel.Port:
                    // GUE version 0, not a control message, carrying IPv4: UDP, the 4-byte GUE header and its options.
                    if (header[8] >> 5 != 0 || header[9] != (byte)L4Protocol.IpInIp)
                    {
                        return false;
                    }

                    length = 8 + 4 + ((header[8] & 0x1F) * 4);
                    return true;
                case TunnelType.Gre when protocol == 47 && header.Length >= 4:
                    // Version 0 and at most the checksum flag, carrying IPv4 (0x0800).
                    ushort flags = BinaryPrimitives.ReadUInt16BigEndian(header);
                    if ((flags & ~0x8000) != 0 || BinaryPrimitives.ReadUInt16BigEndian(header[2..]) != 0x0800)
                    {
                        return false;
                    }

                    length = (flags & 0x8000) != 0 ? 8 : 4;
                    return true;
                default:
                    continue;
            }
        }

        return false;
    }

    /// <summary>
    /// An ICMP error to the real server of <paramref name="connection"/> (<c>ip_vs_icmp_xmit</c>): for DR and TUN as
    /// the connection's packets go, once its checksum is verified (<c>ip_vs_in_icmp</c> checks it whatever the method);
    /// for NAT and FULLNAT translated, quoting the packet as the real server sent it.
    /// </summary>
    private FrameVerdict IcmpErrorToRealServer(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, ref DestinationPath path, in ConnectionForwarding connection)
    {
        if (connection.Method is ForwardingMethod.DirectRouting or ForwardingMethod.Tunnel)
        {
            var checksum = _engine.Icmp.VerifyChecksum(buffer.Slice(offset, length), parsed, out _);
            return checksum != DropReason.None ? Dropped(checksum) : ToRealServer(buffer, offset, length, parsed, link, ref path, connection);
        }

        if (!TryNextHop(ref path, out var mac, out var unresolved))
        {
            return unresolved;
        }

        var toServer = _engine.Icmp.TranslateToRealServer(buffer, offset, length, parsed, Endpoints(connection), _engine.LinkArray[path.Link].Mac, mac);
        if (toServer.Action == ForwardingAction.Transmit)
        {
            Count(path.ServiceIndex, connection.RealServer, WorkerCounters.InPackets, parsed.L3Length);
        }

        return Finish(toServer, path.Link, link);
    }

    /// <summary>
    /// schedule_icmp (<see cref="DirectorOptions.ScheduleIcmpErrors"/>): an ICMP error to a virtual address about a
    /// packet of a service's flow that matches no connection is scheduled as that flow (client to virtual service,
    /// <paramref name="flow"/>) would be, by the rules its protocol's <c>conn_schedule</c> applies to the quoted header
    /// (TCP: a SYN without RST unless sloppy_tcp; SCTP: an INIT unless sloppy_sctp, never an ABORT; UDP: any), and sent
    /// to the real server chosen (<c>ip_vs_in_icmp</c>, <c>ip_vs_try_to_schedule</c>). The rest is the host's.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private FrameVerdict ScheduleIcmpError(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, EngineView view, in FlowKey flow, int transport)
    {
        if (!TryFindService(view, parsed.Flow, flow, out var service))
        {
            return NotForAService(buffer, offset, length, parsed, link, view);
        }

        // The quoted header the protocol reads: TCP's whole header, SCTP's common header and first chunk header; the
        // kernel drops the error when the quote is shorter (skb_header_pointer fails in conn_schedule).
        var quoted = buffer[(offset + transport)..(offset + parsed.FrameLength)];
        bool schedulable;
        switch (flow.Protocol)
        {
            case L4Protocol.Tcp when quoted.Length >= 20:
                var flags = (TcpFlags)quoted[13];
                schedulable = ((flags & TcpFlags.Syn) != 0 || _engine.Options.SloppyTcp) && (flags & TcpFlags.Rst) == 0;
                break;
            case L4Protocol.Sctp when quoted.Length >= SctpHeader.Length + SctpHeader.ChunkHeaderLength:
                byte chunk = quoted[SctpHeader.Length];
                schedulable = chunk == SctpHeader.ChunkInit || (_engine.Options.SloppySctp && chunk != SctpHeader.ChunkAbort);
                break;
            case L4Protocol.Udp:
                schedulable = true;
                break;
            default:
                return Dropped(DropReason.EmbeddedTruncated);
        }

        return schedulable
            ? Schedule(buffer, offset, length, parsed, link, view, service, flow, firstPacket: null)
            : NotForAService(buffer, offset, length, parsed, link, view);
    }

    private static NatEndpoints Endpoints(in ConnectionForwarding connection) =>
        connection.Method == ForwardingMethod.FullNat
            ? new NatEndpoints(connection.Client, connection.Virtual, connection.Local, connection.Destination)
            : NatEndpoints.ForNat(connection.Client, connection.Virtual, connection.Destination);

    /// <summary>
    /// A packet that is neither for a service nor a reply of a connection found by its own flow: an ESP or AH packet may
    /// still be a NAT real server's reply after an IKE connection (<see cref="TryFollowKeyExchangeOutbound"/>); the rest
    /// is <see cref="ToHost"/>'s.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private FrameVerdict NotForAService(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, EngineView view)
    {
        if (parsed.Protocol is L4Protocol.Esp or L4Protocol.Ah && TryFollowKeyExchangeOutbound(buffer, offset, length, parsed, link, view, out var followed))
        {
            return followed;
        }

        return ToHost(buffer, offset, length, parsed, link, view);
    }

    /// <summary><see cref="NotForAService"/> once no connection takes the packet: neighbour discovery, the director's own addresses, or the host.</summary>
    private FrameVerdict ToHost(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, EngineView view)
    {
        var destination = parsed.Flow.DestinationAddress;
        if (parsed.Protocol == L4Protocol.IcmpV6 && parsed.IcmpType is IcmpV6Header.TypeNeighborSolicitation or IcmpV6Header.TypeNeighborAdvertisement)
        {
            return HandleNeighborDiscovery(buffer, offset, length, parsed, link, view);
        }

        if (view.IsLocalAddress(destination))
        {
            return ToOwnedAddress(buffer, offset, length, parsed, link, DropReason.NoConnection);
        }

        if (view.OwnsOnLink(link, destination) && _engine.LinkArray[link].AnswersForAddresses)
        {
            return ToOwnedAddress(buffer, offset, length, parsed, link, DropReason.None);
        }

        return view.NatRealServices is null ? FrameVerdict.Deliver() : RefuseNatReply(buffer, offset, parsed, link, view);
    }

    /// <summary>
    /// nat_icmp_send (<see cref="DirectorOptions.NatIcmpSend"/>): a TCP, UDP or SCTP packet the director would pass on,
    /// from a NAT real server's address and port (<c>ip_vs_has_real_service</c>), belongs to no connection the director
    /// has: it is dropped, and unless it is a reset or an ABORT the server gets an ICMP port unreachable from the
    /// director's address on the link it came from (<c>ip_vs_out_hook</c>'s <c>icmp_send</c>, whose source is the
    /// route's towards the server). A non-first fragment has no ports (<c>frag_safe_skb_hp</c>) and goes on.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private FrameVerdict RefuseNatReply(Span<byte> buffer, int offset, in ParsedFrame parsed, int link, EngineView view)
    {
        if (parsed.Protocol is not (L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.Sctp) || parsed.Fragment == FragmentKind.NonFirst
            || !view.IsNatRealService(parsed.Protocol, parsed.Flow.Source))
        {
            return FrameVerdict.Deliver();
        }

        const DropReason Reason = DropReason.NoNatConnection;
        _counters.Drop(Reason);
        bool silent = parsed.Protocol switch
        {
            L4Protocol.Tcp => (parsed.TcpFlags & TcpFlags.Rst) != 0,
            L4Protocol.Sctp => parsed.SctpEvent == SctpChunkEvent.Abort,
            _ => false,
        };
        if (silent || !_engine.LinkArray[link].TryGetSourceAddress(parsed.IpVersion == 6, out var source))
        {
            return FrameVerdict.Drop(Reason);
        }

        var options = _engine.Options;
        return HostError(IcmpErrors.PortUnreachable(buffer, offset, parsed, source, options.HopLimit, Reason, options.Forwarding.IcmpRateLimiter), link, Reason);
    }

    /// <summary>
    /// An ESP or AH packet to a virtual address: IPVS schedules none (<c>ah_esp_conn_schedule</c> leaves it to the host)
    /// but sends it after the IKE connection between the same two hosts, UDP from port 500 to port 500
    /// (<c>ah_esp_conn_in_get</c>), with that connection's real server and method; the connection's timer is refreshed
    /// and its counters count the packet. NAT rewrites the IP header alone (<see cref="NatRewriter"/>). A FULLNAT IKE
    /// connection is not followed: its local port is not 500, so the real server's ESP could not be matched back. With
    /// no IKE connection the packet is the host's.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private FrameVerdict FollowKeyExchangeInbound(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, EngineView view)
    {
        if (!_connections.TryGetInbound(KeyExchangeFlow(parsed.Flow), out var handle) || !_connections.TryGetForwarding(handle, out var connection)
            || connection.Method == ForwardingMethod.FullNat)
        {
            return ToOwnedAddress(buffer, offset, length, parsed, link, DropReason.NoVirtualService);
        }

        _ = _connections.Update(handle, PacketDirection.Inbound, default);
        return ToRealServer(buffer, offset, length, parsed, link, ref Path(view, connection.RealServer), connection);
    }

    /// <summary>The IKE flow (UDP, port 500 to port 500) between the two hosts of an ESP or AH flow, in the same direction (<c>ah_esp_conn_fill_param_proto</c>).</summary>
    private static FlowKey KeyExchangeFlow(in FlowKey flow) =>
        new(L4Protocol.Udp, flow.SourceAddress, KeyExchangePort, flow.DestinationAddress, KeyExchangePort);

    /// <summary>
    /// An ESP or AH packet that is not for a virtual address: a NAT real server's to a client it shares an IKE connection
    /// with (<c>ah_esp_conn_out_get</c>) is sent on as that connection's reply, its source rewritten to the virtual
    /// address. False for any other.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TryFollowKeyExchangeOutbound(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, EngineView view, out FrameVerdict verdict)
    {
        if (_connections.TryGetOutbound(KeyExchangeFlow(parsed.Flow), out var handle) && _connections.TryGetServer(handle, out _, out var method)
            && method == ForwardingMethod.Nat)
        {
            Outbound(buffer, offset, length, parsed, link, view, handle, out verdict);
            return true;
        }

        verdict = default;
        return false;
    }

    /// <summary>
    /// A packet for an address the director owns that no service or connection takes: answer an echo request; deliver
    /// the rest when <paramref name="otherwise"/> is none (the host's own address on a link that answers for it), else
    /// answer it as the host's stack answers a packet for a local address and a port with no socket (<see cref="Unserved"/>).
    /// </summary>
    private FrameVerdict ToOwnedAddress(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, DropReason otherwise)
    {
        bool echo = parsed.Protocol == L4Protocol.Icmp
            ? parsed.IcmpType == IcmpHeader.TypeEchoRequest
            : parsed.Protocol == L4Protocol.IcmpV6 && parsed.IcmpType == IcmpV6Header.TypeEchoRequest;
        if (echo && _engine.Options.AnswerEcho && parsed.Fragment == FragmentKind.None)
        {
            // icmp_rcv and icmpv6_rcv drop a message with a wrong checksum unanswered.
            return TransportChecksum.IsValid(buffer.Slice(offset, length), parsed)
                ? EchoReply(buffer, offset, length, parsed, link)
                : Dropped(DropReason.BadInputChecksum);
        }

        if (parsed.Protocol == L4Protocol.Icmp && parsed.IcmpType == IcmpHeader.TypeTimestamp && _engine.Options.AnswerEcho
            && parsed.Fragment == FragmentKind.None)
        {
            return TransportChecksum.IsValid(buffer.Slice(offset, length), parsed)
                ? TimestampReply(buffer, offset, parsed, link)
                : Dropped(DropReason.BadInputChecksum);
        }

        return otherwise == DropReason.None ? FrameVerdict.Deliver() : Unserved(buffer, offset, parsed, link, otherwise);
    }

    /// <summary>
    /// Turns a received IPv4 header into the header of the host's reply, as the kernel's <c>icmp_reply</c> writes it:
    /// the addresses swapped, the type of service kept, DF clear (the ICMP socket's <c>IP_PMTUDISC_DONT</c>), a new
    /// identification, the director's TTL, the total length, and the header checksum. Checked on a 6.18 kernel: an echo
    /// request with DF and identification 0x5555 is answered with neither. A request with options gets the reply's
    /// options (<see cref="ReplyIpOptions"/>), and its message, the <paramref name="messageLength"/> bytes after its
    /// header, moves up behind them.
    /// </summary>
    /// <returns>The reply's header length; 0 when the request's options make the host drop it (nothing is written then).</returns>
    private int TurnAroundIPv4(Span<byte> ip, int headerLength, int messageLength)
    {
        uint source = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        uint destination = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        int replyHeaderLength = headerLength == Ipv4Header.MinLength
            ? Ipv4Header.MinLength
            : WriteReplyOptions(ip, headerLength, messageLength, ref source, ref destination);
        if (replyHeaderLength == 0)
        {
            return 0;
        }

        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], destination);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], source);
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(replyHeaderLength + messageLength));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], IcmpErrors.NextIdentification(_engine.Options.Forwarding, destination, source));
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0);
        ip[8] = _engine.Options.HopLimit;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..replyHeaderLength]));
        return replyHeaderLength;
    }

    /// <summary>
    /// The options of a reply to a request with options (<see cref="ReplyIpOptions"/>), written over the request's
    /// with the IHL, the message moved up behind them. <paramref name="source"/> and <paramref name="destination"/>
    /// come in as the request's and leave as the addresses the reply is sent to and from, swapped by the caller (a
    /// source route changes them). The reply is never longer than the request, so it stays in the request's frame.
    /// </summary>
    /// <returns>The reply's header length; 0 (nothing written) when the host would drop the request.</returns>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int WriteReplyOptions(Span<byte> ip, int headerLength, int messageLength, ref uint source, ref uint destination)
    {
        Span<byte> options = stackalloc byte[ReplyIpOptions.MaxLength];
        uint from = source;
        uint to = destination;
        if (!TryReplyOptions(ip, headerLength, options, ref from, ref to, out int length))
        {
            return 0;
        }

        int replyHeaderLength = Ipv4Header.MinLength + length;
        if (replyHeaderLength != headerLength)
        {
            // Span copies handle the overlap: the message moves towards the front.
            ip.Slice(headerLength, messageLength).CopyTo(ip[replyHeaderLength..]);
            ip[0] = (byte)((ip[0] & 0xF0) | (replyHeaderLength / 4));
        }

        options[..length].CopyTo(ip[Ipv4Header.MinLength..]);

        // TryWrite turned from and to into the reply's addresses; the caller writes destination as the reply's source.
        source = to;
        destination = from;
        return replyHeaderLength;
    }

    /// <summary>
    /// The options of the host's reply to an IPv4 packet with options (<see cref="ReplyIpOptions"/>), for an echo or
    /// timestamp reply and a TCP reset alike, written into <paramref name="options"/> (cleared here, at least
    /// <see cref="ReplyIpOptions.MaxLength"/> bytes). <paramref name="source"/> and <paramref name="destination"/> come
    /// in as the packet's and leave as the reply's own.
    /// </summary>
    /// <returns>False when the host would drop the packet for its options.</returns>
    private bool TryReplyOptions(ReadOnlySpan<byte> ip, int headerLength, Span<byte> options, ref uint source, ref uint destination, out int length, Span<byte> received = default)
    {
        options.Clear();
        var host = new HostAddresses(_engine.View, _engine.LinkArray);
        return ReplyIpOptions.TryWrite(ip[Ipv4Header.MinLength..headerLength], options, host, MillisecondsSinceMidnight(),
            _engine.Options.AcceptSourceRoute, ref source, ref destination, out length, received);
    }

    /// <summary>The host's ICMP clock: milliseconds since midnight UT (<c>inet_current_timestamp</c>), from the engine's time provider.</summary>
    private uint MillisecondsSinceMidnight() => (uint)(_engine.Time.GetUtcNow().ToUnixTimeMilliseconds() % 86_400_000);

    /// <summary>
    /// Answers an ICMP timestamp request as the kernel's <c>icmp_timestamp</c>: a 20-byte timestamp reply with the
    /// request's identifier, sequence number and originate timestamp, and the receive and transmit timestamps both the
    /// milliseconds since midnight UT (<c>inet_current_timestamp</c>). A message shorter than its originate timestamp is
    /// dropped (<see cref="DropReason.BadIcmpHeader"/>; the kernel's <c>PKT_TOO_SMALL</c>). The IP header is the
    /// request's turned around, options included, as for echo replies (<see cref="TurnAroundIPv4"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private FrameVerdict TimestampReply(Span<byte> buffer, int offset, in ParsedFrame parsed, int link)
    {
        const int MessageLength = 20;
        int end = offset + parsed.L4Offset + MessageLength;
        if (parsed.FrameLength - parsed.L4Offset < 12 || end > buffer.Length)
        {
            return Dropped(DropReason.BadIcmpHeader);
        }

        var frame = buffer[offset..end];
        int headerLength = TurnAroundIPv4(frame[parsed.L3Offset..], parsed.L3HeaderLength, MessageLength);
        if (headerLength == 0)
        {
            return Dropped(DropReason.IpOptions);
        }

        HostReply.TurnAround(frame, _engine.LinkArray[link].Mac);
        var icmp = frame.Slice(parsed.L3Offset + headerLength, MessageLength);
        uint milliseconds = MillisecondsSinceMidnight();
        icmp[0] = IcmpHeader.TypeTimestampReply;
        icmp[1] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(icmp[12..], milliseconds);
        BinaryPrimitives.WriteUInt32BigEndian(icmp[16..], milliseconds);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp));
        return FrameVerdict.Transmit(link, offset, parsed.L3Offset + headerLength + MessageLength);
    }

    /// <summary>
    /// A packet for one of the director's addresses (a VIP or a FULLNAT local address) and a port no service has, and
    /// no connection: on a kernel director the host owns these addresses, and its stack, with no socket there, answers
    /// a TCP segment with a reset (<see cref="DirectorOptions.ResetUnmatchedTcp"/>), an SCTP packet as out of the blue
    /// (<see cref="DirectorOptions.AbortUnmatchedSctp"/>) and a UDP datagram with an ICMP port unreachable under the
    /// ICMP rate limit (<see cref="DirectorOptions.UnreachableUnservedUdp"/>, <c>__udp4_lib_rcv</c>), and a packet of a
    /// protocol it has no handler for with a protocol unreachable (<see cref="DirectorOptions.UnreachableUnknownProtocols"/>).
    /// Counted as <paramref name="reason"/>; the rest (fragments, ICMP, IGMP) is dropped.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private FrameVerdict Unserved(Span<byte> buffer, int offset, in ParsedFrame parsed, int link, DropReason reason)
    {
        var options = _engine.Options;
        switch (parsed.Protocol)
        {
            case L4Protocol.Tcp when options.ResetUnmatchedTcp:
            case L4Protocol.Sctp when options.AbortUnmatchedSctp:
                return AnswerUnmatched(buffer, offset, parsed, link, reason);
            case L4Protocol.Udp or L4Protocol.UdpLite when options.UnreachableUnservedUdp && parsed.Fragment == FragmentKind.None
                && HostReply.MayAnswer(parsed.Flow.SourceAddress):
                if (!TransportChecksum.IsValid(buffer[offset..], parsed))
                {
                    // The UDP (and UDP-Lite) stack checks the checksum before it looks for a socket.
                    return Dropped(DropReason.BadInputChecksum);
                }

                _counters.Drop(reason);
                return PortUnreachable(buffer, offset, parsed, link, reason);
            case var protocol when options.UnreachableUnknownProtocols && !HasHostHandler(protocol, parsed.IpVersion == 4)
                && parsed.Fragment == FragmentKind.None && HostReply.MayAnswer(parsed.Flow.SourceAddress):
                _counters.Drop(reason);
                return HostErrorAboutOwnPacket(buffer, offset, parsed, IcmpErrors.ProtocolUnreachable(buffer, offset, parsed, parsed.Flow.DestinationAddress, options.HopLimit, reason, options.Forwarding.IcmpRateLimiter), link, reason);
            default:
                return Dropped(reason);
        }
    }

    /// <summary>
    /// Whether the host's stack has a handler for <paramref name="protocol"/> (<see cref="DirectorOptions.UnreachableUnknownProtocols"/>):
    /// a stock kernel with the SCTP module, as measured on a 6.18 kernel. IPv4: ICMP, IGMP, TCP, UDP, UDP-Lite, SCTP.
    /// IPv6: ICMPv6, TCP, UDP, UDP-Lite, SCTP and "no next header".
    /// </summary>
    private static bool HasHostHandler(L4Protocol protocol, bool ipv4)
    {
        const L4Protocol Igmp = (L4Protocol)2;
        const L4Protocol NoNextHeader = (L4Protocol)59;
        return protocol is L4Protocol.Tcp or L4Protocol.Udp or L4Protocol.Sctp or L4Protocol.UdpLite
            || (ipv4 ? protocol is L4Protocol.Icmp or Igmp : protocol is L4Protocol.IcmpV6 or NoNextHeader);
    }

    /// <summary>
    /// A TCP segment or SCTP packet that matches no connection and may not create one (for a virtual service, or for a
    /// port of the director's addresses that no service has): counted as <paramref name="reason"/> and answered as the
    /// host's stack would answer it (<see cref="TcpResetReply"/>, <see cref="SctpAbortReply"/>; nothing for a reset or
    /// an ABORT), after the checksum check the host's stack makes first.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private FrameVerdict AnswerUnmatched(Span<byte> buffer, int offset, in ParsedFrame parsed, int link, DropReason reason)
    {
        bool tcp = parsed.Protocol == L4Protocol.Tcp;
        if (parsed.Fragment == FragmentKind.None && !TransportChecksum.IsValid(buffer[offset..], parsed))
        {
            // The host's stack drops a segment or packet with a wrong checksum before it would answer it
            // (tcp_v4_rcv's and tcp_v6_rcv's csum_error, sctp_rcv's CRC32c check).
            return Dropped(DropReason.BadInputChecksum);
        }

        if (tcp && parsed.IpVersion == 4 && parsed.L3HeaderLength > Ipv4Header.MinLength && parsed.Fragment == FragmentKind.None)
        {
            return ResetWithOptions(buffer, offset, parsed, link, reason);
        }

        _counters.Drop(reason);
        int length = 0;
        if (parsed.Fragment == FragmentKind.None)
        {
            var mac = _engine.LinkArray[link].Mac;
            length = tcp
                ? TcpResetReply.Write(buffer, offset, parsed, mac, _engine.Options.HopLimit)
                : SctpAbortReply.Write(buffer, offset, parsed, mac, _engine.Options.HopLimit);
        }

        return length > 0 ? FrameVerdict.Transmit(link, offset, length, reason) : FrameVerdict.Drop(reason);
    }

    /// <summary>
    /// The reset for an IPv4 segment with options: the host's stack sends it with the options echoed
    /// (<c>ip_send_unicast_reply</c>'s <c>__ip_options_echo</c>, see <see cref="ReplyIpOptions"/>), to the first hop of a
    /// reversed source route. Options the host drops the segment for (<c>ip_options_compile</c> rejects them, a source
    /// route it does not accept) drop it unanswered, as <see cref="DropReason.IpOptions"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private FrameVerdict ResetWithOptions(Span<byte> buffer, int offset, in ParsedFrame parsed, int link, DropReason reason)
    {
        var ip = buffer[(offset + parsed.L3Offset)..];
        Span<byte> options = stackalloc byte[ReplyIpOptions.MaxLength];
        uint source = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        uint destination = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        if (!TryReplyOptions(ip, parsed.L3HeaderLength, options, ref source, ref destination, out int optionsLength))
        {
            return Dropped(DropReason.IpOptions);
        }

        _counters.Drop(reason);
        int length = TcpResetReply.Write(buffer, offset, parsed, _engine.LinkArray[link].Mac, _engine.Options.HopLimit, options[..optionsLength], source, destination);
        return length > 0 ? FrameVerdict.Transmit(link, offset, length, reason) : FrameVerdict.Drop(reason);
    }

    /// <summary>
    /// Turns an echo request into its reply in place: addresses and MACs swapped, type changed, hop limit reset; an IPv4
    /// request's options become the reply's (<see cref="ReplyIpOptions"/>; options the host would drop the request for
    /// drop it as <see cref="DropReason.IpOptions"/>), an IPv6 request's extension headers are not sent back.
    /// </summary>
    private FrameVerdict EchoReply(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link)
    {
        var frame = buffer.Slice(offset, length);
        var ip = frame.Slice(parsed.L3Offset, parsed.L3Length);
        var icmp = frame[parsed.L4Offset..parsed.FrameLength];
        if (parsed.IpVersion == 4)
        {
            int headerLength = TurnAroundIPv4(ip, parsed.L3HeaderLength, icmp.Length);
            if (headerLength == 0)
            {
                return Dropped(DropReason.IpOptions);
            }

            HostReply.TurnAround(frame, _engine.LinkArray[link].Mac);
            icmp = ip.Slice(headerLength, icmp.Length);
            ushort old = BinaryPrimitives.ReadUInt16BigEndian(icmp);
            icmp[0] = IcmpHeader.TypeEchoReply;
            ushort sum = BinaryPrimitives.ReadUInt16BigEndian(icmp[2..]);
            BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Update16(sum, old, BinaryPrimitives.ReadUInt16BigEndian(icmp)));
            return FrameVerdict.Transmit(link, offset, parsed.L3Offset + headerLength + icmp.Length);
        }
        else
        {
            HostReply.TurnAround(frame, _engine.LinkArray[link].Mac);
            // The pseudo-header sum does not change when source and destination swap.
            Span<byte> source = stackalloc byte[16];
            ip.Slice(8, 16).CopyTo(source);
            ip.Slice(24, 16).CopyTo(ip[8..]);
            source.CopyTo(ip[24..]);
            ip[7] = _engine.Options.HopLimit;

            // The traffic class is kept (icmpv6_echo_reply); the flow label is the kernel's automatic one for the reply
            // (flowlabel_reflect is off by default): a hash of its addresses and type, the same for every echo reply to
            // the client.
            uint label = Ipv6FlowLabel.Compute(parsed.Flow.DestinationAddress, parsed.Flow.SourceAddress, L4Protocol.IcmpV6, Ipv6FlowLabel.IcmpPorts(IcmpV6Header.TypeEchoReply, 0));
            BinaryPrimitives.WriteUInt32BigEndian(ip, (BinaryPrimitives.ReadUInt32BigEndian(ip) & ~Ipv6FlowLabel.Mask) | label);
            ushort old = BinaryPrimitives.ReadUInt16BigEndian(icmp);
            icmp[0] = IcmpV6Header.TypeEchoReply;
            ushort sum = BinaryPrimitives.ReadUInt16BigEndian(icmp[2..]);
            BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Update16(sum, old, BinaryPrimitives.ReadUInt16BigEndian(icmp)));

            int upper = parsed.L3Offset + Ipv6Header.Length;
            if (parsed.L4Offset != upper)
            {
                // icmpv6_echo_reply builds a new packet: the request's extension headers (hop-by-hop or destination
                // options) are not sent back. The message moves up to the fixed header; its checksum, over the same
                // upper-layer length, stays right.
                icmp.CopyTo(frame[upper..]);
                ip[6] = (byte)L4Protocol.IcmpV6;
                BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)icmp.Length);
                return FrameVerdict.Transmit(link, offset, upper + icmp.Length);
            }
        }

        return FrameVerdict.Transmit(link, offset, parsed.FrameLength);
    }

    /// <summary>ARP: answer a request for an address the director owns on the link, learn from what is addressed to it (RFC 826).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private FrameVerdict HandleArp(Span<byte> buffer, int offset, in ParsedFrame parsed, int link, EngineView view)
    {
        var frame = buffer.Slice(offset, parsed.FrameLength);
        if (!ArpHeader.TryCreate(frame[parsed.L3Offset..], out var arp))
        {
            return Dropped(DropReason.BadArp);
        }

        var target = arp.TargetAddress;
        var sender = arp.SenderAddress;
        var senderMac = arp.SenderMac;
        bool ours = view.OwnsOnLink(link, target);
        if (!ours)
        {
            // RFC 826's merge: refresh an entry the director already has, create none.
            if (sender != default)
            {
                _ = _engine.Neighbors.Refresh(link, sender, senderMac);
            }

            return FrameVerdict.Deliver();
        }

        if (sender != default)
        {
            _engine.Neighbors.Set(link, sender, senderMac);
        }

        if (arp.Operation != ArpHeader.OperationRequest)
        {
            return FrameVerdict.Consumed();
        }

        var mac = _engine.LinkArray[link].Mac;
        arp.Operation = ArpHeader.OperationReply;
        arp.TargetMac = senderMac;
        arp.TargetAddress = sender;
        arp.SenderMac = mac;
        arp.SenderAddress = target;
        senderMac.WriteTo(frame);
        mac.WriteTo(frame[6..]);
        return FrameVerdict.Transmit(link, offset, parsed.FrameLength);
    }

    /// <summary>
    /// Neighbour discovery (RFC 4861): answer a solicitation for an address the director owns on the link with an
    /// advertisement written in its place; learn from solicitations and advertisements.
    /// </summary>
    private FrameVerdict HandleNeighborDiscovery(Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, EngineView view)
    {
        var frame = buffer.Slice(offset, length);
        var icmp = frame[parsed.L4Offset..parsed.FrameLength];
        if (icmp.Length < 24 || parsed.HopLimit != 255 || icmp[1] != 0)
        {
            // RFC 4861 7.1.1 and 7.1.2: hop limit 255 (not forwarded by a router), code 0, and room for the target address.
            return Dropped(DropReason.BadIcmpHeader);
        }

        if (!TransportChecksum.IsValid(frame, parsed))
        {
            // RFC 4861 7.1.1 and 7.1.2: a message with a wrong checksum is discarded: not answered, nothing learned from it.
            return Dropped(DropReason.BadInputChecksum);
        }

        var target = InetAddress.ReadIPv6(icmp[8..]);
        var source = parsed.Flow.SourceAddress;
        var sourceMac = FindLinkLayerOption(icmp[24..], parsed.IcmpType == IcmpV6Header.TypeNeighborSolicitation ? (byte)1 : (byte)2);
        bool ours = view.OwnsOnLink(link, target);
        if (parsed.IcmpType == IcmpV6Header.TypeNeighborAdvertisement)
        {
            if (sourceMac is { } advertised)
            {
                if (!_engine.Neighbors.Refresh(link, target, advertised) && ours)
                {
                    return FrameVerdict.Consumed();
                }
            }

            return FrameVerdict.Deliver();
        }

        if (!ours)
        {
            return FrameVerdict.Deliver();
        }

        if (source == default)
        {
            // Duplicate address detection for an address the director owns: defend it (RFC 4862 5.4.3) by advertising to all nodes.
            source = InetAddress.Parse("ff02::1");
        }
        else if (sourceMac is { } learned)
        {
            _engine.Neighbors.Set(link, source, learned);
        }

        // The advertisement: 24 bytes + a target link-layer address option (8 bytes).
        const int advertisement = 32;
        if (buffer.Length - offset - parsed.L4Offset < advertisement)
        {
            return Dropped(DropReason.NoRoomForReply);
        }

        var mac = _engine.LinkArray[link].Mac;
        var requester = MacAddress.Read(frame[6..]);
        var destinationMac = source.IsIPv6 && source.High >> 56 == 0xFF ? new MacAddress(0x3333_0000_0001UL) : requester;
        int total = parsed.L4Offset + advertisement;
        var output = buffer.Slice(offset, total);
        destinationMac.WriteTo(output);
        mac.WriteTo(output[6..]);
        var ip = output.Slice(parsed.L3Offset, 40);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], advertisement);
        ip[7] = 255;
        target.WriteIPv6To(ip[8..]);
        source.WriteIPv6To(ip[24..]);
        var na = output.Slice(parsed.L4Offset, advertisement);
        na[0] = IcmpV6Header.TypeNeighborAdvertisement;
        na[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(na[2..], 0);

        // Solicited (unless answering DAD) and override; target stays in bytes 8-23.
        BinaryPrimitives.WriteUInt32BigEndian(na[4..], source.High >> 56 == 0xFF ? 0x2000_0000u : 0x6000_0000u);
        target.WriteIPv6To(na[8..]);
        na[24] = 2;
        na[25] = 1;
        mac.WriteTo(na[26..]);
        BinaryPrimitives.WriteUInt16BigEndian(na[2..], Checksum.Compute(na, Checksum.PseudoHeaderSum(target, source, L4Protocol.IcmpV6, advertisement)));
        return FrameVerdict.Transmit(link, offset, total);
    }

    private static MacAddress? FindLinkLayerOption(ReadOnlySpan<byte> options, byte type)
    {
        while (options.Length >= 8)
        {
            int length = options[1] * 8;
            if (length == 0 || length > options.Length)
            {
                return null;
            }

            if (options[0] == type && length >= 8)
            {
                return MacAddress.Read(options[2..]);
            }

            options = options[length..];
        }

        return null;
    }

    /// <summary>The MAC address of a real server's next hop, or the verdict when there is none (no route, or not resolved yet).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryNextHop(ref DestinationPath path, out MacAddress mac, out FrameVerdict otherwise)
    {
        if (path.Link < 0 || path.Neighbor is null)
        {
            mac = default;
            otherwise = Dropped(DropReason.NoRoute);
            return false;
        }

        if (!path.Neighbor.TryGetMac(out mac))
        {
            otherwise = FrameVerdict.Resolve(path.Link, path.Neighbor.Address);
            return false;
        }

        otherwise = default;
        return true;
    }

    /// <summary>The link and next hop's MAC address towards a client (connected subnet or gateway), or the verdict when there is none.</summary>
    private bool TryNextHopTo(InetAddress destination, out int link, out MacAddress mac, out FrameVerdict otherwise)
    {
        if (!_engine.Routes.TryRoute(destination, out link, out var nextHop, out var gateway))
        {
            mac = default;
            otherwise = Dropped(DropReason.NoRoute);
            return false;
        }

        // Behind the gateway (the usual place of clients) the entry is at hand; on a connected subnet, look it up.
        if (!(gateway is not null ? gateway.TryGetMac(out mac) : _engine.Neighbors.TryGet(link, nextHop, out mac)))
        {
            otherwise = FrameVerdict.Resolve(link, nextHop);
            return false;
        }

        otherwise = default;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref DestinationPath Path(EngineView view, int index) => ref view.Paths[index];

    /// <summary>
    /// Where a connection of <paramref name="flow"/> to the server of <paramref name="path"/> goes: the server's address,
    /// and its port unless <see cref="DestinationPath.PacketPort"/> (a server on port 0, or a persistent port-0 or
    /// firewall-mark service), then the packet's (<c>ip_vs_schedule</c>, <c>ip_vs_sched_persist</c>). New connections get
    /// it; established NAT packets compute it again rather than read it from the connection's slot.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static InetEndpoint DestinationOf(ref DestinationPath path, in FlowKey flow) =>
        new(path.Server!.Address, path.PacketPort ? flow.DestinationPort : path.Server.Port);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private FrameVerdict Finish(ForwardingVerdict verdict, int outLink, int inLink)
    {
        switch (verdict.Action)
        {
            case ForwardingAction.Transmit:
                return FrameVerdict.Transmit(outLink, verdict.FrameOffset, verdict.FrameLength);
            case ForwardingAction.TransmitFragments:
                var (_, first) = verdict.GetFrame(0);
                return FrameVerdict.TransmitFragments(outLink, verdict.FrameOffset, verdict.FrameLength, verdict.FrameCount, first);
            case ForwardingAction.SendIcmpError:
                // The error goes back to the neighbour that sent the frame (the builder swapped the MACs).
                _counters.Drop(verdict.Reason);
                return FrameVerdict.Transmit(inLink, verdict.FrameOffset, verdict.FrameLength, verdict.Reason);
            default:
                return Dropped(verdict.Reason);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Count(int service, int server, int kind, int bytes)
    {
        var services = _counters.Services;
        var servers = _counters.Servers;
        if (service >= 0)
        {
            int s = (service * WorkerCounters.Stride) + kind;
            services[s]++;
            if (kind != WorkerCounters.Connections)
            {
                services[s + 2] += bytes;
            }
        }

        int r = (server * WorkerCounters.Stride) + kind;
        servers[r]++;
        if (kind != WorkerCounters.Connections)
        {
            servers[r + 2] += bytes;
        }
    }

    private FrameVerdict Dropped(DropReason reason)
    {
        _counters.Drop(reason);
        return FrameVerdict.Drop(reason);
    }

    private void Refresh(EngineView view)
    {
        int services = 0;
        foreach (var service in view.Snapshot.Services)
        {
            services = Math.Max(services, service.Index + 1);
        }

        foreach (var entry in view.Snapshot.Servers)
        {
            services = Math.Max(services, entry.ServiceIndex + 1);
        }

        _counters.Ensure(services, view.Paths.Length);
        _view = view;
    }
}
