namespace Lvs.Director.Configuration;

/// <summary>
/// Something a configuration file holds that was read but not applied as written, reported as <c>file:line: message</c>
/// (a keepalived section the director does not do, a value keepalived itself corrects with a warning). A notice does
/// not stop the file from loading; nothing is skipped without one.
/// </summary>
/// <param name="File">The file name.</param>
/// <param name="Line">The 1-based line number.</param>
/// <param name="Message">What was skipped or corrected, and why.</param>
public sealed record ConfigurationNotice(string File, int Line, string Message)
{
    /// <summary>Formats as <c>file:line: message</c>.</summary>
    /// <returns>The text form.</returns>
    public override string ToString() => $"{File}:{Line}: {Message}";
}
