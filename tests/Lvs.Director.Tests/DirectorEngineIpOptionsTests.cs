using System.Buffers.Binary;
using Lvs.Core;

namespace Lvs.Director.Tests;

/// <summary>
/// The IPv4 options of the director's echo and timestamp replies, byte for byte as the kernel's host writes them:
/// ip_options_compile records the host's address and timestamp in the received options, ip_options_echo turns them
/// into the reply's (record route and timestamp copied with room taken for one more entry, the source route reversed,
/// the rest dropped, end-of-list bytes to a multiple of 4), ip_options_build writes the reply's source address and
/// timestamp in that room (net/ipv4/ip_options.c). Each expected option is written out by hand from those rules.
/// </summary>
public class DirectorEngineIpOptionsTests
{
    private static readonly byte[] Vip = [10, 0, 0, 100];
    private static readonly byte[] Client = [10, 0, 0, 2];
    private static readonly byte[] LinkAddress = [10, 0, 0, 1];
    private static readonly byte[] SubnetBroadcast = [10, 0, 0, 255];
    private static readonly byte[] Router1 = [192, 0, 2, 1];
    private static readonly byte[] Router2 = [10, 0, 0, 254];
    private static readonly byte[] Stranger = [10, 0, 0, 50];
    private static readonly byte[] Loopback = [127, 0, 0, 1];
    private static readonly byte[] Zero = [0, 0, 0, 0];

    /// <summary>The lab's clock is advanced to 03:25:07.500 UT: the host's ICMP timestamp, in milliseconds since midnight.</summary>
    private static readonly byte[] Now = BigEndian(((3 * 3600) + (25 * 60) + 7) * 1000 + 500);

    private static readonly byte[] EchoMessage = [8, 0, 0, 0, 0x12, 0x34, 0, 7, 0xAB, 0xCD, 0xEF];

    private static byte[] BigEndian(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    private static byte[] Mac(MacAddress mac)
    {
        var bytes = new byte[6];
        mac.WriteTo(bytes);
        return bytes;
    }

    private static byte[] Bytes(params object[] parts)
    {
        var list = new List<byte>();
        foreach (var part in parts)
        {
            switch (part)
            {
                case byte[] array:
                    list.AddRange(array);
                    break;
                case int value:
                    list.Add(checked((byte)value));
                    break;
                default:
                    throw new ArgumentException($"Unexpected part {part}.", nameof(parts));
            }
        }

        return [.. list];
    }

    /// <summary>The internet checksum (RFC 1071), written here so that the test does not use the code under test's.</summary>
    private static ushort InternetChecksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i < data.Length; i += 2)
        {
            sum += (uint)(data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0u);
        }

        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    private static byte[] WithChecksum(byte[] message)
    {
        var copy = (byte[])message.Clone();
        copy[2] = 0;
        copy[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(2), InternetChecksum(copy));
        return copy;
    }

    /// <summary>A frame from the client's MAC to the director's link: IPv4 with <paramref name="options"/>, ICMP <paramref name="message"/> (its checksum filled in).</summary>
    private static Frame Request(byte[] options, byte[] message, byte[]? source = null, byte[]? destination = null) =>
        Packet(options, 1, WithChecksum(message), source, destination);

    /// <summary>A frame from the client's MAC to the director's link: IPv4 with <paramref name="options"/>, protocol <paramref name="protocol"/>, then <paramref name="payload"/> as it is.</summary>
    private static Frame Packet(byte[] options, byte protocol, byte[] payload, byte[]? source, byte[]? destination)
    {
        Assert.Equal(0, options.Length % 4);
        int headerLength = 20 + options.Length;
        var ip = new byte[headerLength + payload.Length];
        ip[0] = (byte)(0x40 | (headerLength / 4));
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), 0x4242);
        ip[8] = 61;
        ip[9] = protocol;
        (source ?? Client).CopyTo(ip, 12);
        (destination ?? Vip).CopyTo(ip, 16);
        options.CopyTo(ip, 20);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), InternetChecksum(ip.AsSpan(0, headerLength)));
        payload.CopyTo(ip, headerLength);
        var frame = new byte[14 + ip.Length];
        Lab.ClientLinkMac.WriteTo(frame);
        Lab.ClientMac.WriteTo(frame.AsSpan(6));
        frame[12] = 0x08;
        ip.CopyTo(frame, 14);
        return Frame.From(frame);
    }

    private static Lab NewLab(bool acceptSourceRoute = false)
    {
        var lab = new Lab(new DirectorOptions { AcceptSourceRoute = acceptSourceRoute });
        lab.AddService("rr", ForwardingMethod.Nat, count: 1);
        lab.Time.Advance(new TimeSpan(0, 3, 25, 7, 500));
        return lab;
    }

    /// <summary>
    /// Sends the request and checks the reply: back to the client's MAC, an IPv4 header with exactly
    /// <paramref name="expectedOptions"/>, its IHL, total length and checksum right, and exactly
    /// <paramref name="expectedMessage"/> (its checksum computed here) right behind it.
    /// </summary>
    private static void AssertReply(Lab lab, Frame request, byte[] expectedOptions, byte[] expectedMessage, byte[]? source = null, byte[]? destination = null)
    {
        var v = lab.Send(request, 0);

        Assert.Equal((FrameAction.Transmit, 0, DropReason.None), (v.Action, v.Link, v.Reason));
        int headerLength = 20 + expectedOptions.Length;
        Assert.Equal(14 + headerLength + expectedMessage.Length, v.Length);
        var frame = request.Buffer.AsSpan(v.Offset, v.Length);
        Assert.Equal(Bytes(Mac(Lab.ClientMac), Mac(Lab.ClientLinkMac), 0x08, 0), frame[..14].ToArray());
        var ip = frame[14..];
        Assert.Equal((0x40 | (headerLength / 4), 0, headerLength + expectedMessage.Length), ((int)ip[0], (int)ip[1], (int)BinaryPrimitives.ReadUInt16BigEndian(ip[2..])));
        Assert.Equal((0, 64, 1), ((int)BinaryPrimitives.ReadUInt16BigEndian(ip[6..]), (int)ip[8], (int)ip[9]));
        Assert.Equal(source ?? Vip, ip.Slice(12, 4).ToArray());
        Assert.Equal(destination ?? Client, ip.Slice(16, 4).ToArray());
        Assert.Equal(expectedOptions, ip[20..headerLength].ToArray());
        Assert.Equal(0, (int)InternetChecksum(ip[..headerLength]));
        Assert.Equal(WithChecksum(expectedMessage), ip[headerLength..].ToArray());
    }

    private static void AssertEchoReply(Lab lab, byte[] requestOptions, byte[] expectedOptions, byte[]? source = null, byte[]? destination = null)
    {
        byte[] reply = (byte[])EchoMessage.Clone();
        reply[0] = 0;
        AssertReply(lab, Request(requestOptions, EchoMessage), expectedOptions, reply, source, destination);
    }

    private static void AssertDropped(Lab lab, byte[] requestOptions)
    {
        var v = lab.Send(Request(requestOptions, EchoMessage), 0);
        Assert.Equal((FrameAction.Drop, DropReason.IpOptions), (v.Action, v.Reason));
    }

    /// <summary>
    /// A record route option with room (ping -R's 39 bytes behind a no-operation): the host records the VIP on input
    /// and again as the reply's source, so the reply carries it twice with the pointer two slots further; the
    /// no-operation byte is not echoed, and one end-of-list byte pads the 39 bytes to 40.
    /// </summary>
    [Fact]
    public void RecordRouteWithRoom_VipRecordedOnInputAndOutput()
    {
        using var lab = NewLab();
        AssertEchoReply(
            lab,
            Bytes(1, 7, 39, 4, new byte[36]),
            Bytes(7, 39, 12, Vip, Vip, new byte[28], 0));
    }

    /// <summary>A record route option with one slot left: the host fills it on input; the reply has no room for the reply's source.</summary>
    [Fact]
    public void RecordRouteWithOneSlotLeft_FilledOnInputOnly()
    {
        using var lab = NewLab();
        AssertEchoReply(lab, Bytes(7, 11, 8, Router1, Zero, 0), Bytes(7, 11, 12, Router1, Vip, 0));
    }

    /// <summary>A full record route option comes back as it came.</summary>
    [Fact]
    public void RecordRouteFull_EchoedUnchanged()
    {
        using var lab = NewLab();
        AssertEchoReply(lab, Bytes(7, 11, 12, Router1, Router2, 0), Bytes(7, 11, 12, Router1, Router2, 0));
    }

    /// <summary>Timestamps only: the host's timestamp on input and again on output, the pointer past both.</summary>
    [Fact]
    public void TimestampsOnly_HostTimestampOnInputAndOutput()
    {
        using var lab = NewLab();
        AssertEchoReply(lab, Bytes(68, 12, 5, 0x00, Zero, Zero), Bytes(68, 12, 13, 0x00, Now, Now));
    }

    /// <summary>
    /// A full timestamp option: the host counts itself in the overflow nibble on input (1 becomes 2); a sixteenth
    /// overflow is an error, and the request is dropped. A full prespecified option is not counted, and an unknown
    /// flag value leaves the option as it came.
    /// </summary>
    [Fact]
    public void TimestampFull_OverflowCountedOnInput_SixteenthDropped()
    {
        using var lab = NewLab();
        var stamp = BigEndian(1234);
        AssertEchoReply(lab, Bytes(68, 8, 9, 0x10, stamp), Bytes(68, 8, 9, 0x20, stamp));
        AssertDropped(lab, Bytes(68, 8, 9, 0xF0, stamp));

        // A full prespecified option counts no overflow; a flag value the kernel does not know passes untouched.
        AssertEchoReply(lab, Bytes(68, 12, 13, 0x13, Vip, stamp), Bytes(68, 12, 13, 0x13, Vip, stamp));
        AssertEchoReply(lab, Bytes(68, 8, 5, 0x02, Zero), Bytes(68, 8, 5, 0x02, Zero));
    }

    /// <summary>Addresses and timestamps: the VIP and the timestamp in the first pair on input, in the second on output.</summary>
    [Fact]
    public void TimestampsWithAddresses_VipAndTimestampOnInputAndOutput()
    {
        using var lab = NewLab();
        AssertEchoReply(
            lab,
            Bytes(68, 20, 5, 0x01, Zero, Zero, Zero, Zero),
            Bytes(68, 20, 21, 0x01, Vip, Now, Vip, Now));
    }

    /// <summary>
    /// Addresses and timestamps with room for one pair and a half after the host's entry: ip_options_echo finds no
    /// room for the timestamp after the address and refuses (-EINVAL), and icmp_reply sends nothing.
    /// </summary>
    [Fact]
    public void TimestampsWithAddresses_HalfAPairLeft_Dropped()
    {
        using var lab = NewLab();
        AssertDropped(lab, Bytes(68, 16, 5, 0x01, Zero, Zero, Zero, 1, 1, 1, 1));
    }

    /// <summary>
    /// Prespecified addresses: the VIP's entry takes the host's timestamp on input; on output the next entry, the
    /// director's link address, takes it too; the stranger's entry after is left as it was.
    /// </summary>
    [Fact]
    public void Prespecified_EntriesNamingTheDirectorTimestamped()
    {
        using var lab = NewLab();
        AssertEchoReply(
            lab,
            Bytes(68, 28, 5, 0x03, Vip, Zero, LinkAddress, Zero, Stranger, Zero),
            Bytes(68, 28, 21, 0x03, Vip, Now, LinkAddress, Now, Stranger, Zero));
    }

    /// <summary>
    /// Prespecified addresses: an entry for a stranger (unicast, inet_addr_type) stops the host, on input and output;
    /// a subnet broadcast address and a loopback address (local on every host) are not unicast, and take a timestamp.
    /// </summary>
    [Fact]
    public void Prespecified_StrangerEntryStops_BroadcastAndLoopbackEntriesTimestamped()
    {
        using var lab = NewLab();
        AssertEchoReply(
            lab,
            Bytes(68, 20, 5, 0x03, Stranger, Zero, Vip, Zero),
            Bytes(68, 20, 5, 0x03, Stranger, Zero, Vip, Zero));
        AssertEchoReply(
            lab,
            Bytes(68, 20, 5, 0x03, SubnetBroadcast, Zero, Stranger, Zero),
            Bytes(68, 20, 13, 0x03, SubnetBroadcast, Now, Stranger, Zero));
        AssertEchoReply(
            lab,
            Bytes(68, 20, 5, 0x03, Loopback, Zero, Stranger, Zero),
            Bytes(68, 20, 13, 0x03, Loopback, Now, Stranger, Zero));
    }

    /// <summary>A router alert is not echoed: alone, the reply has no options (IHL 5) and the message moves up behind the 20-byte header.</summary>
    [Fact]
    public void RouterAlert_NotEchoed()
    {
        using var lab = NewLab();
        AssertEchoReply(lab, Bytes(148, 4, 0, 0), []);
        AssertEchoReply(lab, Bytes(148, 4, 0, 0, 7, 7, 4, Zero, 0), Bytes(7, 7, 8, Vip, 0));
    }

    /// <summary>No-operation bytes are not echoed, and what follows an end-of-list byte is ignored.</summary>
    [Fact]
    public void NoOperationPadding_NotEchoed()
    {
        using var lab = NewLab();
        AssertEchoReply(lab, Bytes(1, 1, 1, 7, 7, 4, Zero, 1, 1), Bytes(7, 7, 8, Vip, 0));
        AssertEchoReply(lab, Bytes(1, 0, 7, 7, 4, Zero, 0, 0, 0), []);
    }

    /// <summary>The options come back in the kernel's order (record route, timestamp) whatever the request's.</summary>
    [Fact]
    public void TimestampThenRecordRoute_EchoedRecordRouteFirst()
    {
        using var lab = NewLab();
        AssertEchoReply(
            lab,
            Bytes(68, 8, 5, 0x00, Zero, 7, 11, 4, Zero, Zero, 0),
            Bytes(7, 11, 12, Vip, Vip, 68, 8, 9, 0x00, Now, 0));
    }

    /// <summary>
    /// A loose source route used up on arrival (client, router 1, router 2, VIP): with accept_source_route on, the
    /// reply goes to the last router with the route reversed (router 1, then the client itself in the last slot, as
    /// ip_options_build writes it); off, the kernel's default, the request is dropped.
    /// </summary>
    [Fact]
    public void LooseSourceRoute_ReversedWhenAccepted_DroppedByDefault()
    {
        var options = Bytes(131, 11, 12, Router1, Router2, 0);
        using (var lab = NewLab(acceptSourceRoute: true))
        {
            AssertEchoReply(lab, options, Bytes(131, 11, 4, Router1, Client, 0), destination: Router2);
        }

        using var quiet = NewLab();
        AssertDropped(quiet, options);
    }

    /// <summary>A strict source route whose first hop is the sender itself: RFC 1812's fix leaves that hop out of the reversed route.</summary>
    [Fact]
    public void StrictSourceRouteThroughTheSender_SenderLeftOut()
    {
        using var lab = NewLab(acceptSourceRoute: true);
        AssertEchoReply(lab, Bytes(137, 11, 12, Client, Router2, 0), Bytes(137, 7, 4, Client, 0), destination: Router2);
    }

    /// <summary>
    /// A loose source route with a hop left that is the director's link address: the kernel's "superfast loopback"
    /// makes it the destination without moving the pointer, so the reply comes from it and reverses the route up to
    /// the pointer. A hop left that is not the director's would be forwarded by the kernel: the director drops it.
    /// </summary>
    [Fact]
    public void LooseSourceRouteWithHopsLeft_AnsweredFromTheLastLocalHop_OrDropped()
    {
        using var lab = NewLab(acceptSourceRoute: true);
        AssertEchoReply(lab, Bytes(131, 11, 8, Router1, LinkAddress, 0), Bytes(131, 7, 4, Client, 0), source: LinkAddress, destination: Router1);
        AssertDropped(lab, Bytes(131, 11, 8, Router1, Stranger, 0));
    }

    /// <summary>Options the kernel's ip_options_compile rejects (or a CIPSO option, with no DOI configured) drop the request unanswered.</summary>
    [Fact]
    public void MalformedOptions_Dropped()
    {
        using var lab = NewLab();
        AssertDropped(lab, Bytes(7, 7, 3, Zero, 0)); // record route pointer below 4
        AssertDropped(lab, Bytes(7, 9, 4, Zero, 0)); // length past the options
        AssertDropped(lab, Bytes(1, 1, 1, 7)); // a type without its length
        AssertDropped(lab, Bytes(68, 8, 4, 0, Zero)); // timestamp pointer below 5
        AssertDropped(lab, Bytes(7, 7, 4, Zero, 1, 7, 7, 4, Zero, 1)); // two record routes
        AssertDropped(lab, Bytes(148, 2, 0, 0)); // router alert shorter than 4
        AssertDropped(lab, Bytes(134, 8, 0, 0, 0, 1, 0, 0)); // CIPSO
        AssertDropped(lab, Bytes(7, 10, 4, Zero, 0, 0, 0, 0, 0)); // record route, room for 1.5 addresses after the host's
    }

    /// <summary>A TCP segment (ACK, no SYN) from the client's port 40000 to the VIP's port 80, its checksum filled in over <paramref name="source"/> and <paramref name="destination"/> (the route's ends).</summary>
    private static Frame Segment(byte[] options, byte[]? source = null, byte[]? destination = null, byte[]? finalDestination = null)
    {
        var tcp = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), 80);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), 0x1000);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(8), 0xABCD0001);
        tcp[12] = 5 << 4;
        tcp[13] = 0x10;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(14), 512);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(16), InternetChecksum(Bytes(source ?? Client, finalDestination ?? destination ?? Vip, 0, 6, 0, 20, tcp)));
        return Packet(options, 6, tcp, source, destination);
    }

    /// <summary>
    /// Sends the segment and checks the reset that answers it: back to the client's MAC, an IPv4 header with exactly
    /// <paramref name="expectedOptions"/> (DF set and identification 0, as the kernel's resets), from
    /// <paramref name="source"/> to <paramref name="destination"/>, and a 20-byte RST from port 80 to 40000 with the
    /// segment's acknowledgment number as its sequence number, its checksum over the reset's source and the client.
    /// </summary>
    private static void AssertReset(Lab lab, Frame segment, byte[] expectedOptions, byte[]? source = null, byte[]? destination = null)
    {
        var v = lab.Send(segment, 0);

        Assert.Equal((FrameAction.Transmit, 0, DropReason.NotSyn), (v.Action, v.Link, v.Reason));
        int headerLength = 20 + expectedOptions.Length;
        Assert.Equal(14 + headerLength + 20, v.Length);
        var frame = segment.Buffer.AsSpan(v.Offset, v.Length);
        Assert.Equal(Bytes(Mac(Lab.ClientMac), Mac(Lab.ClientLinkMac), 0x08, 0), frame[..14].ToArray());
        var ip = frame[14..];
        Assert.Equal((0x40 | (headerLength / 4), 0, headerLength + 20), ((int)ip[0], (int)ip[1], (int)BinaryPrimitives.ReadUInt16BigEndian(ip[2..])));
        Assert.Equal((0, 0x4000, 64, 6), ((int)BinaryPrimitives.ReadUInt16BigEndian(ip[4..]), (int)BinaryPrimitives.ReadUInt16BigEndian(ip[6..]), (int)ip[8], (int)ip[9]));
        Assert.Equal(source ?? Vip, ip.Slice(12, 4).ToArray());
        Assert.Equal(destination ?? Client, ip.Slice(16, 4).ToArray());
        Assert.Equal(expectedOptions, ip[20..headerLength].ToArray());
        Assert.Equal(0, (int)InternetChecksum(ip[..headerLength]));
        var tcp = ip[headerLength..].ToArray();
        Assert.Equal(Bytes(0, 80, 0x9C, 0x40, 0xAB, 0xCD, 0, 1, Zero, 0x50, 0x04, 0, 0), tcp[..16]);
        Assert.Equal(0, (int)InternetChecksum(Bytes(source ?? Vip, Client, 0, 6, 0, 20, tcp)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(tcp.AsSpan(18)));
    }

    /// <summary>
    /// The reset the host's TCP sends for a segment to a service port that matches no connection echoes the segment's
    /// options as an echo reply does (tcp_v4_send_reset's ip_send_unicast_reply calls __ip_options_echo, and
    /// ip_options_build completes them): a record route with room carries the VIP twice; a timestamp the host's time
    /// twice; a router alert is not echoed.
    /// </summary>
    [Fact]
    public void ResetForUnmatchedSegment_EchoesRecordRouteAndTimestamp()
    {
        using var lab = NewLab();
        AssertReset(lab, Segment(Bytes(1, 7, 39, 4, new byte[36])), Bytes(7, 39, 12, Vip, Vip, new byte[28], 0));
        AssertReset(lab, Segment(Bytes(68, 12, 5, 0x00, Zero, Zero)), Bytes(68, 12, 13, 0x00, Now, Now));
        AssertReset(lab, Segment(Bytes(148, 4, 0, 0)), []);
    }

    /// <summary>
    /// A reset for a source-routed segment goes back along the reversed route, to its first hop (router 2), while its
    /// TCP checksum covers the segment's own ends (the VIP and the client), as tcp_v4_send_reset computes it; with
    /// accept_source_route off (the default) the segment is dropped before TCP sees it, unanswered.
    /// </summary>
    [Fact]
    public void ResetForSourceRoutedSegment_ReversedWhenAccepted_DroppedByDefault()
    {
        var options = Bytes(131, 11, 12, Router1, Router2, 0);
        using (var lab = NewLab(acceptSourceRoute: true))
        {
            AssertReset(lab, Segment(options), Bytes(131, 11, 4, Router1, Client, 0), destination: Router2);
        }

        using var quiet = NewLab();
        var v = quiet.Send(Segment(options), 0);
        Assert.Equal((FrameAction.Drop, DropReason.IpOptions), (v.Action, v.Reason));
    }

    /// <summary>Options the kernel's ip_options_compile rejects drop the segment before TCP: no reset is sent.</summary>
    [Fact]
    public void ResetForSegmentWithMalformedOptions_NotSent()
    {
        using var lab = NewLab();
        foreach (var options in new[] { Bytes(7, 7, 3, Zero, 0), Bytes(1, 1, 1, 7), Bytes(134, 8, 0, 0, 0, 1, 0, 0) })
        {
            var v = lab.Send(Segment(options), 0);
            Assert.Equal((FrameAction.Drop, DropReason.IpOptions), (v.Action, v.Reason));
        }
    }

    /// <summary>A UDP datagram from the client to the VIP's port 5353, which no service has, with <paramref name="options"/>.</summary>
    private static Frame Datagram(byte[] options) =>
        Packet(options, 17, Bytes(0x9C, 0x40, 0x14, 0xE9, 0, 11, 0, 0, 0x61, 0x62, 0x63), null, null);

    /// <summary>
    /// Sends the datagram and checks the host's port unreachable: back to the client's MAC, an IPv4 header with exactly
    /// <paramref name="expectedOptions"/> (IHL, total length, checksum right, TOS 0xc0, ICMP), type 3 code 3 with its
    /// checksum right, quoting the whole datagram with <paramref name="quotedOptions"/> in its header and every other
    /// byte as sent (its header checksum too, now stale, as the kernel quotes it).
    /// </summary>
    private static void AssertPortUnreachable(Lab lab, Frame datagram, byte[] expectedOptions, byte[] quotedOptions, byte[]? destination = null)
    {
        var sent = datagram.Buffer.AsSpan(datagram.Offset + 14, datagram.Length - 14).ToArray();
        var v = lab.Send(datagram, 0);

        Assert.Equal((FrameAction.Transmit, 0, DropReason.NoVirtualService), (v.Action, v.Link, v.Reason));
        int headerLength = 20 + expectedOptions.Length;
        Assert.Equal(14 + headerLength + 8 + sent.Length, v.Length);
        var frame = datagram.Buffer.AsSpan(v.Offset, v.Length);
        Assert.Equal(Bytes(Mac(Lab.ClientMac), Mac(Lab.ClientLinkMac), 0x08, 0), frame[..14].ToArray());
        var ip = frame[14..];
        Assert.Equal((0x40 | (headerLength / 4), 0xC0, headerLength + 8 + sent.Length), ((int)ip[0], (int)ip[1], (int)BinaryPrimitives.ReadUInt16BigEndian(ip[2..])));
        Assert.Equal(1, ip[9]);
        Assert.Equal(Vip, ip.Slice(12, 4).ToArray());
        Assert.Equal(destination ?? Client, ip.Slice(16, 4).ToArray());
        Assert.Equal(expectedOptions, ip[20..headerLength].ToArray());
        Assert.Equal(0, (int)InternetChecksum(ip[..headerLength]));
        var icmp = ip[headerLength..].ToArray();
        Assert.Equal(Bytes(3, 3), icmp[..2]);
        Assert.Equal(0, (int)InternetChecksum(icmp));
        var expectedQuote = (byte[])sent.Clone();
        quotedOptions.CopyTo(expectedQuote, 20);
        Assert.Equal(expectedQuote, icmp[8..]);
    }

    /// <summary>
    /// The host's port unreachable about a datagram with options echoes them as its reset does (__icmp_send's
    /// __ip_options_echo), and quotes the datagram as ip_options_compile left it: checked on this host's kernel with a
    /// UDP datagram with a no-operation and a 39-byte record route to a closed port (the error's record route carries
    /// the address twice, pointer 12; the quote's has it once, pointer 8, under the datagram's original checksum).
    /// </summary>
    [Fact]
    public void PortUnreachableAboutDatagramWithOptions_EchoesThemAndQuotesThemAsReceived()
    {
        using var lab = NewLab();
        AssertPortUnreachable(lab, Datagram(Bytes(1, 7, 39, 4, new byte[36])), Bytes(7, 39, 12, Vip, Vip, new byte[28], 0), Bytes(1, 7, 39, 8, Vip, new byte[32]));
        AssertPortUnreachable(lab, Datagram(Bytes(68, 12, 5, 0x00, Zero, Zero)), Bytes(68, 12, 13, 0x00, Now, Now), Bytes(68, 12, 9, 0x00, Now, Zero));
        AssertPortUnreachable(lab, Datagram(Bytes(148, 4, 0, 0)), [], Bytes(148, 4, 0, 0));
    }

    /// <summary>A source-routed datagram's error goes back along the reversed route, to its first hop; with accept_source_route off (the default), nothing.</summary>
    [Fact]
    public void PortUnreachableAboutSourceRoutedDatagram_ReversedWhenAccepted_NoneByDefault()
    {
        var options = Bytes(131, 11, 12, Router1, Router2, 0);
        using (var lab = NewLab(acceptSourceRoute: true))
        {
            AssertPortUnreachable(lab, Datagram(options), Bytes(131, 11, 4, Router1, Client, 0), options, destination: Router2);
        }

        using var quiet = NewLab();
        var v = quiet.Send(Datagram(options), 0);
        Assert.Equal(FrameAction.Drop, v.Action);
    }

    /// <summary>Options the kernel's ip_options_compile rejects drop the datagram before UDP: no error is sent.</summary>
    [Fact]
    public void PortUnreachableAboutDatagramWithMalformedOptions_NotSent()
    {
        using var lab = NewLab();
        foreach (var options in new[] { Bytes(7, 7, 3, Zero, 0), Bytes(1, 1, 1, 7), Bytes(134, 8, 0, 0, 0, 1, 0, 0) })
        {
            var v = lab.Send(Datagram(options), 0);
            Assert.Equal(FrameAction.Drop, v.Action);
        }
    }

    /// <summary>
    /// A timestamp request with a record route option: the 20-byte timestamp reply follows the reply's options (the
    /// VIP twice, the second slot taken by the reply), whose header is 4 bytes shorter than the request's, so the
    /// message moves.
    /// </summary>
    [Fact]
    public void TimestampRequestWithRecordRoute_ReplyCarriesTheOptions()
    {
        using var lab = NewLab();
        var message = new byte[20];
        message[0] = 13;
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(4), 0x1234);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(6), 1);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(8), 1000);

        var expected = Bytes(14, 0, 0, 0, 0x12, 0x34, 0, 1, BigEndian(1000), Now, Now);
        AssertReply(
            lab,
            Request(Bytes(148, 4, 0, 0, 7, 11, 4, Zero, Zero, 0), message),
            Bytes(7, 11, 12, Vip, Vip, 0),
            expected);
    }
}
