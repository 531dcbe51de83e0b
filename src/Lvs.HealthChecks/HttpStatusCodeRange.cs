using System.Globalization;

namespace Lvs.HealthChecks;

/// <summary>A range of accepted HTTP status codes (keepalived <c>status_code 200</c> or <c>status_code 200-299</c>).</summary>
/// <remarks>Codes are limited to 100-599, as keepalived's <c>status_code</c> parser limits them (HTTP_STATUS_CODE_MIN/MAX).</remarks>
/// <param name="First">The lowest accepted code, 100 to 599.</param>
/// <param name="Last">The highest accepted code, <paramref name="First"/> to 599.</param>
public readonly record struct HttpStatusCodeRange(int First, int Last)
{
    private const int MinCode = 100;
    private const int MaxCode = 599;

    /// <summary>The lowest accepted code.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside 100-599.</exception>
    public int First
    {
        get;
        init => field = OptionValidation.InRange(value, MinCode, MaxCode, nameof(First), "status_code");
    } = OptionValidation.InRange(First, MinCode, MaxCode, nameof(First), "status_code");

    /// <summary>The highest accepted code.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside 100-599, or below <see cref="First"/>.</exception>
    public int Last
    {
        get;
        init => field = OptionValidation.InRange(value, MinCode, MaxCode, nameof(Last), "status_code");
    } = OptionValidation.InRange(Last, Math.Clamp(First, MinCode, MaxCode), MaxCode, nameof(Last), "status_code");

    /// <summary>Any 2xx code, keepalived's default when a <c>url</c> block names no <c>status_code</c>.</summary>
    public static HttpStatusCodeRange Success => new(200, 299);

    /// <summary>A single code.</summary>
    /// <param name="code">The accepted code, 100 to 599.</param>
    /// <returns>The range holding only that code.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Outside 100-599.</exception>
    public static HttpStatusCodeRange Exactly(int code) => new(code, code);

    /// <summary>Parses <c>200</c> or <c>200-299</c>, as keepalived's <c>status_code</c> reads them.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The range.</returns>
    /// <exception cref="FormatException">The text is not a code or a range of codes from 100 to 599.</exception>
    public static HttpStatusCodeRange Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int dash = text.IndexOf('-', StringComparison.Ordinal);
        ReadOnlySpan<char> first = dash < 0 ? text : text.AsSpan(0, dash);
        ReadOnlySpan<char> last = dash < 0 ? text : text.AsSpan(dash + 1);
        if (int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out int low)
            && int.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out int high)
            && low is >= MinCode and <= MaxCode && high is >= MinCode and <= MaxCode && low <= high)
        {
            return new(low, high);
        }

        throw new FormatException($"'{text}' is not an HTTP status code (100-599) or a range CODE-CODE.");
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
