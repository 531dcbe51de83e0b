namespace Lvs.Director.Configuration;

/// <summary>One keepalived.conf statement: a keyword and its values on one line, with its block when one follows.</summary>
/// <param name="File">The file it came from.</param>
/// <param name="Line">Its 1-based line.</param>
/// <param name="Words">The keyword, then its values (quotes removed, variables expanded).</param>
internal sealed record KeepalivedStatement(string File, int Line, IReadOnlyList<string> Words)
{
    /// <summary>The keyword.</summary>
    public string Keyword => Words[0];

    /// <summary>The statements of its <c>{ }</c> block; null when it has none.</summary>
    public List<KeepalivedStatement>? Block { get; set; }

    /// <summary>The line where its block opened (for an unclosed block).</summary>
    public int BlockLine { get; set; }

    /// <summary>The number of values after the keyword.</summary>
    public int ValueCount => Words.Count - 1;

    /// <summary>The value at a 1-based position.</summary>
    public string this[int index] => Words[index];

    /// <summary>The values joined by spaces, as keepalived's <c>set_value</c> joins them.</summary>
    public string JoinedValues => string.Join(' ', Words.Skip(1));
}
