using System.Buffers.Binary;
using System.Globalization;

namespace Lvs.Core;

/// <summary>A 48-bit Ethernet MAC address as a value type.</summary>
public readonly record struct MacAddress : ISpanFormattable
{
    private readonly ulong _value;

    /// <summary>Creates an address from its 48-bit value (the first octet in bits 47-40).</summary>
    /// <param name="value">The value; bits above 47 are ignored.</param>
    public MacAddress(ulong value) => _value = value & 0xFFFF_FFFF_FFFFUL;

    /// <summary>The broadcast address ff:ff:ff:ff:ff:ff.</summary>
    public static MacAddress Broadcast => new(0xFFFF_FFFF_FFFFUL);

    /// <summary>The 48-bit value, first octet most significant.</summary>
    public ulong Value => _value;

    /// <summary>True for a group (multicast or broadcast) address: the I/G bit of the first octet.</summary>
    public bool IsMulticast => (_value & 0x0100_0000_0000UL) != 0;

    /// <summary>True for ff:ff:ff:ff:ff:ff.</summary>
    public bool IsBroadcast => _value == 0xFFFF_FFFF_FFFFUL;

    /// <summary>Reads 6 bytes in network order.</summary>
    /// <param name="source">At least 6 bytes.</param>
    /// <returns>The address.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The span is shorter than 6 bytes.</exception>
    public static MacAddress Read(ReadOnlySpan<byte> source) =>
        new((ulong)BinaryPrimitives.ReadUInt16BigEndian(source) << 32 | BinaryPrimitives.ReadUInt32BigEndian(source[2..]));

    /// <summary>Writes the 6 bytes in network order.</summary>
    /// <param name="destination">At least 6 bytes.</param>
    /// <exception cref="ArgumentOutOfRangeException">The span is shorter than 6 bytes.</exception>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], (uint)_value);
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(_value >> 32));
    }

    /// <summary>Parses <c>aa:bb:cc:dd:ee:ff</c> or <c>aa-bb-cc-dd-ee-ff</c>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="address">The address, when valid.</param>
    /// <returns>True when the text is a MAC address.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out MacAddress address)
    {
        address = default;
        if (text.Length != 17)
        {
            return false;
        }

        ulong value = 0;
        for (int i = 0; i < 6; i++)
        {
            if (i > 0 && text[(i * 3) - 1] is not (':' or '-'))
            {
                return false;
            }

            if (!byte.TryParse(text.Slice(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte octet))
            {
                return false;
            }

            value = value << 8 | octet;
        }

        address = new MacAddress(value);
        return true;
    }

    /// <summary>Parses <c>aa:bb:cc:dd:ee:ff</c>.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The address.</returns>
    /// <exception cref="FormatException">The text is not a MAC address.</exception>
    public static MacAddress Parse(ReadOnlySpan<char> text) =>
        TryParse(text, out var address) ? address : throw new FormatException($"'{text}' is not a MAC address (aa:bb:cc:dd:ee:ff).");

    /// <summary>Formats as lower-case <c>aa:bb:cc:dd:ee:ff</c>.</summary>
    /// <returns>The text form.</returns>
    public override string ToString() => ToString(null, null);

    /// <inheritdoc/>
    public string ToString(string? format, IFormatProvider? formatProvider)
    {
        Span<char> buffer = stackalloc char[17];
        _ = TryFormat(buffer, out _, default, null);
        return new string(buffer);
    }

    /// <inheritdoc/>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        charsWritten = 0;
        if (destination.Length < 17)
        {
            return false;
        }

        for (int i = 0; i < 6; i++)
        {
            byte octet = (byte)(_value >> (40 - (8 * i)));
            if (i > 0)
            {
                destination[(i * 3) - 1] = ':';
            }

            _ = octet.TryFormat(destination.Slice(i * 3, 2), out _, "x2", CultureInfo.InvariantCulture);
        }

        charsWritten = 17;
        return true;
    }
}
