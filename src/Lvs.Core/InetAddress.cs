using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace Lvs.Core;

/// <summary>
/// An IPv4 or IPv6 address as a 16-byte value type: what the hot path uses instead of
/// <see cref="IPAddress"/>, which is a heap object.
/// </summary>
/// <remarks>
/// The address is held as two big-endian 64-bit halves (<see cref="High"/> and <see cref="Low"/>), so
/// comparing, hashing and copying it costs two machine words. An IPv4 address is stored in its
/// IPv4-mapped IPv6 form <c>::ffff:a.b.c.d</c> (RFC 4291 section 2.5.5.2); consequently an IPv6 address
/// that is itself IPv4-mapped is indistinguishable from the IPv4 address and is reported as IPv4. That
/// form never appears as a source or destination on the wire, so the header views never produce it.
/// The default value is the IPv6 unspecified address <c>::</c>.
/// The name follows the kernel's <c>union nf_inet_addr</c> (one type for both families) and keeps clear of
/// <see cref="IPAddress"/> and of ASP.NET Core's <c>Endpoint</c> under implicit usings.
/// </remarks>
public readonly struct InetAddress : IEquatable<InetAddress>, IComparable<InetAddress>, ISpanFormattable
{
    private const ulong MappedPrefix = 0x0000_FFFF_0000_0000UL;

    /// <summary>Creates an address from its two big-endian halves (bytes 0-7 and 8-15 of the IPv6 form).</summary>
    /// <param name="high">Bytes 0 to 7 of the address, most significant first.</param>
    /// <param name="low">Bytes 8 to 15 of the address, most significant first.</param>
    public InetAddress(ulong high, ulong low)
    {
        High = high;
        Low = low;
    }

    /// <summary>Bytes 0 to 7 of the 16-byte form, as a big-endian number.</summary>
    public ulong High { get; }

    /// <summary>Bytes 8 to 15 of the 16-byte form, as a big-endian number.</summary>
    public ulong Low { get; }

    /// <summary>The IPv4 unspecified address 0.0.0.0.</summary>
    public static InetAddress IPv4Any => new(0, MappedPrefix);

    /// <summary>The IPv6 unspecified address ::.</summary>
    public static InetAddress IPv6Any => default;

    /// <summary>True when this is an IPv4 address.</summary>
    /// <remarks>One test of both halves, without a branch: the rewriters check every endpoint's family per packet.</remarks>
    public bool IsIPv4 => (High | ((Low >> 32) ^ (MappedPrefix >> 32))) == 0;

    /// <summary>True when this is an IPv6 address.</summary>
    public bool IsIPv6 => !IsIPv4;

    /// <summary>The address family: <see cref="AddressFamily.InterNetwork"/> or <see cref="AddressFamily.InterNetworkV6"/>.</summary>
    public AddressFamily AddressFamily => IsIPv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;

    /// <summary>The number of bytes of the address on the wire: 4 or 16.</summary>
    public int ByteLength => IsIPv4 ? 4 : 16;

    /// <summary>The IPv4 address as a host-order number (a.b.c.d is a&lt;&lt;24 | b&lt;&lt;16 | c&lt;&lt;8 | d); 0 for IPv6.</summary>
    public uint IPv4Value => IsIPv4 ? (uint)Low : 0u;

    /// <summary>Creates an IPv4 address from its host-order value (a.b.c.d is a&lt;&lt;24 | b&lt;&lt;16 | c&lt;&lt;8 | d).</summary>
    /// <param name="value">The address as a host-order number.</param>
    /// <returns>The IPv4 address.</returns>
    public static InetAddress FromIPv4(uint value) => new(0, MappedPrefix | value);

    /// <summary>Creates an IPv4 address from its four octets.</summary>
    /// <param name="a">First octet.</param>
    /// <param name="b">Second octet.</param>
    /// <param name="c">Third octet.</param>
    /// <param name="d">Fourth octet.</param>
    /// <returns>The IPv4 address a.b.c.d.</returns>
    public static InetAddress FromIPv4(byte a, byte b, byte c, byte d) =>
        FromIPv4((uint)a << 24 | (uint)b << 16 | (uint)c << 8 | d);

    /// <summary>Reads an IPv4 address from 4 bytes in network order.</summary>
    /// <param name="source">At least 4 bytes; only the first 4 are read.</param>
    /// <returns>The address.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The span is shorter than 4 bytes.</exception>
    public static InetAddress ReadIPv4(ReadOnlySpan<byte> source) => FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(source));

    /// <summary>Reads an IPv6 address from 16 bytes in network order.</summary>
    /// <param name="source">At least 16 bytes; only the first 16 are read.</param>
    /// <returns>The address (IPv4-mapped input is reported as IPv4, see the type's remarks).</returns>
    /// <exception cref="ArgumentOutOfRangeException">The span is shorter than 16 bytes.</exception>
    public static InetAddress ReadIPv6(ReadOnlySpan<byte> source) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(source), BinaryPrimitives.ReadUInt64BigEndian(source[8..]));

    /// <summary>Writes the address in network order: 4 bytes for IPv4, 16 for IPv6.</summary>
    /// <param name="destination">At least <see cref="ByteLength"/> bytes.</param>
    /// <returns>The number of bytes written.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The span is too short.</exception>
    public int WriteTo(Span<byte> destination)
    {
        if (IsIPv4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)Low);
            return 4;
        }

        WriteIPv6To(destination);
        return 16;
    }

    /// <summary>Writes the 16-byte IPv6 form (IPv4 as <c>::ffff:a.b.c.d</c>) in network order.</summary>
    /// <param name="destination">At least 16 bytes.</param>
    /// <exception cref="ArgumentOutOfRangeException">The span is too short.</exception>
    public void WriteIPv6To(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Low);
        BinaryPrimitives.WriteUInt64BigEndian(destination, High);
    }

    /// <summary>Converts from <see cref="IPAddress"/>. IPv6 scope ids are not kept.</summary>
    /// <param name="address">An IPv4 or IPv6 address.</param>
    /// <returns>The value form.</returns>
    /// <exception cref="ArgumentException">The address is neither IPv4 nor IPv6.</exception>
    public static InetAddress FromIPAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            _ = address.TryWriteBytes(bytes, out _);
            return ReadIPv4(bytes);
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            _ = address.TryWriteBytes(bytes, out _);
            return ReadIPv6(bytes);
        }

        throw new ArgumentException($"Address family {address.AddressFamily} is not IPv4 or IPv6.", nameof(address));
    }

    /// <summary>Converts to a new <see cref="IPAddress"/> (allocates; for the edges, not the hot path).</summary>
    /// <returns>The address object.</returns>
    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        int length = WriteTo(bytes);
        return new IPAddress(bytes[..length]);
    }

    /// <summary>Parses dotted-quad IPv4 or RFC 4291 IPv6 text.</summary>
    /// <param name="text">The address text.</param>
    /// <returns>The address.</returns>
    /// <exception cref="FormatException">The text is not an address.</exception>
    public static InetAddress Parse(ReadOnlySpan<char> text) =>
        TryParse(text, out var address) ? address : throw new FormatException($"'{text}' is not an IPv4 or IPv6 address.");

    /// <summary>Parses dotted-quad IPv4 or RFC 4291 IPv6 text.</summary>
    /// <param name="text">The address text.</param>
    /// <param name="address">The address, when the text is valid.</param>
    /// <returns>True when the text is an address.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out InetAddress address)
    {
        // IPAddress.TryParse accepts shorthand like "1" or "1.2" (inet_aton forms); configuration must not.
        if (text.IsEmpty || (!text.Contains(':') && text.Count('.') != 3) || text.Contains('%'))
        {
            address = default;
            return false;
        }

        if (IPAddress.TryParse(text, out var parsed))
        {
            address = FromIPAddress(parsed);
            return true;
        }

        address = default;
        return false;
    }

    /// <summary>Returns the address with all bits beyond <paramref name="prefixLength"/> cleared (a network prefix).</summary>
    /// <param name="prefixLength">0-32 for IPv4, 0-128 for IPv6.</param>
    /// <returns>The masked address, of the same family.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The prefix length is out of range for the family.</exception>
    public InetAddress Mask(int prefixLength)
    {
        if (IsIPv4)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 32);
            uint mask = prefixLength == 0 ? 0u : uint.MaxValue << (32 - prefixLength);
            return FromIPv4((uint)Low & mask);
        }

        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 128);
        ulong highMask = prefixLength >= 64 ? ulong.MaxValue : prefixLength == 0 ? 0 : ulong.MaxValue << (64 - prefixLength);
        ulong lowMask = prefixLength <= 64 ? 0 : prefixLength == 128 ? ulong.MaxValue : ulong.MaxValue << (128 - prefixLength);
        return new InetAddress(High & highMask, Low & lowMask);
    }

    /// <summary>Applies an address-shaped mask (for example 255.255.255.0), as ipvsadm's <c>-M</c> netmask does.</summary>
    /// <param name="mask">A mask of the same family.</param>
    /// <returns>This address AND the mask.</returns>
    public InetAddress Mask(InetAddress mask) =>
        IsIPv4 ? FromIPv4((uint)Low & (uint)mask.Low) : new InetAddress(High & mask.High, Low & mask.Low);

    /// <inheritdoc/>
    public bool Equals(InetAddress other) => High == other.High && Low == other.Low;

    /// <inheritdoc/>
    public override bool Equals([NotNullWhen(true)] object? obj) => obj is InetAddress other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(High, Low);

    /// <inheritdoc/>
    public int CompareTo(InetAddress other)
    {
        int c = High.CompareTo(other.High);
        return c != 0 ? c : Low.CompareTo(other.Low);
    }

    /// <summary>Formats as dotted quad (IPv4) or RFC 5952 text (IPv6).</summary>
    /// <returns>The text form.</returns>
    public override string ToString() => ToIPAddress().ToString();

    /// <inheritdoc/>
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc/>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        if (IsIPv4)
        {
            uint v = (uint)Low;
            return destination.TryWrite(provider, $"{v >> 24}.{(v >> 16) & 0xFF}.{(v >> 8) & 0xFF}.{v & 0xFF}", out charsWritten);
        }

        return ToIPAddress().TryFormat(destination, out charsWritten);
    }

    /// <summary>Equality.</summary>
    /// <param name="left">Left operand.</param>
    /// <param name="right">Right operand.</param>
    /// <returns>True when equal.</returns>
    public static bool operator ==(InetAddress left, InetAddress right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    /// <param name="left">Left operand.</param>
    /// <param name="right">Right operand.</param>
    /// <returns>True when different.</returns>
    public static bool operator !=(InetAddress left, InetAddress right) => !left.Equals(right);

    /// <summary>Ordering (numeric, IPv4 before most IPv6).</summary>
    /// <param name="left">Left operand.</param>
    /// <param name="right">Right operand.</param>
    /// <returns>The comparison.</returns>
    public static bool operator <(InetAddress left, InetAddress right) => left.CompareTo(right) < 0;

    /// <summary>Ordering.</summary>
    /// <param name="left">Left operand.</param>
    /// <param name="right">Right operand.</param>
    /// <returns>The comparison.</returns>
    public static bool operator >(InetAddress left, InetAddress right) => left.CompareTo(right) > 0;

    /// <summary>Ordering.</summary>
    /// <param name="left">Left operand.</param>
    /// <param name="right">Right operand.</param>
    /// <returns>The comparison.</returns>
    public static bool operator <=(InetAddress left, InetAddress right) => left.CompareTo(right) <= 0;

    /// <summary>Ordering.</summary>
    /// <param name="left">Left operand.</param>
    /// <param name="right">Right operand.</param>
    /// <returns>The comparison.</returns>
    public static bool operator >=(InetAddress left, InetAddress right) => left.CompareTo(right) >= 0;
}
