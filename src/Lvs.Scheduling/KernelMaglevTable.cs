using System.Net.Sockets;
using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// The kernel's own mh table and flow hash (<c>ip_vs_mh.c</c>), for <see cref="SchedulerOptions.MaglevKernelCompatible"/>:
/// a server's offset and skip are <c>hsiphash</c> of (port + folded address) under the two fixed keys of
/// <c>generate_hash_secret</c>, servers take their turns in the service's list order, a client's slot is <c>hsiphash</c>
/// of (offset + port + folded address) modulo the table size, and the fallback rehashes with the offsets
/// <c>ip_vs_mh_get_fallback</c> uses. A director built with it picks the server a kernel director with the same
/// destinations, in the same order, with the same weights, picks.
/// </summary>
internal static class KernelMaglevTable
{
    /// <summary>The kernel's default table size (<c>CONFIG_IP_VS_MH_TAB_INDEX</c> 12).</summary>
    public const int DefaultSize = 4093;

    /// <summary><c>hash1</c>'s key words (<c>generate_hash_secret</c>): offsets and flow slots.</summary>
    private const ulong OffsetKey = 2654435761UL;

    /// <summary><c>hash2</c>'s key words: skips.</summary>
    private const ulong SkipKey = 2654446892UL;

    /// <summary>The table sizes a kernel can be built with (<c>primes[]</c>, <c>CONFIG_IP_VS_MH_TAB_INDEX</c> 8 to 17).</summary>
    public static ReadOnlySpan<int> Sizes => [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071];

    /// <summary>The kernel's <c>IP_VS_MH_TAB_BITS</c> for a table size: <c>CONFIG_IP_VS_MH_TAB_INDEX / 2</c>.</summary>
    /// <param name="size">One of <see cref="Sizes"/>.</param>
    /// <returns>The bits weights are shifted to.</returns>
    public static int TurnBitsFor(int size) => (Sizes.IndexOf(size) + 8) / 2;

    /// <summary>Builds the table from the servers in the service's list order (the kernel's <c>ip_vs_mh_reassign</c>).</summary>
    /// <param name="servers">The servers in list order.</param>
    /// <param name="weights">Their last weights above 0 (the kernel's <c>last_weight</c>).</param>
    /// <param name="size">One of <see cref="Sizes"/>.</param>
    /// <param name="serviceFamily">The service's family, which the kernel folds destination addresses by; unspecified: each destination's own.</param>
    /// <returns>For each slot the index of its server, or an empty array when no server has a weight.</returns>
    public static int[] Build(RealServer[] servers, int[] weights, int size, AddressFamily serviceFamily)
    {
        var offsets = new int[servers.Length];
        var skips = new int[servers.Length];
        for (int i = 0; i < servers.Length; i++)
        {
            // ip_vs_mh_hashkey(svc->af, &dest->addr, dest->port, key, 0) under hash1 and hash2.
            var endpoint = servers[i].Endpoint;
            uint key = unchecked(endpoint.Port + FoldAs(endpoint.Address, serviceFamily));
            offsets[i] = (int)(KernelHsipHash.HashUInt32(key, OffsetKey, OffsetKey) % (uint)size);
            skips[i] = (int)(KernelHsipHash.HashUInt32(key, SkipKey, SkipKey) % (uint)(size - 1)) + 1;
        }

        return MaglevTable.Populate(offsets, skips, weights, size, TurnBitsFor(size));
    }

    /// <summary>A client's slot (<c>ip_vs_mh_get</c>, and with an offset above 0 a step of <c>ip_vs_mh_get_fallback</c>).</summary>
    /// <param name="address">The client's address.</param>
    /// <param name="port">The client's port with mh-port, else 0.</param>
    /// <param name="offset">0, or the fallback's rotated offset.</param>
    /// <param name="size">The table size.</param>
    /// <returns>The slot.</returns>
    public static int Slot(InetAddress address, ushort port, uint offset, int size) =>
        (int)(Hash(address, port, offset, OffsetKey) % (uint)size);

    /// <summary>
    /// <c>ip_vs_mh_hashkey</c>: <c>hsiphash</c> of the 32-bit sum of the offset, the port and the address folded to 32
    /// bits (an IPv6 address's four words XORed), in host order, under a key whose two words are equal.
    /// </summary>
    private static uint Hash(InetAddress address, ushort port, uint offset, ulong key) =>
        KernelHsipHash.HashUInt32(unchecked(offset + port + FoldAs(address, AddressFamily.Unspecified)), key, key);

    /// <summary>
    /// The address as <c>ip_vs_mh_hashkey</c> folds it for a service of <paramref name="family"/>: an IPv4 service takes
    /// the first 32-bit word of the kernel's <c>nf_inet_addr</c> (an IPv4 address, or an IPv6 one's first word), an IPv6
    /// service the four words XORed (an IPv4 address is its first word, the others 0); unspecified: by the address's own
    /// family. In host order.
    /// </summary>
    private static uint FoldAs(InetAddress address, AddressFamily family)
    {
        if (address.IsIPv4)
        {
            return address.IPv4Value;
        }

        return family == AddressFamily.InterNetwork
            ? (uint)(address.High >> 32)
            : (uint)(address.High >> 32) ^ (uint)address.High ^ (uint)(address.Low >> 32) ^ (uint)address.Low;
    }
}
