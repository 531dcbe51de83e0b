using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using Lvs.TestSupport;
using PacketDotNet;

namespace Lvs.Core.Tests;

/// <summary>What a generated test frame contains.</summary>
public sealed record FrameSpec(
    bool V6,
    bool Udp,
    byte[] Source,
    byte[] Destination,
    ushort SourcePort,
    ushort DestinationPort,
    int IpOptionWords,
    int ExtensionHeaders,
    int TcpOptionWords,
    int PayloadLength,
    byte Ttl,
    bool Vlan,
    uint Sequence)
{
    public override string ToString() =>
        $"{(V6 ? "v6" : "v4")} {(Udp ? "udp" : "tcp")} ipopt={IpOptionWords} ext={ExtensionHeaders} tcpopt={TcpOptionWords} payload={PayloadLength} vlan={Vlan}";
}

/// <summary>
/// Builds Ethernet frames for the property tests. The header bytes are laid out here from the RFCs; every
/// checksum is computed by PacketDotNet (the independent oracle), never by the code under test.
/// </summary>
public static class TestFrames
{
    public static Arbitrary<FrameSpec> Arbitrary()
    {
        var gen =
            from v6 in Gen.Elements(false, true)
            from udp in Gen.Elements(false, true)
            from src in Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>(), v6 ? 16 : 4)
            from dst in Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>(), v6 ? 16 : 4)
            from sport in ArbMap.Default.GeneratorFor<ushort>()
            from dport in ArbMap.Default.GeneratorFor<ushort>()
            from ipopt in Gen.Choose(0, 10)
            from ext in Gen.Choose(0, 3)
            from tcpopt in Gen.Choose(0, 10)
            from payload in Gen.Frequency((1, Gen.Constant(0)), (1, Gen.Choose(1, 3)), (4, Gen.Choose(0, 1400)))
            from ttl in Gen.Choose(1, 255)
            from vlan in Gen.Elements(false, true)
            from seq in ArbMap.Default.GeneratorFor<uint>()
            select new FrameSpec(v6, udp, src, dst, OracleSafePort(sport), OracleSafePort(dport), v6 ? 0 : ipopt, v6 ? ext : 0, udp ? 0 : tcpopt, payload, (byte)ttl, vlan, seq);
        return Arb.From(gen.Where(s => !IsMapped(s)));
    }

    // PacketDotNet 1.4.8 decodes UDP payloads by port and crashes on an empty Wake-on-LAN payload (ports 0, 7, 9):
    // an oracle limitation, so those ports are moved aside.
    private static ushort OracleSafePort(ushort port) => port is 0 or 7 or 9 ? (ushort)(port + 1000) : port;

    // ::ffff:a.b.c.d is represented as IPv4 by InetAddress (documented); generated IPv6 sources avoid it.
    private static bool IsMapped(FrameSpec s) =>
        s.V6 && (s.Source.AsSpan(0, 10).IndexOfAnyExcept((byte)0) < 0 && s.Source[10] == 0xFF && s.Source[11] == 0xFF
              || s.Destination.AsSpan(0, 10).IndexOfAnyExcept((byte)0) < 0 && s.Destination[10] == 0xFF && s.Destination[11] == 0xFF);

    /// <summary>Lays out the frame and lets PacketDotNet fill every length and checksum.</summary>
    public static byte[] Build(FrameSpec s)
    {
        var bytes = new List<byte>();
        // Ethernet: dst, src, optional 802.1Q tag, type.
        bytes.AddRange([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2]);
        if (s.Vlan)
        {
            bytes.AddRange([0x81, 0x00, 0x20, 0x2A]);
        }

        bytes.AddRange(s.V6 ? [0x86, 0xDD] : [0x08, 0x00]);
        int l3 = bytes.Count;
        byte proto = s.Udp ? (byte)17 : (byte)6;
        int l4HeaderLength = s.Udp ? 8 : 20 + (4 * s.TcpOptionWords);
        int l4Length = l4HeaderLength + s.PayloadLength;

        if (!s.V6)
        {
            int ihl = 5 + s.IpOptionWords;
            bytes.Add((byte)(0x40 | ihl));
            bytes.Add(0);
            AddU16(bytes, (ushort)((ihl * 4) + l4Length));
            AddU16(bytes, 0x1234);
            AddU16(bytes, 0x4000);
            bytes.Add(s.Ttl);
            bytes.Add(proto);
            AddU16(bytes, 0);
            bytes.AddRange(s.Source);
            bytes.AddRange(s.Destination);
            // Options: a run of NOPs ending with EOL, which every IPv4 stack accepts.
            for (int i = 0; i < s.IpOptionWords * 4; i++)
            {
                bytes.Add(i == (s.IpOptionWords * 4) - 1 ? (byte)0 : (byte)1);
            }
        }
        else
        {
            int extLength = 8 * s.ExtensionHeaders;
            bytes.AddRange([0x60, 0x00, 0x00, 0x00]);
            AddU16(bytes, (ushort)(extLength + l4Length));
            bytes.Add(s.ExtensionHeaders > 0 ? (byte)0 : proto);
            bytes.Add(s.Ttl);
            bytes.AddRange(s.Source);
            bytes.AddRange(s.Destination);
            // Hop-by-hop first (RFC 8200 requires it first), then destination options; each 8 bytes of PadN.
            for (int i = 0; i < s.ExtensionHeaders; i++)
            {
                byte next = i == s.ExtensionHeaders - 1 ? proto : (byte)60;
                bytes.AddRange([next, 0, 1, 4, 0, 0, 0, 0]);
            }
        }

        int l4 = bytes.Count;
        AddU16(bytes, s.SourcePort);
        AddU16(bytes, s.DestinationPort);
        if (s.Udp)
        {
            AddU16(bytes, (ushort)l4Length);
            AddU16(bytes, 0);
        }
        else
        {
            AddU32(bytes, s.Sequence);
            AddU32(bytes, s.Sequence ^ 0x5A5A5A5A);
            bytes.Add((byte)((5 + s.TcpOptionWords) << 4));
            bytes.Add(0x18);
            AddU16(bytes, 29200);
            AddU16(bytes, 0);
            AddU16(bytes, 0);
            AddTcpOptions(bytes, s.TcpOptionWords * 4);
        }

        for (int i = 0; i < s.PayloadLength; i++)
        {
            bytes.Add((byte)(i * 7 + s.PayloadLength));
        }

        byte[] frame = bytes.ToArray();
        FixChecksumsWithOracle(frame);
        _ = l3;
        _ = l4;
        return frame;
    }

    /// <summary>Recomputes IP and L4 checksums with PacketDotNet and writes them into the frame.</summary>
    public static void FixChecksumsWithOracle(byte[] frame)
    {
        var packet = Packet.ParsePacket(LinkLayers.Ethernet, frame);
        var ip = packet.Extract<IPPacket>();
        if (ip is IPv4Packet v4)
        {
            v4.UpdateIPChecksum();
        }

        switch (ip.PayloadPacket)
        {
            case TcpPacket tcp:
                tcp.UpdateTcpChecksum();
                break;
            case UdpPacket udp:
                udp.UpdateUdpChecksumAsSent();
                break;
        }

        byte[] updated = packet.Bytes;
        Array.Copy(updated, frame, Math.Min(updated.Length, frame.Length));
    }

    private static void AddTcpOptions(List<byte> bytes, int length)
    {
        // Realistic options in the order Linux sends them, then NOP padding.
        int written = 0;
        if (length - written >= 4)
        {
            bytes.AddRange([2, 4, 0x05, 0xB4]);
            written += 4;
        }

        if (length - written >= 12)
        {
            bytes.AddRange([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0]);
            written += 12;
        }

        if (length - written >= 4)
        {
            bytes.AddRange([1, 3, 3, 7]);
            written += 4;
        }

        while (written < length)
        {
            bytes.Add(1);
            written++;
        }
    }

    private static void AddU16(List<byte> bytes, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(b, value);
        bytes.AddRange(b.ToArray());
    }

    private static void AddU32(List<byte> bytes, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        bytes.AddRange(b.ToArray());
    }
}
