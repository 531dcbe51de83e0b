using Lvs.Core;

namespace Lvs.Director.Replay;

/// <summary>
/// One of the director's addresses on a simulated link: <c>ADDRESS/PREFIX@MAC</c> (<c>10.77.0.2/24@02:77:00:00:00:02</c>).
/// Several with the same MAC address are one link with several addresses (an IPv4 and an IPv6 one, say).
/// </summary>
/// <param name="Address">The director's address and its connected subnet.</param>
/// <param name="Mac">The link's MAC address.</param>
public sealed record ReplayLink(InetPrefix Address, MacAddress Mac)
{
    /// <summary>Parses <c>ADDRESS/PREFIX@MAC</c>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="link">The link address.</param>
    /// <returns>False when the text is not of that form.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out ReplayLink link)
    {
        link = null!;
        int at = text.IndexOf('@');
        if (at < 0 || text[..at].IndexOf('/') < 0
            || !InetPrefix.TryParse(text[..at], out var prefix)
            || !MacAddress.TryParse(text[(at + 1)..], out var mac))
        {
            return false;
        }

        link = new ReplayLink(prefix, mac);
        return true;
    }

    /// <summary>Parses <c>ADDRESS/PREFIX@MAC</c>.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The link address.</returns>
    /// <exception cref="FormatException">The text is not of that form.</exception>
    public static ReplayLink Parse(string text) =>
        TryParse(text, out var link) ? link : throw new FormatException($"'{text}' is not ADDRESS/PREFIX@MAC (for example 10.77.0.2/24@02:77:00:00:00:02).");

    /// <inheritdoc />
    public override string ToString() => $"{Address}@{Mac}";
}

/// <summary>A neighbour given explicitly instead of resolved by ARP or neighbour discovery: <c>IP=MAC</c>.</summary>
/// <param name="Address">The neighbour's address.</param>
/// <param name="Mac">Its MAC address.</param>
public sealed record ReplayNeighbor(InetAddress Address, MacAddress Mac)
{
    /// <summary>Parses <c>IP=MAC</c>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="neighbor">The neighbour.</param>
    /// <returns>False when the text is not of that form.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out ReplayNeighbor neighbor)
    {
        neighbor = null!;
        int equals = text.IndexOf('=');
        if (equals < 0 || !InetAddress.TryParse(text[..equals], out var address) || !MacAddress.TryParse(text[(equals + 1)..], out var mac))
        {
            return false;
        }

        neighbor = new ReplayNeighbor(address, mac);
        return true;
    }

    /// <summary>Parses <c>IP=MAC</c>.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The neighbour.</returns>
    /// <exception cref="FormatException">The text is not of that form.</exception>
    public static ReplayNeighbor Parse(string text) =>
        TryParse(text, out var neighbor) ? neighbor : throw new FormatException($"'{text}' is not IP=MAC (for example 10.77.1.11=02:77:00:00:01:0b).");

    /// <inheritdoc />
    public override string ToString() => $"{Address}={Mac}";
}
