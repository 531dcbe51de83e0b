namespace Lvs.HealthChecks;

/// <summary>Options of keepalived's <c>SMTP_CHECK</c>.</summary>
public sealed record SmtpCheckOptions
{
    /// <summary>keepalived's default <c>helo_name</c> (check_smtp.h <c>SMTP_DEFAULT_HELO</c>): "smtpchecker.keepalived.org".</summary>
    public const string DefaultHeloName = "smtpchecker.keepalived.org";

    /// <summary>
    /// The longest name: an SMTP command line is at most 512 octets with its CRLF (RFC 5321 4.5.3.1.4), and
    /// "HELO " and CRLF take 7 of them (keepalived cuts the command at its 512-byte buffer too).
    /// </summary>
    public const int MaxHeloNameLength = 505;

    /// <summary>
    /// The name sent with <c>HELO</c> (keepalived <c>helo_name</c>); <see cref="DefaultHeloName"/> by default, as
    /// keepalived. 1 to <see cref="MaxHeloNameLength"/> printable ASCII characters (spaces allowed, as keepalived
    /// sends a quoted name as it is); a line break, which would end the command early, is refused.
    /// </summary>
    /// <exception cref="ArgumentException">Empty, blank, too long, or not printable ASCII.</exception>
    public string HeloName
    {
        get;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            if (!IsValidHeloName(value))
            {
                throw new ArgumentException($"HeloName (keepalived helo_name) '{value}' must be 1 to {MaxHeloNameLength} printable ASCII characters, not only spaces.", nameof(HeloName));
            }

            field = value;
        }
    } = DefaultHeloName;

    private static bool IsValidHeloName(string name) =>
        name.Length is > 0 and <= MaxHeloNameLength
        && name.All(static c => c is >= ' ' and <= '~')
        && !string.IsNullOrWhiteSpace(name);
}
