using System.Diagnostics.CodeAnalysis;

namespace Lvs.Core;

/// <summary>An address and a port, as a value type (the hot-path form of <see cref="System.Net.IPEndPoint"/>).</summary>
/// <param name="Address">The IPv4 or IPv6 address.</param>
/// <param name="Port">The port in host order; 0 where the protocol has no ports.</param>
public readonly record struct InetEndpoint(InetAddress Address, ushort Port) : ISpanFormattable
{
    /// <summary>Parses <c>a.b.c.d:port</c> or <c>[v6]:port</c>, the forms ipvsadm prints and reads.</summary>
    /// <param name="text">The endpoint text.</param>
    /// <returns>The endpoint.</returns>
    /// <exception cref="FormatException">The text is not an endpoint.</exception>
    public static InetEndpoint Parse(ReadOnlySpan<char> text) =>
        TryParse(text, out var endpoint) ? endpoint : throw new FormatException($"'{text}' is not ADDRESS:PORT or [ADDRESS]:PORT.");

    /// <summary>Parses <c>a.b.c.d:port</c> or <c>[v6]:port</c>.</summary>
    /// <param name="text">The endpoint text.</param>
    /// <param name="endpoint">The endpoint, when valid.</param>
    /// <returns>True when the text is an endpoint.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out InetEndpoint endpoint)
    {
        endpoint = default;
        ReadOnlySpan<char> addressText;
        ReadOnlySpan<char> portText;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']');
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                return false;
            }

            addressText = text[1..close];
            portText = text[(close + 2)..];
        }
        else
        {
            int colon = text.LastIndexOf(':');
            if (colon < 0 || text[..colon].Contains(':'))
            {
                return false;
            }

            addressText = text[..colon];
            portText = text[(colon + 1)..];
        }

        if (!InetAddress.TryParse(addressText, out var address)
            || portText.IsEmpty
            || !ushort.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ushort port))
        {
            return false;
        }

        endpoint = new InetEndpoint(address, port);
        return true;
    }

    /// <summary>Formats as <c>a.b.c.d:port</c> or <c>[v6]:port</c>.</summary>
    /// <returns>The text form.</returns>
    public override string ToString() => Address.IsIPv4 ? $"{Address}:{Port}" : $"[{Address}]:{Port}";

    /// <inheritdoc/>
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc/>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        Address.IsIPv4
            ? destination.TryWrite(provider, $"{Address}:{Port}", out charsWritten)
            : destination.TryWrite(provider, $"[{Address}]:{Port}", out charsWritten);

    /// <summary>Creates an endpoint from a <see cref="System.Net.IPEndPoint"/>.</summary>
    /// <param name="endPoint">The endpoint object.</param>
    /// <returns>The value form.</returns>
    [SuppressMessage("Naming", "CA1720", Justification = "Mirrors System.Net naming.")]
    public static InetEndpoint FromIPEndPoint(System.Net.IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        return new InetEndpoint(InetAddress.FromIPAddress(endPoint.Address), checked((ushort)endPoint.Port));
    }

    /// <summary>Converts to a new <see cref="System.Net.IPEndPoint"/> (allocates; for the edges).</summary>
    /// <returns>The endpoint object.</returns>
    public System.Net.IPEndPoint ToIPEndPoint() => new(Address.ToIPAddress(), Port);
}
