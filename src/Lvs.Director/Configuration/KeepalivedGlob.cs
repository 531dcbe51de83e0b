using System.Text;
using System.Text.RegularExpressions;

namespace Lvs.Director.Configuration;

/// <summary>
/// The file names of a keepalived <c>include</c> pattern, as glob(3) with GLOB_BRACE finds them: <c>*</c>, <c>?</c>,
/// <c>[...]</c> in any path segment and csh-style <c>{a,b}</c>, relative to the including file's directory, sorted.
/// </summary>
internal static class KeepalivedGlob
{
    /// <summary>Whether the pattern has a wildcard or a brace expression.</summary>
    public static bool HasWildcard(string pattern) => pattern.AsSpan().IndexOfAny("*?[{") >= 0;

    /// <summary>The existing files the pattern names, sorted as glob sorts them (ordinal).</summary>
    public static List<string> Expand(string pattern, string directory)
    {
        var result = new List<string>();
        foreach (string alternative in Braces(pattern))
        {
            string full = Path.IsPathRooted(alternative) ? alternative : Path.Combine(directory, alternative);
            var found = new List<string>();
            Match(Path.GetPathRoot(full)!, full[Path.GetPathRoot(full)!.Length..].Split('/', StringSplitOptions.RemoveEmptyEntries), 0, found);
            found.Sort(StringComparer.Ordinal);
            foreach (string file in found)
            {
                if (!result.Contains(file))
                {
                    result.Add(file);
                }
            }
        }

        return result;
    }

    private static void Match(string at, string[] segments, int index, List<string> found)
    {
        if (index == segments.Length)
        {
            if (File.Exists(at))
            {
                found.Add(Path.GetFullPath(at));
            }

            return;
        }

        string segment = segments[index];
        if (segment.AsSpan().IndexOfAny("*?[") < 0)
        {
            string next = Path.Combine(at, segment);
            if (index == segments.Length - 1 || Directory.Exists(next))
            {
                Match(next, segments, index + 1, found);
            }

            return;
        }

        if (!Directory.Exists(at))
        {
            return;
        }

        var regex = new Regex("^" + ToRegex(segment) + "$", RegexOptions.CultureInvariant);
        IEnumerable<string> entries = index == segments.Length - 1 ? Directory.EnumerateFileSystemEntries(at) : Directory.EnumerateDirectories(at);
        foreach (string entry in entries)
        {
            string name = Path.GetFileName(entry);
            // glob(3): a leading '.' is matched only by a pattern that starts with '.'.
            if ((name.StartsWith('.') && !segment.StartsWith('.')) || !regex.IsMatch(name))
            {
                continue;
            }

            Match(entry, segments, index + 1, found);
        }
    }

    private static string ToRegex(string segment)
    {
        var regex = new StringBuilder();
        for (int i = 0; i < segment.Length; i++)
        {
            char c = segment[i];
            switch (c)
            {
                case '*':
                    _ = regex.Append("[^/]*");
                    break;
                case '?':
                    _ = regex.Append("[^/]");
                    break;
                case '[':
                    int close = segment.IndexOf(']', i + 2);
                    if (close < 0)
                    {
                        _ = regex.Append(@"\[");
                        break;
                    }

                    string set = segment[(i + 1)..close];
                    _ = regex.Append('[').Append(set.StartsWith('!') ? "^" + Regex.Escape(set[1..]) : Regex.Escape(set)).Append(']');
                    i = close;
                    break;
                default:
                    _ = regex.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }

        return regex.ToString();
    }

    /// <summary>csh-style brace expansion: <c>a{b,c}d</c> gives <c>abd</c>, <c>acd</c> (nested braces too).</summary>
    private static List<string> Braces(string pattern)
    {
        int open = pattern.IndexOf('{', StringComparison.Ordinal);
        if (open < 0)
        {
            return [pattern];
        }

        int depth = 0;
        var cuts = new List<int>();
        int close = -1;
        for (int i = open; i < pattern.Length; i++)
        {
            if (pattern[i] == '{')
            {
                depth++;
            }
            else if (pattern[i] == '}' && --depth == 0)
            {
                close = i;
                break;
            }
            else if (pattern[i] == ',' && depth == 1)
            {
                cuts.Add(i);
            }
        }

        if (close < 0)
        {
            return [pattern];
        }

        var result = new List<string>();
        int start = open + 1;
        cuts.Add(close);
        foreach (int cut in cuts)
        {
            string expanded = pattern[..open] + pattern[start..cut] + pattern[(close + 1)..];
            result.AddRange(Braces(expanded));
            start = cut + 1;
        }

        return result;
    }
}
