using System.Buffers.Binary;
using System.Globalization;
using Lvs.Core;

namespace Lvs.Director.Ftp;

/// <summary>What a control connection's client asked for last: the kernel's <c>app_data</c> of <c>ip_vs_ftp</c>.</summary>
internal enum FtpPassiveMode : byte
{
    /// <summary>Nothing pending (<c>IP_VS_FTP_ACTIVE</c>).</summary>
    None,

    /// <summary>PASV: the server's next 227 reply names the data endpoint.</summary>
    Pasv,

    /// <summary>EPSV: the server's next 229 reply names the data port.</summary>
    Epsv,
}

/// <summary>
/// The FTP commands and replies the helper reads on a control connection, as <c>ip_vs_ftp.c</c> reads them: the
/// client's PASV and EPSV (anywhere in a segment), PORT and EPRT (at its start), and the server's 227 and 229 replies
/// (at its start). The address and port text is parsed as <c>ip_vs_ftp_get_addrport</c> does, byte arithmetic
/// included, and its place in the payload returned so the helper can replace it.
/// </summary>
internal static class FtpMessages
{
    /// <summary>The client asked for passive mode (the kernel scans the whole segment; PASV is for IPv4 only).</summary>
    /// <param name="payload">The TCP payload.</param>
    /// <param name="ipv4">Whether the control connection is IPv4.</param>
    /// <param name="mode">PASV or EPSV when found.</param>
    /// <returns>True when the scan ended the segment's inspection: a PASV or EPSV for this family was found, or an
    /// EPSV for another family (then <paramref name="mode"/> is <see cref="FtpPassiveMode.None"/> and nothing else is read).</returns>
    public static bool TryPassiveCommand(ReadOnlySpan<byte> payload, bool ipv4, out FtpPassiveMode mode)
    {
        mode = FtpPassiveMode.None;
        for (int i = 0; i <= payload.Length - 6; i++)
        {
            var at = payload[i..];
            if (ipv4 && StartsWithIgnoreCase(at, "PASV\r\n"u8))
            {
                mode = FtpPassiveMode.Pasv;
                return true;
            }

            // EPSV, EPSV<space><net-prt>
            if (StartsWithIgnoreCase(at, "EPSV"u8) && (at[4] == ' ' || at[4] == '\r'))
            {
                if (at[4] == ' ')
                {
                    if (at.Length < 7 || at[6] != '\r' || !(ipv4 ? at[5] == '1' : at[5] == '2'))
                    {
                        return true;
                    }
                }

                mode = FtpPassiveMode.Epsv;
                return true;
            }
        }

        return false;
    }

    /// <summary>A PORT (IPv4) or EPRT command at the start of the payload: the client's data endpoint.</summary>
    public static bool TryActiveCommand(ReadOnlySpan<byte> payload, bool ipv4, out InetEndpoint endpoint)
    {
        if (ipv4 && TryAddressPort(payload, "PORT"u8, (byte)' ', extended: false, epsv: false, ipv4, default, out endpoint, out _, out _))
        {
            return true;
        }

        return TryAddressPort(payload, "EPRT"u8, (byte)' ', extended: true, epsv: false, ipv4, default, out endpoint, out _, out _);
    }

    /// <summary>
    /// The server's reply to the pending PASV (227, <c>(a,b,c,d,p1,p2)</c>) or EPSV (229, <c>(|||port|)</c>, the
    /// address <paramref name="server"/>'s unless given): the data endpoint and where its text lies in the payload.
    /// </summary>
    public static bool TryPassiveReply(ReadOnlySpan<byte> payload, FtpPassiveMode mode, bool ipv4, InetAddress server, out InetEndpoint endpoint, out int start, out int end) =>
        mode == FtpPassiveMode.Pasv
            ? TryAddressPort(payload, "227 "u8, (byte)'(', extended: false, epsv: false, ipv4, server, out endpoint, out start, out end)
            : TryAddressPort(payload, "229 "u8, (byte)'(', extended: true, epsv: true, ipv4, server, out endpoint, out start, out end);

    /// <summary>The longest text <see cref="WritePassiveText"/> writes: <c>255,255,255,255,255,255</c>.</summary>
    public const int MaxPassiveTextLength = 23;

    /// <summary>
    /// Writes the text that replaces a passive reply's: the VIP and port in 227's comma form, or 229's <c>|||port|</c>.
    /// </summary>
    /// <returns>How many bytes it wrote (at most <see cref="MaxPassiveTextLength"/>).</returns>
    public static int WritePassiveText(Span<byte> destination, FtpPassiveMode mode, InetEndpoint virtualEndpoint)
    {
        int n = 0;
        if (mode == FtpPassiveMode.Epsv)
        {
            "|||"u8.CopyTo(destination);
            n = 3;
            n += Number(destination[n..], virtualEndpoint.Port);
            destination[n++] = (byte)'|';
            return n;
        }

        uint address = virtualEndpoint.Address.IPv4Value;
        ReadOnlySpan<uint> parts = [address >> 24, (address >> 16) & 0xFF, (address >> 8) & 0xFF, address & 0xFF, (uint)virtualEndpoint.Port >> 8, (uint)virtualEndpoint.Port & 0xFF];
        for (int i = 0; i < parts.Length; i++)
        {
            if (i > 0)
            {
                destination[n++] = (byte)',';
            }

            n += Number(destination[n..], parts[i]);
        }

        return n;
    }

    private static int Number(Span<byte> destination, uint value)
    {
        _ = value.TryFormat(destination, out int written, default, CultureInfo.InvariantCulture);
        return written;
    }

    // The longest address text read: an IPv6 address with an embedded IPv4 one (in6_pton reads no more either).
    private const int MaxAddressText = 45;

    /// <summary>The kernel's <c>ip_vs_ftp_get_addrport</c>: true only for its result 1 (a whole match).</summary>
    private static bool TryAddressPort(
        ReadOnlySpan<byte> data, ReadOnlySpan<byte> pattern, byte skip, bool extended, bool epsv, bool ipv4, InetAddress preset,
        out InetEndpoint endpoint, out int start, out int end)
    {
        endpoint = default;
        start = end = 0;
        if (data.Length < pattern.Length || !StartsWithIgnoreCase(data, pattern))
        {
            return false;
        }

        int s = pattern.Length;
        bool found = false;
        for (; ; s++)
        {
            if (s == data.Length)
            {
                return false;
            }

            if (!found)
            {
                // "(" is optional for the old format: its first digit starts the address.
                if (!extended && IsDigit(data[s]))
                {
                    break;
                }

                if (data[s] == skip)
                {
                    found = true;
                }
            }
            else if (data[s] != skip)
            {
                break;
            }
        }

        if (!extended)
        {
            Span<byte> p = stackalloc byte[6];
            p.Clear();
            int i = 0;
            int d = s;
            for (; ; d++)
            {
                if (d == data.Length)
                {
                    return false;
                }

                byte c = data[d];
                if (IsDigit(c))
                {
                    p[i] = unchecked((byte)((p[i] * 10) + c - '0'));
                }
                else if (c == ',' && i < 5)
                {
                    i++;
                }
                else
                {
                    break;
                }
            }

            if (i != 5)
            {
                return false;
            }

            start = s;
            end = d;
            endpoint = new InetEndpoint(InetAddress.FromIPv4(p[0], p[1], p[2], p[3]), BinaryPrimitives.ReadUInt16BigEndian(p[4..]));
            return true;
        }

        start = s;
        byte delimiter = data[s++];
        if (delimiter < 33 || delimiter > 126 || s == data.Length)
        {
            return false;
        }

        InetAddress address = preset;
        if (data[s] == delimiter)
        {
            // The address family is usually missing from an EPSV reply, and then the address too.
            if (!epsv || ++s == data.Length || data[s] != delimiter)
            {
                return false;
            }

            s++;
        }
        else
        {
            if (data[s] != (ipv4 ? '1' : '2') || ++s == data.Length || data[s] != delimiter || ++s == data.Length)
            {
                return false;
            }

            int close = data[s..].IndexOf(delimiter);
            if (close < 0 || close > MaxAddressText)
            {
                return false;
            }

            Span<char> text = stackalloc char[close];
            for (int i = 0; i < close; i++)
            {
                text[i] = (char)data[s + i];
            }

            if (!InetAddress.TryParse(text, out address) || address.IsIPv4 != ipv4)
            {
                return false;
            }

            s += close + 1;
        }

        ushort port = 0;
        for (; ; s++)
        {
            if (s == data.Length)
            {
                return false;
            }

            if (!IsDigit(data[s]))
            {
                break;
            }

            port = unchecked((ushort)((port * 10) + data[s] - '0'));
        }

        if (port == 0 || data[s] != delimiter)
        {
            return false;
        }

        end = s + 1;
        endpoint = new InetEndpoint(address, port);
        return true;
    }

    private static bool IsDigit(byte c) => c is >= (byte)'0' and <= (byte)'9';

    /// <summary>strncasecmp over ASCII.</summary>
    private static bool StartsWithIgnoreCase(ReadOnlySpan<byte> data, ReadOnlySpan<byte> pattern)
    {
        if (data.Length < pattern.Length)
        {
            return false;
        }

        for (int i = 0; i < pattern.Length; i++)
        {
            if (char.ToLowerInvariant((char)data[i]) != char.ToLowerInvariant((char)pattern[i]))
            {
                return false;
            }
        }

        return true;
    }
}
