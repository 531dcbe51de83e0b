using System.Buffers.Binary;
using Lvs.Core;

namespace Lvs.Devices.Tests.Lab;

/// <summary>Frames the tests send and the checks they make on received ones.</summary>
internal static class TestFrames
{
    /// <summary>An Ethernet + IPv4 + ICMP echo request.</summary>
    internal static byte[] EchoRequest(MacAddress source, MacAddress destination, InetAddress from, InetAddress to, ushort identifier, ushort sequence)
    {
        var frame = new byte[14 + 20 + 8 + 32];
        destination.WriteTo(frame);
        source.WriteTo(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        Span<byte> ip = frame.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(frame.Length - 14));
        ip[8] = 64;
        ip[9] = 1;
        from.WriteTo(ip[12..]);
        to.WriteTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..20]));
        Span<byte> icmp = ip[20..];
        icmp[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], identifier);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], sequence);
        for (int i = 8; i < icmp.Length; i++)
        {
            icmp[i] = (byte)i;
        }

        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp));
        return frame;
    }

    /// <summary>True when the frame is IPv4 UDP to <paramref name="port"/>.</summary>
    internal static bool IsUdpTo(ReadOnlySpan<byte> frame, ushort port) =>
        frame.Length >= 42 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x0800 && frame[23] == 17
        && BinaryPrimitives.ReadUInt16BigEndian(frame[(14 + ((frame[14] & 0xF) * 4) + 2)..]) == port;

    /// <summary>The UDP source port of an IPv4 UDP frame.</summary>
    internal static ushort UdpSourcePort(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt16BigEndian(frame[(14 + ((frame[14] & 0xF) * 4))..]);

    /// <summary>True when the IPv4 frame's UDP or TCP checksum is right.</summary>
    internal static bool HasValidTransportChecksum(ReadOnlySpan<byte> frame)
    {
        int ihl = (frame[14] & 0xF) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
        ReadOnlySpan<byte> l4 = frame.Slice(14 + ihl, total - ihl);
        ushort pseudo = Checksum.PseudoHeaderSum(InetAddress.ReadIPv4(frame[26..]), InetAddress.ReadIPv4(frame[30..]), (L4Protocol)frame[23], l4.Length);
        return Checksum.IsValid(l4, pseudo);
    }

    /// <summary>True when the frame is IPv6 UDP (no extension headers) to <paramref name="port"/>.</summary>
    internal static bool IsUdp6To(ReadOnlySpan<byte> frame, ushort port) =>
        frame.Length >= 62 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x86DD && frame[20] == 17
        && BinaryPrimitives.ReadUInt16BigEndian(frame[56..]) == port;

    /// <summary>True when the IPv6 frame's UDP checksum (no extension headers) is right.</summary>
    internal static bool HasValidUdp6Checksum(ReadOnlySpan<byte> frame)
    {
        int payload = BinaryPrimitives.ReadUInt16BigEndian(frame[18..]);
        ReadOnlySpan<byte> l4 = frame.Slice(54, payload);
        ushort pseudo = Checksum.PseudoHeaderSum(InetAddress.ReadIPv6(frame[22..]), InetAddress.ReadIPv6(frame[38..]), L4Protocol.Udp, l4.Length);
        return Checksum.IsValid(l4, pseudo);
    }

    /// <summary>True when the frame is an ICMP echo reply with the identifier.</summary>
    internal static bool IsEchoReply(ReadOnlySpan<byte> frame, ushort identifier) =>
        frame.Length >= 42 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x0800 && frame[23] == 1
        && frame[34] == 0 && BinaryPrimitives.ReadUInt16BigEndian(frame[38..]) == identifier;

    /// <summary>Receives from a queue until <paramref name="enough"/> says stop or the time runs out; returns copies of the matching frames.</summary>
    internal static List<byte[]> ReceiveWhere(IFrameQueue queue, Func<byte[], bool> match, Func<List<byte[]>, bool> enough, TimeSpan timeout, Action<FrameBatch>? inspect = null)
    {
        var batch = new FrameBatch(64);
        var found = new List<byte[]>();
        DateTime deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !enough(found))
        {
            if (queue.Receive(batch, 50) == 0)
            {
                continue;
            }

            inspect?.Invoke(batch);
            foreach (ReceivedFrame frame in batch.Frames)
            {
                byte[] copy = batch.Buffer.Slice(frame.Offset, frame.Length).ToArray();
                if (match(copy))
                {
                    found.Add(copy);
                }
            }

            queue.Release(batch);
        }

        return found;
    }
}
