using System.Globalization;

namespace Lvs.HealthChecks;

/// <summary>A range of accepted HTTP status codes (keepalived <c>status_code 200</c> or <c>status_code 200-299</c>).</summary>
/// <param name="First">The lowest accepted code.</param>
/// <param name="Last">The highest accepted code.</param>
public readonly record struct HttpStatusCodeRange(int First, int Last)
{
    /// <summary>Any 2xx code, keepalived's default when a <c>url</c> block names no <c>status_code</c>.</summary>
    public static HttpStatusCodeRange Success => new(200, 299);

    /// <summary>A single code.</summary>
    /// <param name="code">The accepted code.</param>
    /// <returns>The range holding only that code.</returns>
    public static HttpStatusCodeRange Exactly(int code) => new(code, code);

    /// <summary>Parses <c>200</c> or <c>200-299</c>, as keepalived's <c>status_code</c> reads them.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The range.</returns>
    /// <exception cref="FormatException">The text is not a code or a range of codes from 100 to 999.</exception>
    public static HttpStatusCodeRange Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int dash = text.IndexOf('-', StringComparison.Ordinal);
        ReadOnlySpan<char> first = dash < 0 ? text : text.AsSpan(0, dash);
        ReadOnlySpan<char> last = dash < 0 ? text : text.AsSpan(dash + 1);
        if (int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out int low)
            && int.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out int high)
            && low is >= 100 and <= 999 && high is >= 100 and <= 999 && low <= high)
        {
            return new(low, high);
        }

        throw new FormatException($"'{text}' is not an HTTP status code or a range CODE-CODE.");
    }

    /// <summary>True when the code is in the range.</summary>
    /// <param name="code">The status code.</param>
    /// <returns>True when accepted.</returns>
    public bool Contains(int code) => code >= First && code <= Last;

    /// <summary>Formats as keepalived writes it.</summary>
    /// <returns><c>200</c> or <c>200-299</c>.</returns>
    public override string ToString() =>
        First == Last ? First.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{First}-{Last}");
}
