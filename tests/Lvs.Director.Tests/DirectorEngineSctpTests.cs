using System.Buffers.Binary;
using Lvs.ConnectionTracking;
using Lvs.Core;

namespace Lvs.Director.Tests;

/// <summary>
/// SCTP end to end through the engine: associations scheduled on an INIT (the kernel's sctp_conn_schedule, sloppy_sctp),
/// translated by NAT and FULLNAT with the CRC32c checked by a bitwise reference written here, states as the kernel's
/// sctp_states[][][], conn_reuse on an INIT over a CLOSED association (ip_vs_in), and DR and TUN forwarding SCTP.
/// SCTP frames are built by hand (PacketDotNet has no SCTP).
/// </summary>
public sealed class DirectorEngineSctpTests
{
    private const ushort ClientPort = 5000;
    private const ushort ServicePort = 36412;
    private const ushort ServerPort = 8080;
    private const ushort UnservedPort = 36413;

    private const byte Data = 0;
    private const byte Init = 1;
    private const byte InitAck = 2;
    private const byte Abort = 6;
    private const byte Shutdown = 7;
    private const byte ShutdownAck = 8;
    private const byte CookieEcho = 10;
    private const byte CookieAck = 11;
    private const byte ShutdownComplete = 14;

    private static uint ReferenceCrc32C(ReadOnlySpan<byte> data) => Lvs.TestSupport.Crc32cReference.Compute(data);

    /// <summary>An SCTP frame whose first (and only) chunk has <paramref name="chunkType"/>, checksummed by the reference; no chunk when the type is null.</summary>
    private static Frame Sctp(MacAddress srcMac, MacAddress dstMac, InetAddress src, ushort sport, InetAddress dst, ushort dport, byte? chunkType, byte ttl = 64)
    {
        int body = chunkType switch
        {
            null => 0,
            Init or InitAck => 20,
            Data => 16 + 24,
            CookieEcho => 4 + 32,
            _ => 4,
        };
        byte[] sctp = new byte[12 + body];
        BinaryPrimitives.WriteUInt16BigEndian(sctp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(sctp.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(sctp.AsSpan(4), 0x1234_5678);
        if (chunkType is byte type)
        {
            sctp[12] = type;
            BinaryPrimitives.WriteUInt16BigEndian(sctp.AsSpan(14), (ushort)body);
            for (int i = 16; i < sctp.Length; i++)
            {
                sctp[i] = (byte)(i * 13);
            }
        }

        return Wrap(srcMac, dstMac, src, dst, sctp, ttl);
    }

    /// <summary>An SCTP frame carrying <paramref name="chunks"/> as they are (whole chunks, padded by the caller), checksummed by the reference.</summary>
    private static Frame SctpChunks(Lab lab, byte[] chunks, ushort port = ServicePort)
    {
        byte[] sctp = new byte[12 + chunks.Length];
        BinaryPrimitives.WriteUInt16BigEndian(sctp, ClientPort);
        BinaryPrimitives.WriteUInt16BigEndian(sctp.AsSpan(2), port);
        BinaryPrimitives.WriteUInt32BigEndian(sctp.AsSpan(4), 0x1234_5678);
        chunks.CopyTo(sctp, 12);
        return Wrap(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, lab.Vip, sctp, 64);
    }

    /// <summary>A chunk of <paramref name="type"/> whose value is <paramref name="value"/>, padded to a multiple of 4 bytes.</summary>
    private static byte[] Chunk(byte type, params byte[] value)
    {
        byte[] chunk = new byte[(4 + value.Length + 3) & ~3];
        chunk[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(chunk.AsSpan(2), (ushort)(4 + value.Length));
        value.CopyTo(chunk, 4);
        return chunk;
    }

    /// <summary>The SCTP packet <paramref name="sctp"/> (its checksum field aside) behind an IP header and an Ethernet header, its CRC32c computed by the reference.</summary>
    private static Frame Wrap(MacAddress srcMac, MacAddress dstMac, InetAddress src, InetAddress dst, byte[] sctp, byte ttl)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(sctp.AsSpan(8), ReferenceCrc32C(sctp));

        bool v4 = src.IsIPv4;
        byte[] ip = new byte[(v4 ? 20 : 40) + sctp.Length];
        if (v4)
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
            BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(6), 0x4000);
            ip[8] = ttl;
            ip[9] = 132;
            src.ToIPAddress().GetAddressBytes().CopyTo(ip, 12);
            dst.ToIPAddress().GetAddressBytes().CopyTo(ip, 16);
            BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), Checksum.Compute(ip.AsSpan(0, 20)));
        }
        else
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), (ushort)sctp.Length);
            ip[6] = 132;
            ip[7] = ttl;
            src.ToIPAddress().GetAddressBytes().CopyTo(ip, 8);
            dst.ToIPAddress().GetAddressBytes().CopyTo(ip, 24);
        }

        sctp.CopyTo(ip, v4 ? 20 : 40);
        byte[] frame = new byte[14 + ip.Length];
        dstMac.WriteTo(frame);
        srcMac.WriteTo(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), (ushort)(v4 ? 0x0800 : 0x86DD));
        ip.CopyTo(frame, 14);
        return Frame.From(frame);
    }

    /// <summary>What an output frame carries: addresses, ports, TTL, and whether the CRC32c is right by the reference.</summary>
    private static (InetAddress Source, ushort SourcePort, InetAddress Destination, ushort DestinationPort, byte Ttl, bool CrcValid, byte[] Sctp) Read(Frame frame, FrameVerdict verdict)
    {
        Assert.Equal(FrameAction.Transmit, verdict.Action);
        byte[] bytes = frame.Buffer[verdict.Offset..(verdict.Offset + verdict.Length)];
        bool v4 = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(12)) == 0x0800;
        var ip = bytes.AsSpan(14);
        Assert.Equal(132, v4 ? ip[9] : ip[6]);
        var sctp = ip[(v4 ? 20 : 40)..].ToArray();
        var source = v4 ? InetAddress.FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(ip[12..])) : InetAddress.ReadIPv6(ip[8..]);
        var destination = v4 ? InetAddress.FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(ip[16..])) : InetAddress.ReadIPv6(ip[24..]);
        if (v4)
        {
            Assert.Equal(0, Checksum.Sum(ip[..20]) ^ 0xFFFF); // the IPv4 header checksum is right
        }

        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(sctp.AsSpan(8));
        byte[] zeroed = (byte[])sctp.Clone();
        zeroed.AsSpan(8, 4).Clear();
        return (source, BinaryPrimitives.ReadUInt16BigEndian(sctp), destination, BinaryPrimitives.ReadUInt16BigEndian(sctp.AsSpan(2)), v4 ? ip[8] : ip[7], stored == ReferenceCrc32C(zeroed), sctp);
    }

    private static ConnectionInfo Only(Lab lab) => Assert.Single(lab.Engine.Connections.Enumerate(), c => !c.IsTemplate);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Nat_SctpAssociation_InitToShutdownComplete_TranslatedBothWays_CrcRight_StatesAsTheKernels(bool ipv6)
    {
        using var lab = new Lab(ipv6: ipv6);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1, protocol: L4Protocol.Sctp, port: ServicePort);

        (byte Chunk, bool FromClient, string State)[] association =
        [
            (Init, true, "INIT1"),
            (InitAck, false, "C-SENT"),
            (CookieEcho, true, "C-REPLIED"),
            (CookieAck, false, "ESTABLISHED"),
            (Data, true, "ESTABLISHED"),
            (Data, false, "ESTABLISHED"),
            (Shutdown, true, "S-RECEIVED"),
            (ShutdownAck, false, "S-ACK-SENT"),
            (ShutdownComplete, true, "CLOSED"),
        ];
        foreach (var (chunk, fromClient, state) in association)
        {
            var frame = fromClient
                ? Sctp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, ClientPort, lab.Vip, ServicePort, chunk)
                : Sctp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), ServerPort, lab.Client, ClientPort, chunk);
            var v = lab.Send(frame, fromClient ? 0 : 1);
            var output = Read(frame, v);
            Assert.Equal(fromClient ? 1 : 0, v.Link);
            if (fromClient)
            {
                Assert.Equal((lab.Client, ClientPort, lab.Server(1), ServerPort), (output.Source, output.SourcePort, output.Destination, output.DestinationPort));
            }
            else
            {
                Assert.Equal((lab.Vip, ServicePort, lab.Client, ClientPort), (output.Source, output.SourcePort, output.Destination, output.DestinationPort));
            }

            Assert.Equal(63, output.Ttl);
            Assert.True(output.CrcValid, $"CRC32c after {chunk}");
            Assert.Equal(chunk, output.Sctp[12]);
            var info = Only(lab);
            Assert.Equal(("SCTP", state), (info.ProtocolName, info.StateName));
            Assert.Equal(state == "ESTABLISHED", info.IsActive);
            var rs = lab.Table.Snapshot.Find(VirtualServiceKey.ForAddress(L4Protocol.Sctp, new InetEndpoint(lab.Vip, ServicePort)))!.RealServers[0];
            Assert.Equal(state == "ESTABLISHED" ? 1 : 0, rs.ActiveConnections);
        }
    }

    [Fact]
    public void FullNat_SctpAssociation_SourceBecomesTheLocalAddress_ReplyGoesBackToTheClient_CrcRightBothWays()
    {
        using var lab = new Lab(new DirectorOptions { LocalAddresses = [Lab.LocalV4] });
        lab.AddService("rr", ForwardingMethod.FullNat, count: 1, protocol: L4Protocol.Sctp, port: ServicePort);
        var init = Sctp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, ClientPort, lab.Vip, ServicePort, Init);
        var v = lab.Send(init, 0);
        var output = Read(init, v);
        Assert.Equal((lab.Local, lab.Server(1), ServerPort), (output.Source, output.Destination, output.DestinationPort));
        Assert.True(output.CrcValid);
        ushort localPort = output.SourcePort;

        var initAck = Sctp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), ServerPort, lab.Local, localPort, InitAck);
        v = lab.Send(initAck, 1);
        output = Read(initAck, v);
        Assert.Equal(0, v.Link);
        Assert.Equal((lab.Vip, ServicePort, lab.RemoteClient, ClientPort), (output.Source, output.SourcePort, output.Destination, output.DestinationPort));
        Assert.True(output.CrcValid);
        Assert.Equal("C-SENT", Only(lab).StateName);

        var echo = Sctp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, ClientPort, lab.Vip, ServicePort, CookieEcho);
        Assert.True(Read(echo, lab.Send(echo, 0)).CrcValid);
        var ack = Sctp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), ServerPort, lab.Local, localPort, CookieAck);
        Assert.True(Read(ack, lab.Send(ack, 1)).CrcValid);
        Assert.Equal("ESTABLISHED", Only(lab).StateName);
    }

    [Fact]
    public void SctpNotInit_MatchingNothing_WithoutOutOfTheBlueAnswers_DroppedNotSctpInit_UnlessSloppySctp_AbortAndChunklessNever()
    {
        using var lab = new Lab(new DirectorOptions { AbortUnmatchedSctp = false });
        lab.AddService("rr", ForwardingMethod.Nat, count: 1, protocol: L4Protocol.Sctp, port: ServicePort);
        foreach (byte? chunk in new byte?[] { Data, CookieEcho, Abort, null })
        {
            var v = lab.Send(Sctp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, ClientPort, lab.Vip, ServicePort, chunk), 0);
            Assert.Equal((FrameAction.Drop, DropReason.NotSctpInit), (v.Action, v.Reason));
        }

        Assert.Equal(4, lab.Engine.GetDropCount(DropReason.NotSctpInit));
        Assert.Empty(lab.Engine.Connections.Enumerate());

        using var sloppy = new Lab(new DirectorOptions { SloppySctp = true });
        sloppy.AddService("rr", ForwardingMethod.Nat, count: 1, protocol: L4Protocol.Sctp, port: ServicePort);
        foreach (byte? chunk in new byte?[] { Abort, null })
        {
            var v = sloppy.Send(Sctp(Lab.ClientMac, Lab.ClientLinkMac, sloppy.Client, ClientPort, sloppy.Vip, ServicePort, chunk), 0);
            Assert.Equal((FrameAction.Drop, DropReason.NotSctpInit), (v.Action, v.Reason));
        }

        // sloppy_sctp: a DATA chunk creates the association; INPUT d from NONE is ESTABLISHED in the kernel's table.
        var data = Sctp(Lab.ClientMac, Lab.ClientLinkMac, sloppy.Client, ClientPort, sloppy.Vip, ServicePort, Data);
        Assert.True(Read(data, sloppy.Send(data, 0)).CrcValid);
        Assert.Equal("ESTABLISHED", Only(sloppy).StateName);
    }

    /// <summary>
    /// RFC 9260 section 8.4, as the host's SCTP stack applies it to what IPVS lets through: an ABORT with the packet's
    /// verification tag and the T bit, or a SHUTDOWN COMPLETE for a SHUTDOWN ACK, from the address and port the packet
    /// was sent to, back out of the link it came in on.
    /// </summary>
    [Theory]
    [InlineData(false, Data, Abort)]
    [InlineData(false, CookieEcho, Abort)]
    [InlineData(false, Shutdown, Abort)]
    [InlineData(false, ShutdownAck, ShutdownComplete)]
    [InlineData(true, Data, Abort)]
    [InlineData(true, ShutdownAck, ShutdownComplete)]
    public void SctpNotInit_MatchingNothing_AnsweredAsTheHostsStackAnswersOutOfTheBlue(bool ipv6, byte chunk, byte answer)
    {
        using var lab = new Lab(ipv6: ipv6);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1, protocol: L4Protocol.Sctp, port: ServicePort);
        var frame = Sctp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, ClientPort, lab.Vip, ServicePort, chunk, ttl: 9);

        var verdict = lab.Send(frame, 0);

        Assert.Equal((0, DropReason.NotSctpInit), (verdict.Link, verdict.Reason));
        var output = Read(frame, verdict);
        Assert.Equal((lab.Vip, ServicePort, lab.Client, ClientPort), (output.Source, output.SourcePort, output.Destination, output.DestinationPort));
        Assert.Equal(lab.Engine.Options.HopLimit, output.Ttl);
        Assert.True(output.CrcValid);
        Assert.Equal(16, output.Sctp.Length);
        Assert.Equal(0x1234_5678u, BinaryPrimitives.ReadUInt32BigEndian(output.Sctp.AsSpan(4)));
        Assert.Equal((answer, (byte)1, (ushort)4), (output.Sctp[12], output.Sctp[13], BinaryPrimitives.ReadUInt16BigEndian(output.Sctp.AsSpan(14))));
        byte[] bytes = frame.Buffer[verdict.Offset..(verdict.Offset + verdict.Length)];
        Assert.Equal((Lab.ClientMac, Lab.ClientLinkMac), (MacAddress.Read(bytes), MacAddress.Read(bytes.AsSpan(6))));
        Assert.Equal(14 + (ipv6 ? 40 : 20) + 16, verdict.Length);
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.NotSctpInit));
        Assert.Empty(lab.Engine.Connections.Enumerate());
    }

    /// <summary>sctp_rcv checks the CRC32c before anything else: a packet with a wrong one is dropped unanswered, counted as such.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SctpNotInit_MatchingNothing_WrongCrc_DroppedUnanswered(bool ipv6)
    {
        using var lab = new Lab(ipv6: ipv6);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1, protocol: L4Protocol.Sctp, port: ServicePort);
        var frame = Sctp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, ClientPort, lab.Vip, ServicePort, Data);
        frame.Buffer[frame.Offset + frame.Length - 1] ^= 0x01;

        var verdict = lab.Send(frame, 0);

        Assert.Equal((FrameAction.Drop, DropReason.BadInputChecksum), (verdict.Action, verdict.Reason));
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.BadInputChecksum));
        Assert.Equal(0, lab.Engine.GetDropCount(DropReason.NotSctpInit));
        Assert.Equal(FrameAction.Transmit, lab.Send(Sctp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, ClientPort, lab.Vip, ServicePort, Data), 0).Action);
    }

    /// <summary>
    /// A port of the VIP that no service has: the host owns the VIP on a kernel director, and its SCTP stack answers
    /// an INIT with an ABORT carrying the INIT's initiate tag without the T bit (sctp_sf_do_5_1B_init on the control
    /// endpoint, sctp_make_abort, RFC 9260 section 8.4 rule 3), and any other packet as out of the blue.
    /// </summary>
    [Theory]
    [InlineData(false, Init)]
    [InlineData(true, Init)]
    [InlineData(false, Data)]
    [InlineData(true, ShutdownAck)]
    public void UnservedPort_AnsweredAsTheHostsStackAnswers(bool ipv6, byte chunk)
    {
        using var lab = new Lab(ipv6: ipv6);
        lab.AddService("rr", ForwardingMethod.Nat, count: 1, protocol: L4Protocol.Sctp, port: ServicePort);
        var frame = Sctp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, ClientPort, lab.Vip, UnservedPort, chunk);

        var verdict = lab.Send(frame, 0);

        Assert.Equal((0, DropReason.NoVirtualService), (verdict.Link, verdict.Reason));
        var output = Read(frame, verdict);
        Assert.Equal((lab.Vip, UnservedPort, lab.Client, ClientPort), (output.Source, output.SourcePort, output.Destination, output.DestinationPort));
        Assert.True(output.CrcValid);
        Assert.Equal(16, output.Sctp.Length);

        // The Sctp builder fills a chunk's value with (i * 13) at packet byte i: the INIT's initiate tag is bytes 16-19.
        uint tag = chunk == Init ? 0xD0DD_EAF7u : 0x1234_5678u;
        byte answer = chunk == ShutdownAck ? ShutdownComplete : Abort;
        Assert.Equal((tag, answer, chunk == Init ? (byte)0 : (byte)1), (BinaryPrimitives.ReadUInt32BigEndian(output.Sctp.AsSpan(4)), output.Sctp[12], output.Sctp[13]));
        Assert.Equal(1, lab.Engine.GetDropCount(DropReason.NoVirtualService));
        Assert.Empty(lab.Engine.Connections.Enumerate());
    }

    /// <summary>sctp_sf_do_5_1B_init discards an INIT that is not alone or shorter than 20 bytes; the option off answers nothing.</summary>
    [Fact]
    public void UnservedPort_InitNotAloneOrShort_OrTheOptionOff_NotAnswered()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1, protocol: L4Protocol.Sctp, port: ServicePort);
        byte[] init = Chunk(Init, new byte[16]);
        var frames = new (string Why, Frame Frame)[]
        {
            ("bundled", SctpChunks(lab, [.. init, .. Chunk(Data, new byte[16])], UnservedPort)),
            ("short", SctpChunks(lab, Chunk(Init, new byte[12]), UnservedPort)),
        };
        foreach (var (why, frame) in frames)
        {
            Assert.True(lab.Send(frame, 0) is { Action: FrameAction.Drop, Reason: DropReason.NoVirtualService }, why);
        }

        Assert.Equal(FrameAction.Transmit, lab.Send(SctpChunks(lab, init, UnservedPort), 0).Action);

        using var quiet = new Lab(new DirectorOptions { AbortUnmatchedSctp = false });
        quiet.AddService("rr", ForwardingMethod.Nat, count: 1, protocol: L4Protocol.Sctp, port: ServicePort);
        Assert.Equal(FrameAction.Drop, quiet.Send(SctpChunks(quiet, init, UnservedPort), 0).Action);
        Assert.Equal(1, quiet.Engine.GetDropCount(DropReason.NoVirtualService));
    }

    /// <summary>What RFC 9260 section 8.4 and the kernel's sctp_rcv_ootb leave unanswered, and a packet whose chunks do not fit it.</summary>
    [Fact]
    public void SctpNotInit_MatchingNothing_NotAnswered_WhenSection84SaysDiscard()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1, protocol: L4Protocol.Sctp, port: ServicePort);
        byte[] data = Chunk(Data, new byte[16]);
        byte[] staleCookie = Chunk(9, 0, 3, 0, 8, 0, 0, 0, 1);
        byte[] otherError = Chunk(9, 0, 1, 0, 8, 0, 0, 0, 1);
        var unanswered = new (string Why, byte[] Chunks)[]
        {
            ("ABORT", Chunk(Abort)),
            ("SHUTDOWN COMPLETE", Chunk(ShutdownComplete)),
            ("COOKIE ACK", Chunk(CookieAck)),
            ("an ABORT after DATA", [.. data, .. Chunk(Abort)]),
            ("an INIT after DATA", [.. data, .. Chunk(Init, new byte[16])]),
            ("a Stale Cookie ERROR", staleCookie),
            ("a chunk longer than the packet", [Data, 0, 0, 40, .. new byte[16]]),
            ("a chunk shorter than its header", [Data, 0, 0, 2]),
        };
        foreach (var (why, chunks) in unanswered)
        {
            var verdict = lab.Send(SctpChunks(lab, chunks), 0);
            Assert.True(verdict.Action == FrameAction.Drop && verdict.Reason == DropReason.NotSctpInit, $"{why}: {verdict.Action} {verdict.Reason}");
        }

        // Another ERROR cause, and DATA followed by a SACK, are answered.
        foreach (var chunks in new[] { otherError, [.. data, .. Chunk(3, new byte[12])] })
        {
            var frame = SctpChunks(lab, chunks);
            var output = Read(frame, lab.Send(frame, 0));
            Assert.Equal(Abort, output.Sctp[12]);
            Assert.True(output.CrcValid);
        }

        Assert.Equal(unanswered.Length + 2, lab.Engine.GetDropCount(DropReason.NotSctpInit));
        Assert.Empty(lab.Engine.Connections.Enumerate());
    }

    /// <summary>
    /// nat_icmp_send: a NAT server's SCTP packet that matches no association is answered with a port unreachable,
    /// unless its first chunk is an ABORT (the kernel's <c>is_sctp_abort</c>); both are dropped.
    /// </summary>
    [Fact]
    public void NatIcmpSend_ServerPacketWithoutAssociation_PortUnreachableUnlessAbort()
    {
        using var lab = new Lab(new DirectorOptions { NatIcmpSend = true });
        lab.AddService("rr", ForwardingMethod.Nat, count: 1, protocol: L4Protocol.Sctp, port: ServicePort);

        var data = lab.Send(Sctp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), ServerPort, lab.Client, ClientPort, Data), 1);
        var abort = lab.Send(Sctp(Lab.ServerMac(1), Lab.ServerLinkMac, lab.Server(1), ServerPort, lab.Client, ClientPort, Abort), 1);

        Assert.Equal((FrameAction.Transmit, 1, DropReason.NoNatConnection), (data.Action, data.Link, data.Reason));
        Assert.Equal((FrameAction.Drop, DropReason.NoNatConnection), (abort.Action, abort.Reason));
        Assert.Equal(2, lab.Engine.GetDropCount(DropReason.NoNatConnection));
    }

    [Fact]
    public void SctpInit_OnAClosedAssociation_IsScheduledAfresh_ConnReuseMode()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 2, protocol: L4Protocol.Sctp, port: ServicePort);
        var init = Sctp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, ClientPort, lab.Vip, ServicePort, Init);
        var first = Read(init, lab.Send(init, 0)).Destination;
        Assert.Equal("INIT1", Only(lab).StateName);

        // A second INIT on INIT1 stays on the same association (INPUT i from INIT1 is INIT).
        var again = Sctp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, ClientPort, lab.Vip, ServicePort, Init);
        Assert.Equal(first, Read(again, lab.Send(again, 0)).Destination);
        Assert.Equal("INIT", Only(lab).StateName);

        // The client aborts: CLOSED. Its next INIT ends that association and is scheduled afresh (round robin: the other server).
        var abort = Sctp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, ClientPort, lab.Vip, ServicePort, Abort);
        _ = Read(abort, lab.Send(abort, 0));
        Assert.Equal("CLOSED", Only(lab).StateName);
        var reinit = Sctp(Lab.ClientMac, Lab.ClientLinkMac, lab.Client, ClientPort, lab.Vip, ServicePort, Init);
        var second = Read(reinit, lab.Send(reinit, 0)).Destination;
        Assert.NotEqual(first, second);
        Assert.Equal("INIT1", Only(lab).StateName);
    }

    [Fact]
    public void DirectRouting_ForwardsSctpUnchanged_InputOnlyStates()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.DirectRouting, count: 1, protocol: L4Protocol.Sctp, port: ServicePort);
        var init = Sctp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, ClientPort, lab.Vip, ServicePort, Init);
        var original = init.Buffer[(init.Offset + 14 + 20)..(init.Offset + init.Length)];
        var v = lab.Send(init, 0);
        var output = Read(init, v);
        Assert.Equal(1, v.Link);
        Assert.Equal((lab.RemoteClient, ClientPort, lab.Vip, ServicePort), (output.Source, output.SourcePort, output.Destination, output.DestinationPort));
        Assert.Equal(original, output.Sctp);
        Assert.Equal("INIT1", Only(lab).StateName);

        // No reply passes the director: INPUT-ONLY c_e from INIT1 is ESTABLISHED.
        var echo = Sctp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, ClientPort, lab.Vip, ServicePort, CookieEcho);
        _ = Read(echo, lab.Send(echo, 0));
        Assert.Equal("ESTABLISHED", Only(lab).StateName);
    }

    [Fact]
    public void Tunnel_EncapsulatesSctp()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Tunnel, count: 1, protocol: L4Protocol.Sctp, port: ServicePort);
        var init = Sctp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, ClientPort, lab.Vip, ServicePort, Init);
        var inner = init.Buffer[(init.Offset + 14)..(init.Offset + init.Length)];
        var v = lab.Send(init, 0);
        Assert.Equal(FrameAction.Transmit, v.Action);
        byte[] bytes = init.Buffer[v.Offset..(v.Offset + v.Length)];
        Assert.Equal(4, bytes[14 + 9]); // IP in IP
        Assert.Equal(lab.Server(1), InetAddress.FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(14 + 16))));
        byte[] carried = bytes[(14 + 20)..];
        Assert.Equal(inner[20..], carried[20..]); // the SCTP packet as it came
        Assert.Equal(inner[8] - 1, carried[8]); // the inner TTL decremented
        Assert.Equal("INIT1", Only(lab).StateName);
    }

    [Fact]
    public void Nat_IcmpErrorQuotingSctp_FromTheRealServerSide_TranslatedToTheClient()
    {
        using var lab = new Lab();
        lab.AddService("rr", ForwardingMethod.Nat, count: 1, protocol: L4Protocol.Sctp, port: ServicePort);
        var init = Sctp(Lab.RouterMac, Lab.ClientLinkMac, lab.RemoteClient, ClientPort, lab.Vip, ServicePort, Init);
        var v = lab.Send(init, 0);
        byte[] toServer = init.Buffer[(v.Offset + 14)..(v.Offset + v.Length)];

        // A router on the servers' side says the client -> RS packet was too big: ICMP 3/4 quoting its first 28 bytes.
        var router = InetAddress.Parse("10.1.0.254");
        byte[] message = new byte[8 + 28];
        message[0] = 3;
        message[1] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(6), 1400);
        toServer.AsSpan(0, 28).CopyTo(message.AsSpan(8));
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), Checksum.Compute(message));
        byte[] ip = new byte[20 + message.Length];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        ip[8] = 64;
        ip[9] = 1;
        router.ToIPAddress().GetAddressBytes().CopyTo(ip, 12);
        lab.RemoteClient.ToIPAddress().GetAddressBytes().CopyTo(ip, 16);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), Checksum.Compute(ip.AsSpan(0, 20)));
        message.CopyTo(ip, 20);
        byte[] frame = new byte[14 + ip.Length];
        Lab.ClientLinkMac.WriteTo(frame);
        Lab.ServerMac(1).WriteTo(frame.AsSpan(6));
        frame[12] = 0x08;
        ip.CopyTo(frame, 14);
        var error = Frame.From(frame);

        v = lab.Send(error, 1);
        Assert.Equal((FrameAction.Transmit, 0), (v.Action, v.Link));
        byte[] output = error.Buffer[v.Offset..(v.Offset + v.Length)];
        Assert.Equal(lab.Vip, InetAddress.ReadIPv4(output.AsSpan(14 + 12)));
        Assert.Equal(lab.RemoteClient, InetAddress.ReadIPv4(output.AsSpan(14 + 16)));
        byte[] body = output[34..];
        Assert.True(Checksum.IsValid(body));

        // The quoted packet reads client:5000 -> VIP:36412, as the client sent it.
        Assert.Equal(lab.RemoteClient, InetAddress.ReadIPv4(body.AsSpan(8 + 12)));
        Assert.Equal(lab.Vip, InetAddress.ReadIPv4(body.AsSpan(8 + 16)));
        Assert.Equal(ClientPort, BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(8 + 20)));
        Assert.Equal(ServicePort, BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(8 + 22)));
    }
}
