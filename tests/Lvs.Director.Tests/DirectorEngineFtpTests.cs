using System.Text;
using Lvs.Core;
using PacketDotNet;

namespace Lvs.Director.Tests;

/// <summary>
/// The FTP helper (<see cref="DirectorOptions.FtpPorts"/>, the kernel's <c>ip_vs_ftp</c>) on a NAT service on port 21:
/// passive and active data connections through the engine, the 227 reply rewritten to the VIP, and the control
/// connection's sequence numbers after it.
/// </summary>
public class DirectorEngineFtpTests
{
    private const ushort ClientPort = 40000;
    private const uint ClientIsn = 1000;
    private const uint ServerIsn = 5000;

    /// <summary>A lab with an FTP service on the VIP's port 21, NAT to server 1's port 21, and the helper on <paramref name="ports"/>.</summary>
    private static Lab FtpLab(bool ipv6 = false, IReadOnlyList<ushort>? ports = null)
    {
        var lab = new Lab(new DirectorOptions { FtpPorts = ports ?? [21] }, ipv6);
        var key = VirtualServiceKey.ForAddress(L4Protocol.Tcp, new InetEndpoint(lab.Vip, 21));
        lab.Table.AddService(new VirtualServiceOptions(key) { Scheduler = "rr" });
        lab.Table.AddRealServer(key, new RealServerOptions(new InetEndpoint(lab.Server(1), 21)) { Method = ForwardingMethod.Nat });
        lab.Engine.Neighbors.Set(1, lab.Server(1), Lab.ServerMac(1));
        return lab;
    }

    private static Frame Segment(bool fromClient, Lab lab, ushort sport, ushort dport, string flags, uint seq, uint ack, string text = "", InetAddress? client = null)
    {
        var tcp = new TcpPacket(sport, dport)
        {
            Synchronize = flags.Contains('S', StringComparison.Ordinal),
            Acknowledgment = flags.Contains('A', StringComparison.Ordinal),
            Push = text.Length > 0,
            SequenceNumber = seq,
            AcknowledgmentNumber = ack,
            WindowSize = 65535,
            PayloadData = Encoding.ASCII.GetBytes(text),
        };
        return fromClient
            ? Lab.Ip(Lab.ClientMac, Lab.ClientLinkMac, client ?? lab.Client, lab.Vip, tcp)
            : Lab.Ip(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), client ?? lab.Client, tcp);
    }

    /// <summary>The control connection's handshake: client SYN, server SYN-ACK, client ACK (ESTABLISHED).</summary>
    private static void Handshake(Lab lab)
    {
        Assert.Equal(FrameAction.Transmit, lab.Send(Segment(true, lab, ClientPort, 21, "S", ClientIsn, 0), 0).Action);
        Assert.Equal(FrameAction.Transmit, lab.Send(Segment(false, lab, 21, ClientPort, "SA", ServerIsn, ClientIsn + 1), 1).Action);
        Assert.Equal(FrameAction.Transmit, lab.Send(Segment(true, lab, ClientPort, 21, "A", ClientIsn + 1, ServerIsn + 1), 0).Action);
    }

    private static (IPPacket Ip, TcpPacket Tcp) Out(Frame frame, FrameVerdict verdict)
    {
        var eth = frame.Output(verdict);
        return (PacketAssert.Ip(eth), PacketAssert.Tcp(eth));
    }

    [Fact]
    public void Pasv_ReplyRewrittenToTheVip_DataConnectionFromAnyClientPortReachesTheServer_SequenceNumbersFollow()
    {
        using var lab = FtpLab();
        Handshake(lab);
        const string Pasv = "PASV\r\n";
        var command = lab.Send(Segment(true, lab, ClientPort, 21, "A", ClientIsn + 1, ServerIsn + 1, Pasv), 0);
        Assert.Equal(FrameAction.Transmit, command.Action);

        // 195 * 256 + 80 = 50000. "10,1,0,11" becomes "10,0,0,100": one byte longer.
        const string Reply = "227 Entering Passive Mode (10,1,0,11,195,80).\r\n";
        var replyFrame = Segment(false, lab, 21, ClientPort, "A", ServerIsn + 1, ClientIsn + 1 + (uint)Pasv.Length, Reply);
        var reply = lab.Send(replyFrame, 1);
        var (ip, tcp) = Out(replyFrame, reply);
        Assert.Equal((lab.Vip.ToIPAddress(), 21), (ip.SourceAddress, (int)tcp.SourcePort));
        Assert.Equal("227 Entering Passive Mode (10,0,0,100,195,80).\r\n", Encoding.ASCII.GetString(tcp.PayloadData));
        Assert.Equal(ServerIsn + 1, tcp.SequenceNumber);

        // The server's next segment: its sequence number moves by the byte the rewrite added.
        const string Next = "150 Here it comes.\r\n";
        uint nextSeq = ServerIsn + 1 + (uint)Reply.Length;
        var nextFrame = Segment(false, lab, 21, ClientPort, "A", nextSeq, ClientIsn + 1 + (uint)Pasv.Length, Next);
        var (_, nextTcp) = Out(nextFrame, lab.Send(nextFrame, 1));
        Assert.Equal(nextSeq + 1, nextTcp.SequenceNumber);

        // The client acknowledges what it saw; the server sees its own numbers.
        uint clientAck = nextSeq + 1 + (uint)Next.Length;
        var ackFrame = Segment(true, lab, ClientPort, 21, "A", ClientIsn + 1 + (uint)Pasv.Length, clientAck);
        var (_, ackTcp) = Out(ackFrame, lab.Send(ackFrame, 0));
        Assert.Equal(clientAck - 1, ackTcp.AcknowledgmentNumber);

        // The passive data connection, from a port the helper never saw, goes to the server's data port.
        var syn = Segment(true, lab, 40001, 50000, "S", 7000, 0);
        var (synIp, synTcp) = Out(syn, lab.Send(syn, 0));
        Assert.Equal((lab.Server(1).ToIPAddress(), 50000), (synIp.DestinationAddress, (int)synTcp.DestinationPort));
        var synAck = Segment(false, lab, 50000, 40001, "SA", 9000, 7001);
        var (synAckIp, synAckTcp) = Out(synAck, lab.Send(synAck, 1));
        Assert.Equal((lab.Vip.ToIPAddress(), 50000), (synAckIp.SourceAddress, (int)synAckTcp.SourcePort));
        var data = Segment(true, lab, 40001, 50000, "A", 7001, 9001, "STOR data");
        var (dataIp, dataTcp) = Out(data, lab.Send(data, 0));
        Assert.Equal((lab.Server(1).ToIPAddress(), 50000), (dataIp.DestinationAddress, (int)dataTcp.DestinationPort));

        // The expected connection became the client's: from another port the data port is unserved (the host's reset).
        Assert.Equal(DropReason.NoVirtualService, lab.Send(Segment(true, lab, 40002, 50000, "S", 7000, 0), 0).Reason);
    }

    [Fact]
    public void Port_ServersActiveDataConnectionFromPort20_TranslatedToTheVip_AndTheClientsAnswerReachesTheServer()
    {
        using var lab = FtpLab();
        Handshake(lab);

        // 156 * 256 + 74 = 40010.
        var command = lab.Send(Segment(true, lab, ClientPort, 21, "A", ClientIsn + 1, ServerIsn + 1, "PORT 10,0,0,2,156,74\r\n"), 0);
        Assert.Equal(FrameAction.Transmit, command.Action);

        var syn = Segment(false, lab, 20, 40010, "S", 9000, 0);
        var (synIp, synTcp) = Out(syn, lab.Send(syn, 1));
        Assert.Equal((lab.Vip.ToIPAddress(), 20, lab.Client.ToIPAddress(), 40010), (synIp.SourceAddress, (int)synTcp.SourcePort, synIp.DestinationAddress, (int)synTcp.DestinationPort));

        var synAck = Segment(true, lab, 40010, 20, "SA", 7000, 9001);
        var (ip, tcp) = Out(synAck, lab.Send(synAck, 0));
        Assert.Equal((lab.Server(1).ToIPAddress(), 20), (ip.DestinationAddress, (int)tcp.DestinationPort));
        var ack = Segment(true, lab, 40010, 20, "A", 7001, 9001, "more");
        var (ackIp, ackTcp) = Out(ack, lab.Send(ack, 0));
        Assert.Equal((lab.Server(1).ToIPAddress(), 20), (ackIp.DestinationAddress, (int)ackTcp.DestinationPort));
    }

    [Fact]
    public void Epsv_OverIPv6_ReplyLeftAsItIs_DataConnectionReachesTheServer()
    {
        using var lab = FtpLab(ipv6: true);
        Handshake(lab);
        const string Epsv = "EPSV\r\n";
        Assert.Equal(FrameAction.Transmit, lab.Send(Segment(true, lab, ClientPort, 21, "A", ClientIsn + 1, ServerIsn + 1, Epsv), 0).Action);

        const string Reply = "229 Entering Extended Passive Mode (|||50000|)\r\n";
        var replyFrame = Segment(false, lab, 21, ClientPort, "A", ServerIsn + 1, ClientIsn + 1 + (uint)Epsv.Length, Reply);
        var (_, tcp) = Out(replyFrame, lab.Send(replyFrame, 1));
        Assert.Equal(Reply, Encoding.ASCII.GetString(tcp.PayloadData));

        var syn = Segment(true, lab, 40001, 50000, "S", 7000, 0);
        var (synIp, synTcp) = Out(syn, lab.Send(syn, 0));
        Assert.Equal((lab.Server(1).ToIPAddress(), 50000), (synIp.DestinationAddress, (int)synTcp.DestinationPort));
    }

    /// <summary>
    /// After a 227 that grew by one byte, a client's SACK block above the rewrite is moved back by it too
    /// (<c>nf_ct_sack_adjust</c>), and so is its acknowledgment; the segment's checksum stays right.
    /// </summary>
    [Fact]
    public void SackEdgesAfterALongerReply_MovedBackWithTheAcknowledgment()
    {
        using var lab = FtpLab();
        uint replyEnd = PassiveReplyRewritten(lab);

        // An ACK with NOP, NOP, SACK (one block) in a 32-byte TCP header.
        byte[] options = [1, 1, 5, 10, 0, 0, 0, 0, 0, 0, 0, 0];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(options.AsSpan(4), replyEnd + 101);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(options.AsSpan(8), replyEnd + 201);
        var frame = Segment(true, lab, ClientPort, 21, "A", ClientIsn + 7, replyEnd + 1);
        var withSack = WithTcpOptions(frame, lab.Client, lab.Vip, options);

        var (ip, tcp) = Out(withSack, lab.Send(withSack, 0));

        Assert.Equal(replyEnd, tcp.AcknowledgmentNumber);
        var header = tcp.HeaderData;
        Assert.Equal(replyEnd + 100, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(24)));
        Assert.Equal(replyEnd + 200, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(28)));
        Assert.Equal(lab.Server(1).ToIPAddress(), ip.DestinationAddress);
    }

    /// <summary>A 227 reply whose rewrite would not fit in the room after its frame is dropped (the server sends it again).</summary>
    [Fact]
    public void LongerReplyWithoutRoomAfterItsFrame_Dropped()
    {
        using var lab = FtpLab();
        Handshake(lab);
        Assert.Equal(FrameAction.Transmit, lab.Send(Segment(true, lab, ClientPort, 21, "A", ClientIsn + 1, ServerIsn + 1, "PASV\r\n"), 0).Action);
        var reply = Segment(false, lab, 21, ClientPort, "A", ServerIsn + 1, ClientIsn + 7, "227 Entering Passive Mode (10,1,0,11,195,80).\r\n");
        var tight = new Frame { Buffer = reply.Buffer[..(reply.Offset + reply.Length)], Offset = reply.Offset, Length = reply.Length };

        var v = lab.Send(tight, 1);

        Assert.Equal((FrameAction.Drop, DropReason.NoRoomToRewrite), (v.Action, v.Reason));
    }

    /// <summary>
    /// The helper's state of a control connection goes with the connection, which stays as long as a data connection
    /// it announced does (the kernel's n_control): here the expected passive connection, in LISTEN for 2 minutes, keeps
    /// the reset control connection (CLOSE, 10 s) until it expires; the control connection's expiry is put off by 60 s
    /// at a time meanwhile (expire_later).
    /// </summary>
    [Fact]
    public void ControlConnectionEnds_ItsStateIsForgotten_OnceItsDataConnectionsHaveEnded()
    {
        using var lab = FtpLab();
        _ = PassiveReplyRewritten(lab);
        Assert.Equal(1, lab.Engine.Ftp!.Count);

        Assert.Equal(FrameAction.Transmit, lab.Send(Segment(true, lab, ClientPort, 21, "R", ClientIsn + 7, 0), 0).Action);
        for (int seconds = 0; seconds < 110; seconds += 10)
        {
            lab.Time.Advance(TimeSpan.FromSeconds(10));
            _ = lab.Engine.Connections.RunHousekeeping();
        }

        // 110 s on: the control connection (CLOSE, due after 10 s) is still there for its expected data connection.
        Assert.Equal(1, lab.Engine.Ftp.Count);
        Assert.Equal(2, lab.Engine.Connections.Count);

        for (int seconds = 110; seconds < 200; seconds += 10)
        {
            lab.Time.Advance(TimeSpan.FromSeconds(10));
            _ = lab.Engine.Connections.RunHousekeeping();
        }

        Assert.Equal(0, lab.Engine.Connections.Count);
        Assert.Equal(0, lab.Engine.Ftp.Count);
    }

    /// <summary>
    /// A long transfer on a data connection keeps its control connection, idle all along, past the control
    /// connection's ESTABLISHED timeout (15 minutes): the client's next command still reaches the server. Without the
    /// kernel's n_control tie the control connection would expire and that command be dropped (not a SYN).
    /// </summary>
    [Fact]
    public void DataConnectionAlive_ControlConnectionOutlivesItsTimeout_ThenGoesWithIt()
    {
        using var lab = FtpLab();
        uint serverSeq = PassiveReplyRewritten(lab);

        // The client's passive data connection (to the VIP's port 50000), established.
        const ushort DataPort = 41000;
        Assert.Equal(FrameAction.Transmit, lab.Send(Segment(true, lab, DataPort, 50000, "S", 7000, 0), 0).Action);
        var synAck = Segment(false, lab, 50000, DataPort, "SA", 9000, 7001);
        Assert.Equal(FrameAction.Transmit, lab.Send(synAck, 1).Action);
        Assert.Equal(FrameAction.Transmit, lab.Send(Segment(true, lab, DataPort, 50000, "A", 7001, 9001), 0).Action);

        // Twenty minutes of data from the server, a segment a minute; nothing on the control connection.
        for (int minute = 0; minute < 20; minute++)
        {
            lab.Time.Advance(TimeSpan.FromMinutes(1));
            _ = lab.Engine.Connections.RunHousekeeping();
            var data = Segment(false, lab, 50000, DataPort, "A", 9001 + (uint)(minute * 100), 7001, new string('x', 100));
            Assert.Equal(FrameAction.Transmit, lab.Send(data, 1).Action);
        }

        var command = lab.Send(Segment(true, lab, ClientPort, 21, "A", ClientIsn + 7, serverSeq + 1, "NOOP\r\n"), 0);
        Assert.Equal(FrameAction.Transmit, command.Action);
        Assert.Equal(1, command.Link);

        // The data connection closes (reset): the control connection is free to expire again, after its own timeout.
        Assert.Equal(FrameAction.Transmit, lab.Send(Segment(true, lab, DataPort, 50000, "R", 7001, 0), 0).Action);
        for (int seconds = 0; seconds < 20 * 60; seconds += 30)
        {
            lab.Time.Advance(TimeSpan.FromSeconds(30));
            _ = lab.Engine.Connections.RunHousekeeping();
        }

        Assert.Equal(0, lab.Engine.Connections.Count);
        Assert.Equal(0, lab.Engine.Ftp!.Count);
    }

    /// <summary>Handshake, PASV, and the server's 227 (rewritten one byte longer); returns the server's sequence number after it.</summary>
    private static uint PassiveReplyRewritten(Lab lab)
    {
        Handshake(lab);
        Assert.Equal(FrameAction.Transmit, lab.Send(Segment(true, lab, ClientPort, 21, "A", ClientIsn + 1, ServerIsn + 1, "PASV\r\n"), 0).Action);
        const string Reply = "227 Entering Passive Mode (10,1,0,11,195,80).\r\n";
        var reply = Segment(false, lab, 21, ClientPort, "A", ServerIsn + 1, ClientIsn + 7, Reply);
        var (_, tcp) = Out(reply, lab.Send(reply, 1));
        Assert.Equal(Reply.Length + 1, tcp.PayloadData.Length);
        return ServerIsn + 1 + (uint)Reply.Length;
    }

    /// <summary>The same IPv4 segment with TCP options after its 20-byte header, lengths and checksums recomputed.</summary>
    private static Frame WithTcpOptions(Frame frame, InetAddress source, InetAddress destination, byte[] options)
    {
        byte[] bytes = [.. frame.Buffer[frame.Offset..(frame.Offset + 14 + 20 + 20)], .. options, .. frame.Buffer[(frame.Offset + 54)..(frame.Offset + frame.Length)]];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(14 + 2), (ushort)(bytes.Length - 14));
        var tcp = bytes.AsSpan(34);
        tcp[12] = (byte)(((20 + options.Length) / 4) << 4);
        tcp[16] = tcp[17] = 0;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Checksum.Compute(tcp, Checksum.PseudoHeaderSum(source, destination, L4Protocol.Tcp, tcp.Length)));
        var withOptions = Frame.From(bytes);
        withOptions.FixIPv4HeaderChecksum();
        return withOptions;
    }

    /// <summary>
    /// Without the helper, or with it on another port: a 227 reply goes out as the server wrote it (only the headers
    /// translated) and no data connection is expected.
    /// </summary>
    [Theory]
    [InlineData(new ushort[0])]
    [InlineData(new ushort[] { 2121 })]
    public void WithoutTheHelperOnThePort_TheReplyIsUntouched_AndTheDataPortIsNotServed(ushort[] ports)
    {
        using var lab = FtpLab(ports: ports);
        Handshake(lab);
        Assert.Equal(FrameAction.Transmit, lab.Send(Segment(true, lab, ClientPort, 21, "A", ClientIsn + 1, ServerIsn + 1, "PASV\r\n"), 0).Action);
        const string Reply = "227 Entering Passive Mode (10,1,0,11,195,80).\r\n";
        var replyFrame = Segment(false, lab, 21, ClientPort, "A", ServerIsn + 1, ClientIsn + 7, Reply);
        var (_, tcp) = Out(replyFrame, lab.Send(replyFrame, 1));
        Assert.Equal(Reply, Encoding.ASCII.GetString(tcp.PayloadData));

        Assert.Equal(DropReason.NoVirtualService, lab.Send(Segment(true, lab, 40001, 50000, "S", 7000, 0), 0).Reason);
    }
}
