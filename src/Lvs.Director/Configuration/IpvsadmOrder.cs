using Lvs.Core;

namespace Lvs.Director.Configuration;

/// <summary>
/// ipvsadm's sort order (libipvs <c>ipvs_cmp_services</c>, <c>ipvs_cmp_dests</c>) and glibc's <c>qsort</c> (a stable
/// top-down merge sort). The comparisons subtract unsigned values and read the result as a signed int, as the C code
/// does, so addresses more than 2^31 apart compare "wrapped" (10.0.0.1 after 200.0.0.1) exactly as ipvsadm prints them.
/// </summary>
internal static class IpvsadmOrder
{
    private const int AfInet = 2;
    private const int AfInet6 = 10;
    private const int IpProtoTcp = 6;

    public static int CompareServices(VirtualServiceKey s1, VirtualServiceKey s2)
    {
        int r = unchecked((int)(s1.FirewallMark - s2.FirewallMark));
        if (r != 0)
        {
            return r;
        }

        int af1 = s1.IsIPv6 ? AfInet6 : AfInet;
        r = af1 - (s2.IsIPv6 ? AfInet6 : AfInet);
        if (r != 0)
        {
            return r;
        }

        // ipvsadm gives firewall-mark services the protocol TCP.
        r = (s1.IsFirewallMark ? IpProtoTcp : (int)s1.Protocol) - (s2.IsFirewallMark ? IpProtoTcp : (int)s2.Protocol);
        if (r != 0)
        {
            return r;
        }

        r = CompareAddresses(af1 == AfInet6, s1.Endpoint.Address, s2.Endpoint.Address);
        return r != 0 ? r : s1.Endpoint.Port - s2.Endpoint.Port;
    }

    public static int CompareDestinations(InetEndpoint d1, InetEndpoint d2)
    {
        int r = CompareAddresses(d1.Address.IsIPv6, d1.Address, d2.Address);
        return r != 0 ? r : d1.Port - d2.Port;
    }

    /// <summary>glibc's <c>msort_with_tmp</c>: split in halves (the first n/2), sort each, merge taking the left on ties.</summary>
    public static T[] Sort<T>(IEnumerable<T> items, Comparison<T> compare)
    {
        T[] array = [.. items];
        var temp = new T[array.Length];
        Sort(array, temp, 0, array.Length, compare);
        return array;
    }

    private static void Sort<T>(T[] array, T[] temp, int start, int count, Comparison<T> compare)
    {
        if (count <= 1)
        {
            return;
        }

        int n1 = count / 2;
        int n2 = count - n1;
        Sort(array, temp, start, n1, compare);
        Sort(array, temp, start + n1, n2, compare);
        int i = start, j = start + n1, k = 0;
        int end1 = start + n1, end2 = start + count;
        while (i < end1 && j < end2)
        {
            temp[k++] = compare(array[i], array[j]) <= 0 ? array[i++] : array[j++];
        }

        while (i < end1)
        {
            temp[k++] = array[i++];
        }

        Array.Copy(temp, 0, array, start, k);
    }

    private static int CompareAddresses(bool ipv6, InetAddress a1, InetAddress a2)
    {
        if (!ipv6)
        {
            return unchecked((int)(Word(a1, 0) - Word(a2, 0)));
        }

        int r = 0;
        for (int i = 0; r == 0 && i < 4; i++)
        {
            r = unchecked((int)(Word(a1, i) - Word(a2, i)));
        }

        return r;
    }

    // The address as the kernel's union nf_inet_addr: IPv4 in the first 32-bit word, the rest zero.
    private static uint Word(InetAddress address, int index)
    {
        if (address.IsIPv4)
        {
            return index == 0 ? address.IPv4Value : 0;
        }

        return index switch
        {
            0 => (uint)(address.High >> 32),
            1 => (uint)address.High,
            2 => (uint)(address.Low >> 32),
            _ => (uint)address.Low,
        };
    }
}
