using System.Globalization;
using Lvs.Core;

namespace Lvs.Director.Configuration;

/// <content>
/// The part of <see cref="KeepalivedConfigParser"/> that reads virtual_server_group and local_address_group: the groups virtual servers and FULLNAT local addresses name, with their address ranges.
/// </content>
public static partial class KeepalivedConfigParser
{
    /// <content>The parse state's handlers for this part.</content>
    private sealed partial class Context
    {
        private void Group(KeepalivedStatement st)
        {
            if (!Values(st, 1, 1) || !Block(st))
            {
                return;
            }

            if (_groups.ContainsKey(st[1]))
            {
                Error(st, $"virtual_server_group '{st[1]}' is defined twice");
                return;
            }

            var entries = new List<VirtualServiceKeyTemplate>();
            foreach (var entry in st.Block!)
            {
                if (!NoBlock(entry))
                {
                    continue;
                }

                if (entry.Keyword == "fwmark")
                {
                    if (!Values(entry, 1, 2) || !UInt(entry, 1, 1, uint.MaxValue, "fwmark", out long mark))
                    {
                        continue;
                    }

                    bool? v6 = null;
                    if (entry.ValueCount == 2)
                    {
                        if (entry[2] is not ("inet" or "inet6"))
                        {
                            Error(entry, $"address family '{entry[2]}' is not inet or inet6");
                            continue;
                        }

                        v6 = entry[2] == "inet6";
                    }

                    entries.Add(new VirtualServiceKeyTemplate(entry, [], 0, (uint)mark, v6));
                    continue;
                }

                if (entry.ValueCount > 1)
                {
                    Error(entry, "a virtual_server_group entry is 'ADDRESS[-LAST] [PORT]', 'ADDRESS/PREFIX [PORT]' or 'fwmark N [inet|inet6]'");
                    continue;
                }

                if (!AddressRange(entry, out var addresses))
                {
                    continue;
                }

                ushort port = 0;
                if (entry.ValueCount == 1 && !Port(entry, 1, out port))
                {
                    continue;
                }

                entries.Add(new VirtualServiceKeyTemplate(entry, addresses, port, 0, null));
            }

            if (entries.Count == 0)
            {
                // check_parser.c vsg_handler: "virtual server group %s has no entries - removing".
                Notice(st, $"virtual server group {st[1]} has no entries - removing");
                return;
            }

            _groups[st[1]] = entries;
        }

        /// <summary>A group entry's addresses: <c>A</c>, <c>A-LAST</c> (last byte, or last 16 bits in hex for IPv6), <c>A-B</c>, <c>A/N</c>.</summary>
        private bool AddressRange(KeepalivedStatement st, out List<InetAddress> addresses)
        {
            addresses = [];
            string text = st.Keyword;
            int slash = text.IndexOf('/', StringComparison.Ordinal);
            int dash = text.IndexOf('-', StringComparison.Ordinal);
            if (slash > 0)
            {
                if (!InetPrefix.TryParse(text, out var prefix))
                {
                    Error(st, $"'{text}' is not an address prefix");
                    return false;
                }

                int bits = (prefix.Address.IsIPv4 ? 32 : 128) - prefix.PrefixLength;
                if (bits > 16)
                {
                    Error(st, $"'{text}' holds more than {MaxGroupAddresses} addresses");
                    return false;
                }

                var first = Network(prefix.Address, prefix.PrefixLength);
                for (int i = 0; i < 1 << bits; i++)
                {
                    addresses.Add(Add(first, (uint)i));
                }

                return true;
            }

            string start = dash > 0 ? text[..dash] : text;
            if (!InetAddress.TryParse(start, out var low))
            {
                Error(st, $"'{start}' is not a numeric IP address (host names are not resolved)");
                return false;
            }

            if (dash < 0)
            {
                addresses.Add(low);
                return true;
            }

            string end = text[(dash + 1)..];
            InetAddress high;
            if (InetAddress.TryParse(end, out var full) && (end.Contains('.', StringComparison.Ordinal) || end.Contains(':', StringComparison.Ordinal)))
            {
                high = full;
            }
            else if (low.IsIPv4 && byte.TryParse(end, NumberStyles.None, CultureInfo.InvariantCulture, out byte last))
            {
                high = InetAddress.FromIPv4((low.IPv4Value & 0xffffff00u) | last);
            }
            else if (low.IsIPv6 && ushort.TryParse(end, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort group))
            {
                high = ReplaceLow16(low, group);
            }
            else
            {
                Error(st, $"'{text}' is not an address range");
                return false;
            }

            if (high.IsIPv4 != low.IsIPv4 || high < low)
            {
                Error(st, $"'{text}' is not an address range (the end is below the start)");
                return false;
            }

            for (var a = low; ; a = Add(a, 1))
            {
                addresses.Add(a);
                if (a == high)
                {
                    break;
                }

                if (addresses.Count >= MaxGroupAddresses)
                {
                    Error(st, $"'{text}' holds more than {MaxGroupAddresses} addresses");
                    return false;
                }
            }

            return true;
        }

        private static InetAddress Add(InetAddress address, uint delta)
        {
            Span<byte> bytes = stackalloc byte[16];
            var ip = address.ToIPAddress();
            ip.TryWriteBytes(bytes, out int written);
            uint carry = delta;
            for (int i = written - 1; i >= 0 && carry != 0; i--)
            {
                uint sum = bytes[i] + (carry & 0xff);
                bytes[i] = (byte)sum;
                carry = (carry >> 8) + (sum >> 8);
            }

            return InetAddress.FromIPAddress(new System.Net.IPAddress(bytes[..written]));
        }

        private static InetAddress Network(InetAddress address, int prefixLength)
        {
            Span<byte> bytes = stackalloc byte[16];
            address.ToIPAddress().TryWriteBytes(bytes, out int written);
            for (int bit = prefixLength; bit < written * 8; bit++)
            {
                bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
            }

            return InetAddress.FromIPAddress(new System.Net.IPAddress(bytes[..written]));
        }

        private static InetAddress ReplaceLow16(InetAddress address, ushort low)
        {
            Span<byte> bytes = stackalloc byte[16];
            address.ToIPAddress().TryWriteBytes(bytes, out _);
            bytes[14] = (byte)(low >> 8);
            bytes[15] = (byte)low;
            return InetAddress.FromIPAddress(new System.Net.IPAddress(bytes));
        }

        private void LocalGroup(KeepalivedStatement st)
        {
            if (!Values(st, 1, 1) || !Block(st))
            {
                return;
            }

            var addresses = new List<InetAddress>();
            foreach (var entry in st.Block!)
            {
                // The forks write "ADDRESS[-LAST] [DEVICE]"; the device is the kernel's business, not the table's.
                if (NoBlock(entry) && AddressRange(entry, out var range))
                {
                    addresses.AddRange(range);
                }
            }

            _localGroups[st[1]] = addresses;
        }
    }
}
