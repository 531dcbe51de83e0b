using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Lvs.ConnectionTracking;
using Lvs.Core;
using Lvs.Core.Headers;
using Lvs.Director.Ftp;

namespace Lvs.Director;

/// <content>
/// The FTP helper's part of the packet path (<see cref="DirectorOptions.FtpPorts"/>, the kernel's <c>ip_vs_ftp</c>):
/// the client's commands and the server's passive replies on a NAT control connection, the data connections they
/// announce, and the control connection's sequence numbers after a reply was rewritten.
/// </content>
public sealed partial class PacketWorker
{
    private const int TcpSequenceOffset = 4;
    private const int TcpAcknowledgmentOffset = 8;
    private const int TcpChecksumOffset = 16;
    private const byte TcpOptionSack = 5;

    /// <summary>
    /// A client's segment on an FTP control connection (<c>ip_vs_ftp_in</c>), before its NAT rewrite: on an
    /// established connection a PASV or EPSV command makes the helper wait for the server's reply; a PORT or EPRT
    /// command expects the server's active data connection (from the port below the control port to the endpoint the
    /// client gave; <c>ip_vs_conn_new</c> and <c>ip_vs_tcp_conn_listen</c>). The segment's acknowledgment and SACK
    /// edges then drop what the rewritten replies added (<c>nf_ct_seq_adjust</c>, <c>nf_ct_sack_adjust</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void FromFtpClient(Span<byte> buffer, int offset, in ParsedFrame parsed, ConnectionHandle handle, int server, in InetEndpoint destination)
    {
        if (parsed.Protocol != L4Protocol.Tcp || parsed.Fragment != FragmentKind.None || !_connections.TryGetInfo(handle, out var info))
        {
            return;
        }

        var frame = buffer[offset..];
        var flow = parsed.Flow;
        var control = _ftp!.Control(handle);
        lock (control.Gate)
        {
            var payload = Payload(frame, parsed);
            if (info.TcpState == TcpConnectionState.Established && !payload.IsEmpty)
            {
                if (FtpMessages.TryPassiveCommand(payload, flow.IsIPv4, out var mode))
                {
                    if (mode != FtpPassiveMode.None)
                    {
                        control.Mode = mode;
                    }
                }
                else if (FtpMessages.TryActiveCommand(payload, flow.IsIPv4, out var to) && flow.DestinationPort > 1 && destination.Port > 1)
                {
                    control.Mode = FtpPassiveMode.None;
                    Expect(
                        new FlowKey(L4Protocol.Tcp, to.Address, to.Port, flow.DestinationAddress, (ushort)(flow.DestinationPort - 1)),
                        server,
                        new InetEndpoint(destination.Address, (ushort)(destination.Port - 1)),
                        handle);
                }
            }

            if (control.OffsetBefore != 0 || control.OffsetAfter != 0)
            {
                AdjustAcknowledgments(frame, parsed, control);
            }
        }
    }

    /// <summary>
    /// A server's segment on an FTP control connection (<c>ip_vs_ftp_out</c>): the reply to a pending PASV (227) or
    /// EPSV (229) expects the client's passive data connection (from any of its ports, <c>IP_VS_CONN_F_NO_CPORT</c>, to
    /// the virtual address and the announced port) and has its address and port rewritten to the virtual address's
    /// (<c>nf_nat_mangle_tcp_packet</c>); the segment's sequence number then moves by what earlier rewrites added
    /// (<c>nf_ct_seq_adjust</c>), and the reply goes to the client as any other.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void FromFtpServer(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, int link, EngineView view, ConnectionHandle handle, in InetEndpoint client,
        in InetEndpoint virtualService, int server, out FrameVerdict result)
    {
        if (parsed.Protocol != L4Protocol.Tcp || parsed.Fragment != FragmentKind.None || !_connections.TryGetInfo(handle, out var info))
        {
            ReplyToClient(buffer, offset, length, parsed, link, view, client, virtualService, server, ForwardingMethod.Nat, out result);
            return;
        }

        var control = _ftp!.Control(handle);
        int newLength;
        lock (control.Gate)
        {
            if (!TryRewriteFtpReply(buffer, offset, length, parsed, handle, info.TcpState, control, client, virtualService, server, out newLength))
            {
                result = Dropped(DropReason.NoRoomToRewrite);
                return;
            }
        }

        if (newLength == length)
        {
            ReplyToClient(buffer, offset, length, parsed, link, view, client, virtualService, server, ForwardingMethod.Nat, out result);
            return;
        }

        // The segment's length changed: the rewrite reads the frame as it is now.
        var reason = FrameParser.Parse(buffer.Slice(offset, newLength), out var rewritten);
        if (reason != DropReason.None)
        {
            result = Dropped(reason);
            return;
        }

        ReplyToClient(buffer, offset, newLength, rewritten, link, view, client, virtualService, server, ForwardingMethod.Nat, out result);
    }

    /// <summary>The rewrite of a server's control segment under its connection's lock; false when a longer reply would not fit in the frame's room.</summary>
    private bool TryRewriteFtpReply(
        Span<byte> buffer, int offset, int length, in ParsedFrame parsed, ConnectionHandle handle, TcpConnectionState state, FtpControl control, in InetEndpoint client,
        in InetEndpoint virtualService, int server, out int newLength)
    {
        newLength = length;
        var frame = buffer[offset..];
        var flow = parsed.Flow;
        int payloadStart = parsed.PayloadOffset;
        int end = parsed.L3Offset + parsed.L3Length;
        uint sequence = BinaryPrimitives.ReadUInt32BigEndian(frame[(parsed.L4Offset + TcpSequenceOffset)..]);
        bool changed = false;
        if (state == TcpConnectionState.Established && control.Mode != FtpPassiveMode.None && end > payloadStart
            && FtpMessages.TryPassiveReply(frame[payloadStart..end], control.Mode, flow.IsIPv4, flow.SourceAddress, out var data, out int start, out int stop))
        {
            Expect(new FlowKey(L4Protocol.Tcp, client.Address, 0, virtualService.Address, data.Port), server, data, handle);
            Span<byte> text = stackalloc byte[FtpMessages.MaxPassiveTextLength];
            text = text[..FtpMessages.WritePassiveText(text, control.Mode, new InetEndpoint(virtualService.Address, data.Port))];
            int delta = text.Length - (stop - start);
            if (offset + end + delta > buffer.Length)
            {
                return false;
            }

            // The text after the address moves by delta; the frame ends with the IP packet (link padding dropped).
            frame[(payloadStart + stop)..end].CopyTo(frame[(payloadStart + start + text.Length)..]);
            text.CopyTo(frame[(payloadStart + start)..]);
            end += delta;
            var ip = frame[parsed.L3Offset..];
            if (Ipv4Header.TryCreateHeaderOnly(ip, out var v4))
            {
                v4.TotalLength = (ushort)(end - parsed.L3Offset);
                v4.UpdateChecksum();
            }
            else if (Ipv6Header.TryCreateHeaderOnly(ip, out var v6))
            {
                v6.PayloadLength = (ushort)(end - parsed.L3Offset - Ipv6Header.Length);
            }

            control.Rewritten(sequence, delta);
            control.Mode = FtpPassiveMode.None;
            newLength = end;
            changed = true;
        }

        int shift = control.SequenceOffset(sequence);
        if (shift != 0)
        {
            BinaryPrimitives.WriteUInt32BigEndian(frame[(parsed.L4Offset + TcpSequenceOffset)..], unchecked(sequence + (uint)shift));
            changed = true;
        }

        if (changed)
        {
            RecomputeTcpChecksum(frame[parsed.L4Offset..end], flow);
        }

        return true;
    }

    /// <summary>A client segment's acknowledgment and SACK edges, less what the rewritten replies before them added.</summary>
    private static void AdjustAcknowledgments(Span<byte> frame, in ParsedFrame parsed, FtpControl control)
    {
        var tcp = frame[parsed.L4Offset..(parsed.L3Offset + parsed.L3Length)];
        bool changed = false;
        if ((parsed.TcpFlags & TcpFlags.Ack) != 0)
        {
            uint acknowledgment = BinaryPrimitives.ReadUInt32BigEndian(tcp[TcpAcknowledgmentOffset..]);
            int shift = control.AcknowledgmentOffset(acknowledgment);
            if (shift != 0)
            {
                BinaryPrimitives.WriteUInt32BigEndian(tcp[TcpAcknowledgmentOffset..], unchecked(acknowledgment - (uint)shift));
                changed = true;
            }
        }

        var options = new TcpOptionReader(tcp[TcpHeader.MinLength..parsed.L4HeaderLength]);
        while (options.MoveNext())
        {
            if (options.Kind != TcpOptionSack)
            {
                continue;
            }

            // The SACK blocks: left and right edges, 8 bytes a block, after the kind and length bytes.
            var blocks = tcp.Slice(TcpHeader.MinLength + options.Offset + 2, options.Data.Length & ~7);
            for (int i = 0; i < blocks.Length; i += 4)
            {
                uint edge = BinaryPrimitives.ReadUInt32BigEndian(blocks[i..]);
                int shift = control.AcknowledgmentOffset(edge);
                if (shift != 0)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(blocks[i..], unchecked(edge - (uint)shift));
                    changed = true;
                }
            }
        }

        if (changed)
        {
            RecomputeTcpChecksum(tcp, parsed.Flow);
        }
    }

    private static void RecomputeTcpChecksum(Span<byte> segment, in FlowKey flow)
    {
        BinaryPrimitives.WriteUInt16BigEndian(segment[TcpChecksumOffset..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(
            segment[TcpChecksumOffset..],
            Checksum.Compute(segment, Checksum.PseudoHeaderSum(flow.SourceAddress, flow.DestinationAddress, L4Protocol.Tcp, segment.Length)));
    }

    private static ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> frame, in ParsedFrame parsed)
    {
        int start = parsed.PayloadOffset;
        int end = parsed.L3Offset + parsed.L3Length;
        return start >= 0 && end > start ? frame[start..end] : default;
    }

    /// <summary>
    /// A data connection the helper expects, in LISTEN with its server's NAT (the kernel's <c>ip_vs_conn_new</c> then
    /// <c>ip_vs_tcp_conn_listen</c>), controlled by its control connection <paramref name="control"/>
    /// (<c>ip_vs_control_add</c>), which then stays as long as it does.
    /// </summary>
    private void Expect(in FlowKey inbound, int server, in InetEndpoint destination, ConnectionHandle control)
    {
        if (_connections.TryAdd(new NewConnection(inbound, server, destination, ForwardingMethod.Nat) { Listening = true, Control = control }, out _) == AddConnectionResult.Added)
        {
            _created++;
        }
    }

    /// <summary>
    /// A client's packet for a passive data connection the helper expects from its address and any port
    /// (<c>ip_vs_conn_in_get</c> with client port 0): the expected connection becomes the client's, its port filled in
    /// (<c>ip_vs_conn_fill_cport</c>), with this packet processed on it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TryTakeExpected(in ParsedFrame parsed, out ConnectionForwarding connection)
    {
        var flow = parsed.Flow;
        connection = default;
        if (flow.SourcePort == 0
            || !_connections.TryGetInbound(new FlowKey(L4Protocol.Tcp, flow.SourceAddress, 0, flow.DestinationAddress, flow.DestinationPort), out var placeholder)
            || !_connections.TryGetForwarding(placeholder, out var expected) || expected.Method != ForwardingMethod.Nat
            || !_connections.TryGetControl(placeholder, out var control))
        {
            return false;
        }

        // The same control connection controls the data connection that replaces the expectation (the kernel fills
        // the client port into the same entry, ip_vs_conn_fill_cport). Added before the expectation is removed, so that
        // the control connection controls one of them throughout.
        var added = _connections.TryAdd(new NewConnection(flow, expected.RealServer, expected.Destination, ForwardingMethod.Nat) { FirstPacket = parsed.TcpFlags, Control = control }, out var handle);
        if (added is not (AddConnectionResult.Added or AddConnectionResult.Exists) || !_connections.TryGetForwarding(handle, out connection))
        {
            return false;
        }

        _ = _connections.Remove(placeholder);
        _created++;
        return true;
    }
}
