using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Lvs.Director.Configuration;

/// <summary>
/// Reads keepalived.conf text into statements as keepalived's lib/parser.c does: comments (<c>#</c>, <c>!</c>),
/// quoted strings, <c>{</c> and <c>}</c> as words of their own, <c>include</c> (and its variants) with globs relative
/// to the including file's directory, <c>@id</c>/<c>@^id</c> conditional lines, <c>$NAME=value</c> definitions (also
/// multi-line, with a trailing backslash) and <c>$NAME</c>/<c>${NAME}</c> expansion at use time, recursively, with the
/// predefined <c>${_PWD}</c>, <c>${_INSTANCE}</c>, <c>${_HASH}</c>, <c>${_BANG}</c> and <c>${_ENV NAME}</c>.
/// </summary>
internal sealed partial class KeepalivedConfigReader
{
    private const int MaxIncludeDepth = 32;
    private const int MaxExpansions = 1000;

    private readonly KeepalivedParserOptions _options;
    private readonly List<ConfigurationError> _errors;
    private readonly Dictionary<string, List<string>> _definitions = new(StringComparer.Ordinal);
    private readonly Stack<List<KeepalivedStatement>> _open = new();
    private readonly Stack<KeepalivedStatement> _openStatements = new();
    private readonly Stack<string> _files = new();

    public KeepalivedConfigReader(KeepalivedParserOptions options, List<ConfigurationError> errors)
    {
        _options = options;
        _errors = errors;
        _open.Push(Root);
    }

    /// <summary>The top-level statements.</summary>
    public List<KeepalivedStatement> Root { get; } = [];

    /// <summary>Reads a file (its includes too).</summary>
    public void ReadFile(string path)
    {
        string full = Path.GetFullPath(path);
        ReadText(File.ReadAllText(full), path, Path.GetDirectoryName(full) ?? Directory.GetCurrentDirectory());
    }

    /// <summary>Reads text as if it were the file <paramref name="fileName"/> in <paramref name="directory"/>.</summary>
    public void ReadText(string text, string fileName, string directory)
    {
        _files.Push(Path.GetFullPath(Path.Combine(directory, Path.GetFileName(fileName))));
        try
        {
            var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
            for (int i = 0; i < lines.Length; i++)
            {
                int number = i + 1;
                string line = StripComment(lines[i]).Trim();
                if (line.Length == 0)
                {
                    continue;
                }

                // A multi-line definition: "$NAME= \" then lines ending in "\", the last without.
                var definition = DefinitionPattern().Match(line);
                if (definition.Success && definition.Groups[2].Value.Trim() == "\\")
                {
                    var body = new List<string>();
                    while (i + 1 < lines.Length)
                    {
                        string next = StripComment(lines[++i]).Trim();
                        bool more = next.EndsWith('\\');
                        next = more ? next[..^1].TrimEnd() : next;
                        if (next.Length > 0)
                        {
                            body.Add(next);
                        }

                        if (!more)
                        {
                            break;
                        }
                    }

                    _definitions[definition.Groups[1].Value] = body;
                    continue;
                }

                ProcessLine(line, fileName, number, directory, 0);
            }
        }
        finally
        {
            _ = _files.Pop();
        }
    }

    /// <summary>Reports the blocks still open at the end of the input.</summary>
    public void Finish()
    {
        while (_openStatements.Count > 0)
        {
            var statement = _openStatements.Pop();
            _errors.Add(new ConfigurationError(statement.File, statement.BlockLine, $"'{{' of '{statement.Keyword}' is never closed (missing '}}')"));
        }
    }

    private void ProcessLine(string line, string fileName, int number, string directory, int depth)
    {
        if (depth > MaxExpansions)
        {
            _errors.Add(new ConfigurationError(fileName, number, "variable expansion does not end (a definition refers to itself)"));
            return;
        }

        // keepalived detects include before conditionals and substitution (the man page says so), on the raw line:
        // a pattern's braces are glob's, not blocks.
        string[] raw = line.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries);
        if (IsInclude(raw[0]))
        {
            var words = new List<string> { raw[0] };
            if (raw.Length > 1)
            {
                string pattern = raw[1].Trim();
                words.AddRange(pattern.Length > 1 && pattern[0] is '"' or '\'' && pattern[^1] == pattern[0] ? [pattern[1..^1]] : pattern.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
            }

            Include(words, fileName, number, directory);
            return;
        }

        if (!Conditional(ref line))
        {
            return;
        }

        if (line.StartsWith("~SEQ", StringComparison.Ordinal))
        {
            Sequence(line, fileName, number, directory, depth);
            return;
        }

        var definition = DefinitionPattern().Match(line);
        if (definition.Success)
        {
            _definitions[definition.Groups[1].Value] = [definition.Groups[2].Value.Trim()];
            return;
        }

        if (!Expand(line, fileName, number, directory, out var expanded))
        {
            return;
        }

        if (expanded.Count == 1 && expanded[0] == line)
        {
            Emit(Tokenize(line), fileName, number);
            return;
        }

        foreach (string produced in expanded)
        {
            string next = StripComment(produced).Trim();
            if (next.Length > 0)
            {
                ProcessLine(next, fileName, number, directory, depth + 1);
            }
        }
    }

    /// <summary>
    /// <c>~SEQ(var, start, step, end)</c> and <c>~SEQx(...)</c> (hexadecimal values): the rest of the line once per
    /// value, with <c>$var</c> set (keepalived.conf(5), "Sequence blocks"; start and step may be left out).
    /// </summary>
    private void Sequence(string line, string fileName, int number, string directory, int depth)
    {
        var match = SequencePattern().Match(line);
        if (!match.Success)
        {
            _errors.Add(new ConfigurationError(fileName, number, "~SEQ takes (variable, [start, [step,]] end)"));
            return;
        }

        bool hex = match.Groups[1].Value == "x";
        string[] parts = match.Groups[2].Value.Split(',', StringSplitOptions.TrimEntries);
        string name = parts[0];
        var numbers = new List<long>();
        foreach (string part in parts.Skip(1))
        {
            bool negative = part.StartsWith('-');
            string digits = negative ? part[1..] : part;
            bool isHex = digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
            if (!long.TryParse(isHex ? digits[2..] : digits, isHex ? NumberStyles.AllowHexSpecifier : NumberStyles.None, CultureInfo.InvariantCulture, out long value))
            {
                _errors.Add(new ConfigurationError(fileName, number, $"~SEQ value '{part}' is not a number"));
                return;
            }

            numbers.Add(negative ? -value : value);
        }

        if (name.Length == 0 || numbers.Count is < 1 or > 3)
        {
            _errors.Add(new ConfigurationError(fileName, number, "~SEQ takes (variable, [start, [step,]] end)"));
            return;
        }

        long end = numbers[^1];
        long start = numbers.Count >= 2 ? numbers[0] : (end < 0 ? -1 : 1);
        long step = numbers.Count == 3 ? numbers[1] : (end >= start ? 1 : -1);
        if (step == 0 || (step > 0 ? start > end : start < end) || Math.Abs((end - start) / step) >= MaxExpansions * 100)
        {
            _errors.Add(new ConfigurationError(fileName, number, "~SEQ never ends or is too long"));
            return;
        }

        string rest = line[match.Length..].Trim();
        for (long value = start; step > 0 ? value <= end : value >= end; value += step)
        {
            _definitions[name] = [hex ? value.ToString("x", CultureInfo.InvariantCulture) : value.ToString(CultureInfo.InvariantCulture)];
            ProcessLine(rest, fileName, number, directory, depth + 1);
        }
    }

    /// <summary>Applies an <c>@id</c> or <c>@^id</c> prefix; false when the line is not for this config id.</summary>
    private bool Conditional(ref string line)
    {
        if (!line.StartsWith('@'))
        {
            return true;
        }

        int end = 1;
        while (end < line.Length && !char.IsWhiteSpace(line[end]))
        {
            end++;
        }

        bool negative = line.Length > 1 && line[1] == '^';
        string id = line[(negative ? 2 : 1)..end];
        bool matches = string.Equals(id, _options.ConfigId, StringComparison.Ordinal);
        line = line[end..].TrimStart();
        return matches != negative && line.Length > 0;
    }

    /// <summary>Expands the variables of a line; a multi-line value yields several lines.</summary>
    private bool Expand(string line, string fileName, int number, string directory, out List<string> lines)
    {
        string current = line;
        for (int round = 0; round < MaxExpansions; round++)
        {
            var match = FindVariable(current, directory, out string? value);
            if (match < 0)
            {
                lines = [.. current.Split('\n')];
                return true;
            }

            current = value!;
            if (current.Contains('\n', StringComparison.Ordinal))
            {
                // A multi-line value: its lines are processed one by one, so that a definition among them applies to
                // the lines after it (keepalived.conf(5), "Multiline definitions").
                lines = [.. current.Split('\n')];
                return true;
            }
        }

        _errors.Add(new ConfigurationError(fileName, number, "variable expansion does not end (a definition refers to itself)"));
        lines = [];
        return false;
    }

    /// <summary>Finds the first defined variable and returns the line with it replaced; -1 when none is left.</summary>
    private int FindVariable(string text, string directory, out string? replaced)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != '$')
            {
                continue;
            }

            string? name = null;
            int end;
            if (i + 1 < text.Length && text[i + 1] == '{')
            {
                end = text.IndexOf('}', i + 2);
                if (end < 0)
                {
                    continue;
                }

                name = text[(i + 2)..end];
                end++;
            }
            else
            {
                end = i + 1;
                while (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] == '_'))
                {
                    end++;
                }

                // Without braces the name must be followed by whitespace or the end of the line.
                if (end == i + 1 || (end < text.Length && !char.IsWhiteSpace(text[end])))
                {
                    continue;
                }

                name = text[(i + 1)..end];
            }

            if (Lookup(name, directory) is { } value)
            {
                replaced = string.Concat(text.AsSpan(0, i), value, text.AsSpan(end));
                return i;
            }
        }

        replaced = null;
        return -1;
    }

    private string? Lookup(string name, string directory)
    {
        if (_definitions.TryGetValue(name, out var value))
        {
            return string.Join('\n', value);
        }

        switch (name)
        {
            case "_PWD":
                return directory;
            case "_INSTANCE":
                return _options.ConfigId;
            case "_HASH":
                return "#";
            case "_BANG":
                return "!";
            default:
                if (name.StartsWith("_ENV ", StringComparison.Ordinal))
                {
                    string variable = name[5..].Trim();
                    return (_options.EnvironmentVariables ?? Environment.GetEnvironmentVariable)(variable) ?? string.Empty;
                }

                return null;
        }
    }

    private static bool IsInclude(string word) => word is "include" or "includer" or "includem" or "includew" or "includeb" or "includea";

    private void Include(List<string> words, string fileName, int number, string directory)
    {
        if (words.Count != 2)
        {
            _errors.Add(new ConfigurationError(fileName, number, $"'{words[0]}' takes one file name or pattern"));
            return;
        }

        string pattern = words[1];
        var files = KeepalivedGlob.Expand(pattern, directory);
        if (files.Count == 0)
        {
            // includer: "it should not error if there are no files" (keepalived.conf(5)).
            if (words[0] != "includer" || !KeepalivedGlob.HasWildcard(pattern))
            {
                _errors.Add(new ConfigurationError(fileName, number, $"include '{pattern}': no such file"));
            }

            return;
        }

        foreach (string file in files)
        {
            if (_files.Contains(file) || _files.Count >= MaxIncludeDepth)
            {
                _errors.Add(new ConfigurationError(fileName, number, $"include '{file}': included recursively"));
                continue;
            }

            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (IOException e)
            {
                _errors.Add(new ConfigurationError(fileName, number, $"include '{file}': {e.Message}"));
                continue;
            }
            catch (UnauthorizedAccessException e)
            {
                _errors.Add(new ConfigurationError(fileName, number, $"include '{file}': {e.Message}"));
                continue;
            }

            // Errors name the included file as the including one named it, joined to its directory when relative.
            string shown = Path.IsPathRooted(pattern) ? file : Path.Combine(Path.GetDirectoryName(fileName) ?? string.Empty, Path.GetRelativePath(directory, file));
            ReadText(text, shown, Path.GetDirectoryName(file)!);
        }
    }

    /// <summary>Turns a line's words into statements and blocks.</summary>
    private void Emit(List<string> words, string fileName, int number)
    {
        var pending = new List<string>();
        foreach (string word in words)
        {
            if (word == "{")
            {
                var current = _open.Peek();
                KeepalivedStatement owner;
                if (pending.Count > 0)
                {
                    owner = new KeepalivedStatement(fileName, number, [.. pending]);
                    current.Add(owner);
                    pending.Clear();
                }
                else if (current.Count > 0 && current[^1].Block is null)
                {
                    // "{" alone on the line after its keyword.
                    owner = current[^1];
                }
                else
                {
                    _errors.Add(new ConfigurationError(fileName, number, "'{' without a keyword"));
                    owner = new KeepalivedStatement(fileName, number, ["{"]);
                }

                owner.Block = [];
                owner.BlockLine = number;
                _open.Push(owner.Block);
                _openStatements.Push(owner);
            }
            else if (word == "}")
            {
                Flush(pending, fileName, number);
                if (_openStatements.Count == 0)
                {
                    _errors.Add(new ConfigurationError(fileName, number, "'}' without a matching '{'"));
                    continue;
                }

                _ = _open.Pop();
                _ = _openStatements.Pop();
            }
            else
            {
                pending.Add(word);
            }
        }

        Flush(pending, fileName, number);
    }

    private void Flush(List<string> pending, string fileName, int number)
    {
        if (pending.Count > 0)
        {
            _open.Peek().Add(new KeepalivedStatement(fileName, number, [.. pending]));
            pending.Clear();
        }
    }

    /// <summary>Removes a comment (<c>#</c> or <c>!</c> outside quotes) and what follows.</summary>
    private static string StripComment(string line)
    {
        char quote = '\0';
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote != '\0')
            {
                if (c == '\\' && quote == '"')
                {
                    i++;
                }
                else if (c == quote)
                {
                    quote = '\0';
                }
            }
            else if (c is '"' or '\'')
            {
                quote = c;
            }
            else if (c is '#' or '!')
            {
                return line[..i];
            }
        }

        return line;
    }

    /// <summary>
    /// Splits a line into words: whitespace separates, quotes group (and are removed; text next to a quote joins the
    /// same word), <c>{</c> and <c>}</c> outside quotes are words of their own.
    /// </summary>
    internal static List<string> Tokenize(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool inWord = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (c is '"' or '\'')
            {
                inWord = true;
                for (i++; i < line.Length && line[i] != c; i++)
                {
                    if (line[i] == '\\' && c == '"' && i + 1 < line.Length)
                    {
                        i++;
                        _ = word.Append(Escape(line[i]));
                    }
                    else
                    {
                        _ = word.Append(line[i]);
                    }
                }
            }
            else if (char.IsWhiteSpace(c) || c is '{' or '}')
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    _ = word.Clear();
                    inWord = false;
                }

                if (c is '{' or '}')
                {
                    words.Add(c.ToString(CultureInfo.InvariantCulture));
                }
            }
            else
            {
                inWord = true;
                _ = word.Append(c);
            }
        }

        if (inWord)
        {
            words.Add(word.ToString());
        }

        return words;
    }

    private static char Escape(char c) => c switch
    {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'a' => '\a',
        'b' => '\b',
        'f' => '\f',
        'v' => '\v',
        _ => c,
    };

    [GeneratedRegex(@"^\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$")]
    private static partial Regex DefinitionPattern();

    [GeneratedRegex(@"^~SEQ(x?)\(([^)]*)\)")]
    private static partial Regex SequencePattern();
}
