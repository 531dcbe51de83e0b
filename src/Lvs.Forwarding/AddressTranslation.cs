using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// The in-place address and port rewrite shared by NAT and FULLNAT: IP addresses, TCP/UDP ports, the TTL or hop
/// limit, and the IPv4 header and transport checksums patched incrementally (RFC 1624), as the kernel's
/// tcp_snat_handler / tcp_dnat_handler and udp_*_handler do with inet_proto_csum_replace.
/// </summary>
internal static class AddressTranslation
{
    /// <summary>Rewrites source and destination (an unchanged endpoint costs nothing but the comparison). The caller has checked bounds and families.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Rewrite(Span<byte> frame, in ParsedFrame parsed, Endpoint source, Endpoint destination, bool decrementHopLimit)
    {
        int l3 = parsed.L3Offset;
        uint addressDelta;
        if (parsed.IpVersion == 4)
        {
            Span<byte> ip = frame.Slice(l3, 20);
            uint oldSource = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
            uint oldDestination = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
            uint newSource = (uint)source.Address.Low;
            uint newDestination = (uint)destination.Address.Low;
            addressDelta = Checksum.Add(Delta32(oldSource, newSource), Delta32(oldDestination, newDestination));
            uint headerDelta = addressDelta;
            if (decrementHopLimit)
            {
                // TTL shares a 16-bit word with the protocol; decrementing it is a delta of -0x0100 (RFC 1624 section 5).
                ushort word = BinaryPrimitives.ReadUInt16BigEndian(ip[8..]);
                headerDelta = Checksum.Add(headerDelta, Checksum.Delta16(word, (ushort)(word - 0x0100)));
                ip[8]--;
            }

            BinaryPrimitives.WriteUInt32BigEndian(ip[12..], newSource);
            BinaryPrimitives.WriteUInt32BigEndian(ip[16..], newDestination);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.ApplyDelta(BinaryPrimitives.ReadUInt16BigEndian(ip[10..]), headerDelta));
        }
        else
        {
            Span<byte> ip = frame.Slice(l3, 40);
            addressDelta = Checksum.Add(
                Checksum.DeltaAddress(IpAddress.ReadIPv6(ip[8..]), source.Address),
                Checksum.DeltaAddress(IpAddress.ReadIPv6(ip[24..]), destination.Address));
            if (decrementHopLimit)
            {
                ip[7]--;
            }

            source.Address.WriteIPv6To(ip[8..]);
            destination.Address.WriteIPv6To(ip[24..]);
        }

        if (parsed.L4Offset < 0)
        {
            return; // A non-first fragment: the first fragment's checksum covers the pseudo-header already.
        }

        Span<byte> l4 = frame[parsed.L4Offset..];
        uint oldPorts = BinaryPrimitives.ReadUInt32BigEndian(l4);
        uint newPorts = (uint)source.Port << 16 | destination.Port;
        BinaryPrimitives.WriteUInt32BigEndian(l4, newPorts);
        uint delta = Checksum.Add(addressDelta, Delta32(oldPorts, newPorts));
        if (parsed.Protocol == L4Protocol.Tcp)
        {
            Span<byte> field = l4.Slice(16, 2);
            BinaryPrimitives.WriteUInt16BigEndian(field, Checksum.ApplyDelta(BinaryPrimitives.ReadUInt16BigEndian(field), delta));
        }
        else
        {
            Span<byte> field = l4.Slice(6, 2);
            ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(field);

            // An IPv4 UDP checksum of 0 means none was sent (RFC 768): leave it so.
            if (checksum != 0 || parsed.IpVersion == 6)
            {
                BinaryPrimitives.WriteUInt16BigEndian(field, Checksum.UdpResult(Checksum.ApplyDelta(checksum, delta)));
            }
        }
    }

    /// <summary>Decrements the TTL / hop limit in place, patching the IPv4 header checksum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void DecrementHopLimit(Span<byte> ip, int version)
    {
        if (version == 4)
        {
            ushort word = BinaryPrimitives.ReadUInt16BigEndian(ip[8..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Update16(BinaryPrimitives.ReadUInt16BigEndian(ip[10..]), word, (ushort)(word - 0x0100)));
            ip[8]--;
        }
        else
        {
            ip[7]--;
        }
    }

    /// <summary>The TTL / hop limit byte of the IP header.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte HopLimit(ReadOnlySpan<byte> ip, int version) => version == 4 ? ip[8] : ip[7];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Delta32(uint oldValue, uint newValue)
    {
        uint o = ~oldValue;
        return (o >> 16) + (o & 0xFFFF) + (newValue >> 16) + (newValue & 0xFFFF);
    }
}
