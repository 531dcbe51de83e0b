namespace Lvs.Core;

/// <summary>An address with its prefix length (<c>192.0.2.1/24</c>, <c>2001:db8::1/64</c>): an interface address and its connected subnet.</summary>
/// <param name="Address">The address.</param>
/// <param name="PrefixLength">The prefix length (0-32 for IPv4, 0-128 for IPv6).</param>
public readonly record struct InetPrefix(InetAddress Address, int PrefixLength)
{
    /// <summary>Whether an address is in the prefix's subnet (same family, same leading bits).</summary>
    /// <param name="address">The address.</param>
    /// <returns>True when it is.</returns>
    public bool Contains(InetAddress address)
    {
        if (address.IsIPv4 != Address.IsIPv4)
        {
            return false;
        }

        // IPv4 lives in the low 32 bits of the mapped form, so an IPv4 prefix of n bits is a 96 + n bit prefix there.
        int bits = Address.IsIPv4 ? 96 + PrefixLength : PrefixLength;
        ulong highMask = bits >= 64 ? ulong.MaxValue : bits == 0 ? 0 : ulong.MaxValue << (64 - bits);
        ulong lowMask = bits <= 64 ? 0 : bits >= 128 ? ulong.MaxValue : ulong.MaxValue << (128 - bits);
        return ((address.High ^ Address.High) & highMask) == 0 && ((address.Low ^ Address.Low) & lowMask) == 0;
    }

    /// <summary>Parses <c>address/length</c> (a bare address is a host prefix).</summary>
    /// <param name="text">The text.</param>
    /// <param name="prefix">The prefix.</param>
    /// <returns>False when the text is not a prefix.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out InetPrefix prefix)
    {
        prefix = default;
        int slash = text.IndexOf('/');
        var addressText = slash < 0 ? text : text[..slash];
        if (!InetAddress.TryParse(addressText, out var address))
        {
            return false;
        }

        int max = address.IsIPv4 ? 32 : 128;
        int length = max;
        if (slash >= 0 && (!int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out length) || length > max))
        {
            return false;
        }

        prefix = new InetPrefix(address, length);
        return true;
    }

    /// <summary>Parses <c>address/length</c>.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The prefix.</returns>
    /// <exception cref="FormatException">The text is not a prefix.</exception>
    public static InetPrefix Parse(string text) =>
        TryParse(text, out var prefix) ? prefix : throw new FormatException($"'{text}' is not an address/prefix-length.");

    /// <inheritdoc />
    public override string ToString() => $"{Address}/{PrefixLength}";
}
