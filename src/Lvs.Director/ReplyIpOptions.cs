using System.Buffers.Binary;

namespace Lvs.Director;

/// <summary>
/// The IPv4 options of the director's answer to an echo or timestamp request, byte for byte as the kernel's host writes
/// them: the request's options as <c>ip_options_compile</c> leaves them on input (the host's address and timestamp
/// recorded, a full timestamp option's overflow counted), then <c>ip_options_rcv_srr</c> for a source route, turned
/// into the reply's by <c>ip_options_echo</c> (record route and timestamp copied with room taken for the host's entry,
/// the source route reversed, the rest dropped, padded to a multiple of 4 with end-of-list bytes) and completed by
/// <c>ip_options_build</c> when the reply is sent (the reply's source address and timestamp written in that room).
/// All in net/ipv4/ip_options.c. The reply's options are never longer than the request's: each option the reply
/// carries is at most as long as the request's, and the request's option area is already a multiple of 4.
/// </summary>
internal static class ReplyIpOptions
{
    /// <summary>The most option bytes an IPv4 header holds (IHL 15).</summary>
    public const int MaxLength = 40;

    private const byte End = 0;
    private const byte Noop = 1;
    private const byte RecordRoute = 7;
    private const byte Timestamp = 68;
    private const byte LooseSourceRoute = 131;
    private const byte Cipso = 134;
    private const byte StrictSourceRoute = 137;
    private const byte RouterAlert = 148;

    // The timestamp option's flags (low nibble of its fourth byte), RFC 791.
    private const int TimestampsOnly = 0;
    private const int AddressesAndTimestamps = 1;
    private const int Prespecified = 3;

    /// <summary>
    /// Writes the options of the reply to a request. False when the kernel would drop the request unanswered: options
    /// <c>ip_options_compile</c> rejects (it sends a parameter problem, which the director does not), a CIPSO option
    /// (a host without a CIPSO DOI configured rejects every one, <c>cipso_v4_validate</c>), a source route when
    /// <paramref name="acceptSourceRoute"/> is off (<c>accept_source_route</c>, off in the kernel's <c>all</c>
    /// defaults) or whose next hop is not one of the director's addresses (the kernel forwards such a packet;
    /// the director does not forward source-routed packets), or options <c>ip_options_echo</c> refuses.
    /// </summary>
    /// <param name="request">The request's option bytes (its IPv4 header after the first 20 bytes).</param>
    /// <param name="reply">Where the reply's options go: at least <see cref="MaxLength"/> bytes, cleared by the caller.</param>
    /// <param name="host">Which addresses are the director's (the kernel's <c>RTN_LOCAL</c>) and which are broadcast.</param>
    /// <param name="timestamp">The host's clock: milliseconds since midnight UT (<c>inet_current_timestamp</c>).</param>
    /// <param name="acceptSourceRoute">Whether a source-routed request is answered.</param>
    /// <param name="source">The request's source; on return, the reply's source (the request's destination, or the last of the source route's hops that are the director's).</param>
    /// <param name="destination">The request's destination; on return, the reply's destination (the request's source, or the first hop of the reversed source route).</param>
    /// <param name="length">The reply's option length, a multiple of 4 no larger than <paramref name="request"/>'s.</param>
    /// <param name="received">
    /// When not empty (at least as long as <paramref name="request"/>): receives the request's options as the host's
    /// input processing left them in the received header (<c>ip_options_compile</c> records there), which an ICMP error
    /// quotes.
    /// </param>
    /// <returns>False to drop the request.</returns>
    public static bool TryWrite(
        ReadOnlySpan<byte> request, Span<byte> reply, in HostAddresses host, uint timestamp, bool acceptSourceRoute,
        ref uint source, ref uint destination, out int length, Span<byte> received = default)
    {
        length = 0;
        if (request.Length > MaxLength || reply.Length < MaxLength)
        {
            return false;
        }

        // ip_rcv_options works on the received header itself: ip_options_compile records the host's address and
        // timestamp there, and ip_options_echo copies what it left.
        Span<byte> s = stackalloc byte[MaxLength];
        request.CopyTo(s);
        s = s[..request.Length];
        uint requestSource = source;
        uint localAddress = destination; // fib_compute_spec_dst: the address a packet for the host was sent to.
        if (!TryCompile(s, host, localAddress, timestamp, out var found))
        {
            return false;
        }

        if (!received.IsEmpty)
        {
            s.CopyTo(received);
        }

        if (found.SourceRoute >= 0 && (!acceptSourceRoute || !TryReceiveSourceRoute(s[found.SourceRoute..], host, ref localAddress)))
        {
            return false;
        }

        uint replyDestination = requestSource;
        if (!TryEcho(s, found, host, requestSource, reply, out var echoed, ref replyDestination, out length))
        {
            return false;
        }

        Build(reply, echoed, requestSource, localAddress, timestamp);
        source = localAddress;
        destination = replyDestination;
        return true;
    }

    /// <summary>What <c>struct ip_options</c> records: each option's offset in the option bytes (-1 when absent) and what the host adds.</summary>
    private struct Compiled
    {
        public int RecordRoute;
        public int Timestamp;
        public int SourceRoute;
        public bool RecordRouteNeedsAddress;
        public bool TimestampNeedsAddress;
        public bool TimestampNeedsTime;

        public static Compiled None => new() { RecordRoute = -1, Timestamp = -1, SourceRoute = -1 };
    }

    /// <summary>
    /// <c>__ip_options_compile</c> on a received packet for the host (<c>skb</c> and its route set): validates the
    /// options and, as the kernel does in the received header, records the host's address (<paramref name="local"/>)
    /// and <paramref name="timestamp"/> where record route and timestamp options have room, and counts a full
    /// timestamp option's overflow. After an end-of-list byte, the rest becomes end-of-list bytes.
    /// </summary>
    private static bool TryCompile(Span<byte> s, in HostAddresses host, uint local, uint timestamp, out Compiled found)
    {
        found = Compiled.None;
        int i = 0;
        for (int l = s.Length; l > 0;)
        {
            switch (s[i])
            {
                case End:
                    s[(i + 1)..].Clear(); // End is 0.
                    return true;
                case Noop:
                    l--;
                    i++;
                    continue;
            }

            if (l < 2)
            {
                return false;
            }

            int optlen = s[i + 1];
            if (optlen < 2 || optlen > l)
            {
                return false;
            }

            var option = s.Slice(i, optlen);
            switch (option[0])
            {
                case StrictSourceRoute:
                case LooseSourceRoute:
                    if (optlen < 3 || option[2] < 4 || found.SourceRoute >= 0)
                    {
                        return false;
                    }

                    found.SourceRoute = i;
                    break;
                case RecordRoute:
                    if (found.RecordRoute >= 0 || optlen < 3 || option[2] < 4)
                    {
                        return false;
                    }

                    if (option[2] <= optlen)
                    {
                        if (option[2] + 3 > optlen)
                        {
                            return false;
                        }

                        BinaryPrimitives.WriteUInt32BigEndian(option[(option[2] - 1)..], local);
                        option[2] += 4;
                        found.RecordRouteNeedsAddress = true;
                    }

                    found.RecordRoute = i;
                    break;
                case Timestamp:
                    if (found.Timestamp >= 0 || optlen < 4 || option[2] < 5)
                    {
                        return false;
                    }

                    if (!TryCompileTimestamp(option, host, local, timestamp, ref found))
                    {
                        return false;
                    }

                    found.Timestamp = i;
                    break;
                case RouterAlert:
                    if (optlen < 4)
                    {
                        return false;
                    }

                    break;
                case Cipso:
                    return false;
                default:
                    // Security, stream identifier and unknown options pass on a received packet, and are not echoed.
                    break;
            }

            l -= optlen;
            i += optlen;
        }

        return true;
    }

    /// <summary>The timestamp case of <c>__ip_options_compile</c> (<paramref name="option"/> is the whole option).</summary>
    private static bool TryCompileTimestamp(Span<byte> option, in HostAddresses host, uint local, uint timestamp, ref Compiled found)
    {
        int optlen = option.Length;
        int pointer = option[2];
        if (pointer <= optlen)
        {
            if (pointer + 3 > optlen)
            {
                return false;
            }

            switch (option[3] & 0xF)
            {
                case TimestampsOnly:
                    BinaryPrimitives.WriteUInt32BigEndian(option[(pointer - 1)..], timestamp);
                    found.TimestampNeedsTime = true;
                    option[2] += 4;
                    break;
                case AddressesAndTimestamps:
                    if (pointer + 7 > optlen)
                    {
                        return false;
                    }

                    BinaryPrimitives.WriteUInt32BigEndian(option[(pointer - 1)..], local);
                    BinaryPrimitives.WriteUInt32BigEndian(option[(pointer + 3)..], timestamp);
                    found.TimestampNeedsAddress = true;
                    found.TimestampNeedsTime = true;
                    option[2] += 8;
                    break;
                case Prespecified:
                    if (pointer + 7 > optlen)
                    {
                        return false;
                    }

                    // Only an entry that names the host (inet_addr_type not RTN_UNICAST) takes its timestamp.
                    if (host.IsUnicast(BinaryPrimitives.ReadUInt32BigEndian(option[(pointer - 1)..])))
                    {
                        break;
                    }

                    BinaryPrimitives.WriteUInt32BigEndian(option[(pointer + 3)..], timestamp);
                    found.TimestampNeedsTime = true;
                    option[2] += 8;
                    break;
                default:
                    // Other flags pass on a received packet unchanged.
                    break;
            }
        }
        else if ((option[3] & 0xF) != Prespecified)
        {
            // A full option: the host counts itself in the overflow nibble; a sixteenth overflow is an error.
            int overflow = option[3] >> 4;
            if (overflow == 15)
            {
                return false;
            }

            option[3] = (byte)((option[3] & 0xF) | ((overflow + 1) << 4));
        }

        return true;
    }

    /// <summary>
    /// <c>ip_options_rcv_srr</c> for a packet routed to the host: each hop left in the route must be one of the
    /// director's addresses (the kernel's "superfast loopback", which makes it the packet's destination without moving
    /// the pointer); a hop that is not would be forwarded by the kernel (<c>srr_is_hit</c>), and a hop with no room
    /// for its address is an error. <paramref name="local"/> becomes the last hop, the address the reply comes from.
    /// </summary>
    private static bool TryReceiveSourceRoute(ReadOnlySpan<byte> option, in HostAddresses host, ref uint local)
    {
        int space = option[1];
        for (int pointer = option[2]; pointer <= space; pointer += 4)
        {
            if (pointer + 3 > space)
            {
                return false;
            }

            uint hop = BinaryPrimitives.ReadUInt32BigEndian(option[(pointer - 1)..]);
            if (!host.IsLocal(hop))
            {
                return false;
            }

            local = hop;
        }

        return true;
    }

    /// <summary>What <c>ip_options_echo</c> leaves for <c>ip_options_build</c>: offsets in the reply's options (-1 when absent) and what to add there.</summary>
    private struct Echoed
    {
        public int RecordRoute;
        public int Timestamp;
        public int SourceRoute;
        public bool RecordRouteNeedsAddress;
        public bool TimestampNeedsAddress;
        public bool TimestampNeedsTime;
    }

    /// <summary>
    /// <c>__ip_options_echo</c>: record route, timestamp, reversed source route, in that order whatever the request's,
    /// then end-of-list bytes to a multiple of 4. The router alert and the options the kernel does not know are not
    /// echoed, nor are no-operation bytes.
    /// </summary>
    private static bool TryEcho(ReadOnlySpan<byte> s, in Compiled found, in HostAddresses host, uint requestSource, Span<byte> d, out Echoed echoed, ref uint replyDestination, out int length)
    {
        echoed = new Echoed { RecordRoute = -1, Timestamp = -1, SourceRoute = -1 };
        int n = 0;
        if (found.RecordRoute >= 0)
        {
            var option = s[found.RecordRoute..];
            int optlen = option[1];
            int soffset = option[2];
            echoed.RecordRoute = n;
            option[..optlen].CopyTo(d[n..]);
            if (found.RecordRouteNeedsAddress && soffset <= optlen)
            {
                if (soffset + 3 > optlen)
                {
                    length = 0;
                    return false;
                }

                d[n + 2] = (byte)(soffset + 4);
                echoed.RecordRouteNeedsAddress = true;
            }

            n += optlen;
        }

        if (found.Timestamp >= 0)
        {
            var option = s[found.Timestamp..];
            int optlen = option[1];
            int soffset = option[2];
            echoed.Timestamp = n;
            option[..optlen].CopyTo(d[n..]);
            if (soffset <= optlen)
            {
                if (found.TimestampNeedsAddress)
                {
                    if (soffset + 3 > optlen)
                    {
                        length = 0;
                        return false;
                    }

                    echoed.TimestampNeedsAddress = true;
                    soffset += 4;
                }

                if (found.TimestampNeedsTime)
                {
                    if (soffset + 3 > optlen)
                    {
                        length = 0;
                        return false;
                    }

                    if ((d[n + 3] & 0xF) != Prespecified)
                    {
                        echoed.TimestampNeedsTime = true;
                        soffset += 4;
                    }
                    else if (soffset + 7 <= optlen && !host.IsUnicast(BinaryPrimitives.ReadUInt32BigEndian(d[(n + soffset - 1)..])))
                    {
                        echoed.TimestampNeedsTime = true;
                        soffset += 8;
                    }
                }

                d[n + 2] = (byte)soffset;
            }

            n += optlen;
        }

        if (found.SourceRoute >= 0)
        {
            var start = s[found.SourceRoute..];
            int optlen = start[1];
            int soffset = start[2];
            int doffset = 0;
            uint faddr = 0;
            if (soffset > optlen)
            {
                soffset = optlen + 1;
            }

            soffset -= 4;
            if (soffset > 3)
            {
                // The last hop recorded becomes the reply's first; the others follow in reverse order.
                faddr = BinaryPrimitives.ReadUInt32BigEndian(start[(soffset - 1)..]);
                for (soffset -= 4, doffset = 4; soffset > 3; soffset -= 4, doffset += 4)
                {
                    start.Slice(soffset - 1, 4).CopyTo(d[(n + doffset - 1)..]);
                }

                // RFC 1812 section 5.2.4.1: a route that starts with the sender itself is fixed by leaving it out.
                if (BinaryPrimitives.ReadUInt32BigEndian(start[(soffset + 3)..]) == requestSource)
                {
                    doffset -= 4;
                }
            }

            if (doffset > 3)
            {
                replyDestination = faddr;
                d[n] = start[0];
                d[n + 1] = (byte)(doffset + 3);
                d[n + 2] = 4;
                echoed.SourceRoute = n;
                n += doffset + 3;
            }
        }

        while ((n & 3) != 0)
        {
            d[n++] = End;
        }

        length = n;
        return true;
    }

    /// <summary>
    /// <c>ip_options_build</c> for the reply: the final destination (the request's source) in the source route's last
    /// slot, the reply's source address where record route and timestamp took room for it, and the timestamp.
    /// </summary>
    private static void Build(Span<byte> d, in Echoed echoed, uint finalDestination, uint replySource, uint timestamp)
    {
        if (echoed.SourceRoute >= 0)
        {
            BinaryPrimitives.WriteUInt32BigEndian(d[(echoed.SourceRoute + d[echoed.SourceRoute + 1] - 4)..], finalDestination);
        }

        if (echoed.RecordRouteNeedsAddress)
        {
            BinaryPrimitives.WriteUInt32BigEndian(d[(echoed.RecordRoute + d[echoed.RecordRoute + 2] - 5)..], replySource);
        }

        if (echoed.TimestampNeedsAddress)
        {
            BinaryPrimitives.WriteUInt32BigEndian(d[(echoed.Timestamp + d[echoed.Timestamp + 2] - 9)..], replySource);
        }

        if (echoed.TimestampNeedsTime)
        {
            BinaryPrimitives.WriteUInt32BigEndian(d[(echoed.Timestamp + d[echoed.Timestamp + 2] - 5)..], timestamp);
        }
    }
}
