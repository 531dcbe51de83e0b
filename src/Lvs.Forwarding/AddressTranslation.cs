using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.Forwarding;

/// <summary>
/// The in-place address and port rewrite shared by NAT and FULLNAT: IP addresses, TCP/UDP ports, the TTL or hop
/// limit, and the IPv4 header and transport checksums patched incrementally (RFC 1624), as the kernel's
/// tcp_snat_handler / tcp_dnat_handler and udp_*_handler do with inet_proto_csum_replace.
/// </summary>
/// <remarks>
/// This is the hot path of NAT, so it reads and writes through a reference into the frame after
/// <see cref="RewritePolicy.Check"/> has proved every offset used here to lie inside it (IP header at L3, 20 or 40
/// bytes; ports and checksum inside the transport header), and it sums each checksum's changes in one 64-bit
/// accumulator folded once (RFC 1624 equation 3: HC' = ~(~HC + ~m + m') over every changed 16-bit word).
/// </remarks>
internal static class AddressTranslation
{
    /// <summary>
    /// Rewrites the source (when <paramref name="changeSource"/>) and the destination; <paramref name="frame"/> is the
    /// start of the checked frame and <paramref name="l4"/> the transport offset, or -1 for a non-first fragment.
    /// </summary>
    /// <remarks>
    /// Every word is loaded, summed and stored in memory order (<see cref="OnesComplement"/>): only the new addresses
    /// and ports are swapped to network order, once, as they have to be stored that way anyway.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Rewrite(
        ref byte frame, int l3, int l4, bool ipv4, bool tcp, bool changeSource, in InetEndpoint source, in InetEndpoint destination, bool decrementHopLimit)
    {
        ref byte ip = ref Unsafe.Add(ref frame, l3);
        ulong addressSum;
        if (ipv4)
        {
            uint newDestination = NetworkOrder.Swap((uint)destination.Address.Low);
            addressSum = OnesComplement.Delta(NetworkOrder.ReadRaw32(ref ip, 16), newDestination);
            NetworkOrder.WriteRaw(ref ip, 16, newDestination);
            if (changeSource)
            {
                uint newSource = NetworkOrder.Swap((uint)source.Address.Low);
                addressSum += OnesComplement.Delta(NetworkOrder.ReadRaw32(ref ip, 12), newSource);
                NetworkOrder.WriteRaw(ref ip, 12, newSource);
            }

            // The TTL's change is the same constant for every packet: it joins the address changes in one update.
            ulong headerSum = addressSum;
            if (decrementHopLimit)
            {
                headerSum += OnesComplement.TtlDecrementDeltaRaw;
                Unsafe.Add(ref ip, 8)--;
            }

            NetworkOrder.WriteRaw(ref ip, 10, OnesComplement.Apply(NetworkOrder.ReadRaw16(ref ip, 10), headerSum));
        }
        else
        {
            addressSum = ReplaceIPv6Address(ref ip, 24, destination.Address);
            if (changeSource)
            {
                addressSum += ReplaceIPv6Address(ref ip, 8, source.Address);
            }

            if (decrementHopLimit)
            {
                Unsafe.Add(ref ip, 7)--;
            }
        }

        if (l4 < 0)
        {
            return; // A non-first fragment: the first fragment's checksum covers the pseudo-header already.
        }

        ref byte transport = ref Unsafe.Add(ref frame, l4);
        ulong sum = addressSum;
        if (changeSource)
        {
            uint newPorts = NetworkOrder.Swap((uint)source.Port << 16 | destination.Port);
            sum += OnesComplement.Delta(NetworkOrder.ReadRaw32(ref transport, 0), newPorts);
            NetworkOrder.WriteRaw(ref transport, 0, newPorts);
        }
        else
        {
            ushort newPort = NetworkOrder.Swap(destination.Port);
            sum += OnesComplement.Delta(NetworkOrder.ReadRaw16(ref transport, 2), newPort);
            NetworkOrder.WriteRaw(ref transport, 2, newPort);
        }

        if (tcp)
        {
            NetworkOrder.WriteRaw(ref transport, 16, OnesComplement.Apply(NetworkOrder.ReadRaw16(ref transport, 16), sum));
        }
        else
        {
            // An IPv4 UDP checksum of 0 means none was sent (RFC 768): leave it so; a result of 0 is sent as 0xFFFF
            // (both values read the same in either byte order).
            ushort checksum = NetworkOrder.ReadRaw16(ref transport, 6);
            if (checksum != 0 || !ipv4)
            {
                NetworkOrder.WriteRaw(ref transport, 6, Checksum.UdpResult(OnesComplement.Apply(checksum, sum)));
            }
        }
    }

    /// <summary>Writes an IPv6 address at <paramref name="offset"/> of the header and returns its change to the sums (memory order, unfolded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReplaceIPv6Address(ref byte ip, int offset, InetAddress address)
    {
        ulong newHigh = NetworkOrder.Swap(address.High);
        ulong newLow = NetworkOrder.Swap(address.Low);
        ulong sum = OnesComplement.Delta(NetworkOrder.ReadRaw64(ref ip, offset), newHigh) + OnesComplement.Delta(NetworkOrder.ReadRaw64(ref ip, offset + 8), newLow);
        NetworkOrder.WriteRaw(ref ip, offset, newHigh);
        NetworkOrder.WriteRaw(ref ip, offset + 8, newLow);
        return sum;
    }

    /// <summary>Decrements the TTL / hop limit of the IP header at <paramref name="ip"/>, which holds a whole header of that version, patching the IPv4 header checksum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void DecrementHopLimit(ref byte ip, bool ipv4)
    {
        if (ipv4)
        {
            NetworkOrder.WriteRaw(ref ip, 10, OnesComplement.AfterTtlDecrement(NetworkOrder.ReadRaw16(ref ip, 10)));
            Unsafe.Add(ref ip, 8)--;
        }
        else
        {
            Unsafe.Add(ref ip, 7)--;
        }
    }

    /// <summary>The TTL / hop limit byte of the IP header.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte HopLimit(ReadOnlySpan<byte> ip, int version) => version == 4 ? ip[8] : ip[7];

    /// <summary>The TTL / hop limit byte of the IP header at <paramref name="ip"/>, which the caller has proved to hold a whole header of that version.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte HopLimit(ref byte ip, bool ipv4) => Unsafe.Add(ref ip, ipv4 ? 8 : 7);
}
