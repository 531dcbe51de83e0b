namespace Lvs.Core.Headers;

/// <summary>
/// Iterates TCP options (RFC 9293 section 3.2): kind 0 ends the list, kind 1 is a one-byte no-op, every other
/// kind has a length byte that counts kind and length. A length below 2 or past the end stops the walk and
/// sets <see cref="IsMalformed"/>, never reading past the options.
/// </summary>
public ref struct TcpOptionReader
{
    private readonly ReadOnlySpan<byte> _options;
    private int _offset;

    /// <summary>Creates a reader over the option bytes of a TCP header.</summary>
    /// <param name="options">The options (<see cref="TcpHeader.Options"/>).</param>
    public TcpOptionReader(ReadOnlySpan<byte> options)
    {
        _options = options;
        _offset = 0;
        IsMalformed = false;
        Kind = 0;
        Offset = 0;
        Data = default;
    }

    /// <summary>The kind of the current option.</summary>
    public byte Kind { get; private set; }

    /// <summary>The offset of the current option's kind byte within the options.</summary>
    public int Offset { get; private set; }

    /// <summary>The current option's data (after kind and length; empty for no-op).</summary>
    public ReadOnlySpan<byte> Data { get; private set; }

    /// <summary>True when the walk stopped at a malformed length.</summary>
    public bool IsMalformed { get; private set; }

    /// <summary>Moves to the next option other than end-of-list.</summary>
    /// <returns>False at the end of the options, at an end-of-list option, or at a malformed option.</returns>
    public bool MoveNext()
    {
        if (_offset >= _options.Length || IsMalformed)
        {
            return false;
        }

        byte kind = _options[_offset];
        if (kind == 0)
        {
            _offset = _options.Length;
            return false;
        }

        Offset = _offset;
        Kind = kind;
        if (kind == 1)
        {
            Data = default;
            _offset++;
            return true;
        }

        if (_offset + 1 >= _options.Length)
        {
            IsMalformed = true;
            return false;
        }

        int length = _options[_offset + 1];
        if (length < 2 || _offset + length > _options.Length)
        {
            IsMalformed = true;
            return false;
        }

        Data = _options.Slice(_offset + 2, length - 2);
        _offset += length;
        return true;
    }
}
