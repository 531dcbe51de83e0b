using System.Globalization;

namespace Lvs.ConnectionTracking;

/// <summary>
/// Prints connections as <c>ipvsadm -L -n -c</c> does (ipvsadm.c <c>print_conn</c>): protocol, remaining time as
/// mm:ss, state, and the source, virtual and destination endpoints in numeric form.
/// </summary>
public static class ConnectionListing
{
    /// <summary>The two header lines ipvsadm prints before the entries.</summary>
    public const string Header = "IPVS connection entries\npro expire state       source             virtual            destination";

    /// <summary>
    /// The header ipvsadm prints with <c>--persistent-conn</c> (<c>ipvsadm -L -n -c --persistent-conn</c>), which adds the
    /// persistence engine's columns; a line keeps the form of <see cref="FormatLine"/> unless its connection has
    /// persistence-engine data, which needs a persistence engine (none is implemented, so no line has any).
    /// </summary>
    public const string PersistentConnectionsHeader = "IPVS connection entries\npro expire state       source             virtual            destination        pe name          pe_data";

    /// <summary>Formats one entry as a line (without the line break).</summary>
    /// <param name="info">The entry.</param>
    /// <returns>The line, e.g. <c>TCP 14:59  ESTABLISHED 10.0.0.1:52144     10.0.0.100:80      10.0.0.2:80</c>.</returns>
    public static string FormatLine(in ConnectionInfo info)
    {
        // ipvsadm: sprintf(expire_str, "%02d:%02d", minutes, seconds), printed "%-6s": 100 minutes or more fill the
        // field, and one space follows (TCP 120:00 ASSURED ...).
        long seconds = (long)info.Expires.TotalSeconds;
        string expire = string.Create(CultureInfo.InvariantCulture, $"{seconds / 60:00}:{seconds % 60:00}");
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{info.ProtocolName,-3} {expire,-6} {info.StateName,-11} {info.Client,-18} {info.Virtual,-18} {info.Destination}");
    }

    /// <summary>Writes the header and one line per entry.</summary>
    /// <param name="writer">The output.</param>
    /// <param name="entries">The entries, e.g. <see cref="ConnectionTable.Enumerate"/>.</param>
    public static void Write(TextWriter writer, IEnumerable<ConnectionInfo> entries) => Write(writer, entries, persistentConnections: false);

    /// <summary>Writes the header and one line per entry.</summary>
    /// <param name="writer">The output.</param>
    /// <param name="entries">The entries, e.g. <see cref="ConnectionTable.Enumerate"/>.</param>
    /// <param name="persistentConnections">Whether to print <see cref="PersistentConnectionsHeader"/> (ipvsadm's <c>--persistent-conn</c>).</param>
    public static void Write(TextWriter writer, IEnumerable<ConnectionInfo> entries, bool persistentConnections)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(entries);
        writer.WriteLine(persistentConnections ? PersistentConnectionsHeader : Header);
        foreach (var entry in entries)
        {
            writer.WriteLine(FormatLine(entry));
        }
    }
}
