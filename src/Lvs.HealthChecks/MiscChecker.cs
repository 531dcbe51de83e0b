using System.Globalization;
using System.Text;

namespace Lvs.HealthChecks;

/// <summary>
/// keepalived's <c>MISC_CHECK</c>: runs a command; a normal exit with status 0 is healthy, 1 is unhealthy, and with
/// <see cref="MiscCheckOptions.Dynamic"/> 2 to 255 is healthy with weight status - 2 (keepalived's check_misc.c). A
/// command killed by a signal, or that cannot be run, fails. A command still running after
/// <see cref="MiscCheckOptions.Timeout"/> fails and gets SIGTERM, then SIGKILL 2 s later if still there.
/// </summary>
/// <remarks>
/// <para>
/// The command runs in a process group of its own (signals reach its children). A plain command (words, quoted or
/// not, with no shell syntax: no <c>$</c>, <c>`</c>, <c>;</c>, <c>&amp;</c>, <c>|</c>, redirections, globs, parentheses
/// or newline) whose program is a file is run directly, as keepalived runs <c>misc_path</c>: a program that cannot
/// be executed (missing, not executable, a missing interpreter) fails the check instead of becoming a shell's exit
/// status 126 or 127. Any other command is run by <c>/bin/sh -c</c>, which <c>exec</c>s a simple command's program
/// so that its own exit or signal counts.
/// </para>
/// <para>
/// The program is checked when the checker is built: a missing or non-executable <c>misc_path</c> is a
/// configuration error, as keepalived's script security check makes it. It is checked again before each run, and
/// one that disappeared fails the check.
/// </para>
/// </remarks>
public sealed class MiscChecker : IHealthChecker
{
    // POSIX sh special and regular built-ins and reserved words: programs that are not files.
    private static readonly HashSet<string> ShellBuiltins =
    [
        ":", ".", "[", "alias", "bg", "break", "cd", "command", "continue", "echo", "eval", "exec", "exit", "export",
        "false", "fc", "fg", "getopts", "hash", "jobs", "kill", "local", "printf", "pwd", "read", "readonly", "return",
        "set", "shift", "test", "times", "trap", "true", "type", "ulimit", "umask", "unalias", "unset", "wait",
        "if", "while", "until", "for", "case", "{", "!",
    ];

    private static readonly TimeSpan KillDelay = TimeSpan.FromSeconds(2);

    private static readonly System.Buffers.SearchValues<char> AssignmentNameCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");

    private readonly MiscCheckOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly string? _program;
    private readonly string _spawnPath;
    private readonly string[] _arguments;

    /// <summary>Creates an external-command checker.</summary>
    /// <param name="options">The command, its timeout and whether its exit status sets the weight.</param>
    /// <param name="timeProvider">The clock for the timeout; the system clock when null.</param>
    /// <exception cref="ArgumentException">The command is empty, or its program is missing or not executable.</exception>
    public MiscChecker(MiscCheckOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Path);
        _options = options;
        _timeProvider = timeProvider ?? TimeProvider.System;
        (_program, bool simple, string? error) = ResolveProgram(options.Path);
        if (error is not null)
        {
            throw new ArgumentException($"MiscCheckOptions.Path (keepalived misc_path): {error}", nameof(options));
        }

        if (_program is not null && SplitPlainCommand(options.Path) is { } words)
        {
            // Run directly, as keepalived does: exec errors come back from posix_spawn.
            _spawnPath = _program;
            _arguments = [.. words];
        }
        else
        {
            _spawnPath = "/bin/sh";
            _arguments = ["sh", "-c", _program is not null && simple ? "exec " + options.Path.TrimStart() : options.Path];
        }
    }

    /// <summary>Maps a normal exit status to a result as keepalived's check_misc.c does.</summary>
    /// <param name="status">The exit status, 0 to 255.</param>
    /// <param name="dynamic">keepalived's <c>misc_dynamic</c>.</param>
    /// <returns>The result.</returns>
    public static CheckResult MapExitStatus(int status, bool dynamic) => status switch
    {
        0 when dynamic => CheckResult.HealthyWithConfiguredWeight("exited with status 0"),
        0 => CheckResult.Healthy("exited with status 0"),
        >= 2 and <= 255 when dynamic => CheckResult.HealthyWithWeight(status - 2, string.Create(CultureInfo.InvariantCulture, $"exited with status {status}: weight {status - 2}")),
        _ => CheckResult.Unhealthy(string.Create(CultureInfo.InvariantCulture, $"exited with status {status}")),
    };

    /// <inheritdoc />
    /// <remarks>A <see cref="MiscCheckOptions.Timeout"/> of 0 is <see cref="CheckTiming.DefaultDelayLoop"/> here; the monitor uses the checker's own delay_loop.</remarks>
    public ValueTask<CheckResult> CheckAsync(CancellationToken cancellationToken) => CheckAsync(CheckTiming.DefaultDelayLoop, cancellationToken);

    /// <summary>Runs the command once; a zero <see cref="MiscCheckOptions.Timeout"/> means <paramref name="delayLoop"/>.</summary>
    internal async ValueTask<CheckResult> CheckAsync(TimeSpan delayLoop, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_program is not null && !ScriptProcess.IsExecutableFile(_program))
        {
            return CheckResult.Unhealthy($"cannot run {_program}: {(File.Exists(_program) ? "not executable" : "not found")}");
        }

        TimeSpan timeout = _options.Timeout == TimeSpan.Zero ? delayLoop : _options.Timeout;
        ScriptProcess process;
        try
        {
            process = ScriptProcess.Start(_spawnPath, _arguments);
        }
        catch (IOException e)
        {
            return CheckResult.Unhealthy($"cannot run: {e.Message}");
        }

        using var deadline = new CheckDeadline(timeout, _timeProvider, cancellationToken);
        ScriptExit exit;
        try
        {
            exit = await process.Exited.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            // waitpid itself failed: the script's fate is unknown, which is no proof of health.
            return CheckResult.Unhealthy($"could not wait for the script: {e.Message}");
        }
        catch (OperationCanceledException)
        {
            if (!deadline.TimedOut)
            {
                // The monitor stops: no grace period.
                process.Kill();
                throw;
            }

            // check_misc.c: SIGTERM to the group, SIGKILL 2 s later if it is still there. Both are one kill(2) call;
            // the wait for the death is the script's own thread's.
            process.Terminate();
            using (_timeProvider.CreateTimer(static state => ((ScriptProcess)state!).Kill(), process, KillDelay, Timeout.InfiniteTimeSpan))
            using (cancellationToken.UnsafeRegister(static state => ((ScriptProcess)state!).Kill(), process))
            {
                try
                {
                    _ = await process.Exited.ConfigureAwait(false);
                }
                catch (IOException)
                {
                    // Lost track of it after the signals: the check has failed by its timeout anyway.
                }
            }

            return CheckResult.Unhealthy($"timed out after {timeout.TotalSeconds:0.###}s");
        }

        return exit.Signal is int signal
            ? CheckResult.Unhealthy(string.Create(CultureInfo.InvariantCulture, $"killed by signal {signal}"))
            : MapExitStatus(exit.ExitStatus!.Value, _options.Dynamic);
    }

    /// <summary>
    /// The file the command runs, if its first word names one (explicitly, or found on PATH), and whether the
    /// command is simple enough to <c>exec</c> it; null for a shell built-in or an assignment; or why it cannot run.
    /// </summary>
    private static (string? Program, bool Simple, string? Error) ResolveProgram(string command)
    {
        string word = FirstWord(command);
        bool simple = command.IndexOfAny([';', '&', '|', '\n', '(', ')', '`']) < 0;
        if (word.Length == 0 || ShellBuiltins.Contains(word) || IsAssignment(word))
        {
            return (null, false, null);
        }

        if (word.Contains('/', StringComparison.Ordinal))
        {
            string full = Path.GetFullPath(word);
            if (!File.Exists(full))
            {
                return (null, false, $"'{word}' does not exist.");
            }

            if (!ScriptProcess.IsExecutableFile(full))
            {
                return (null, false, $"'{word}' is not executable.");
            }

            return (full, simple, null);
        }

        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(directory, word);
            if (ScriptProcess.IsExecutableFile(candidate))
            {
                return (candidate, simple, null);
            }
        }

        return (null, false, $"'{word}' is neither a shell built-in nor an executable on PATH.");
    }

    /// <summary>
    /// The words of a command that has no shell syntax beyond quotes and backslashes (so that running it without a
    /// shell means the same), or null.
    /// </summary>
    private static List<string>? SplitPlainCommand(string command)
    {
        if (command.IndexOfAny(['$', '`', ';', '&', '|', '<', '>', '(', ')', '*', '?', '[', ']', '{', '}', '~', '#', '!', '\n', '\r']) >= 0)
        {
            return null;
        }

        var words = new List<string>();
        var word = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        for (int i = 0; i < command.Length; i++)
        {
            char c = command[i];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else
                {
                    word.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (c == '\\' && i + 1 < command.Length)
            {
                word.Append(command[++i]);
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }

        if (quote != '\0' || words.Count == 0 && !inWord)
        {
            return null;
        }

        if (inWord)
        {
            words.Add(word.ToString());
        }

        return words;
    }

    /// <summary>True for a shell variable assignment (<c>NAME=value</c>) prefixing a command.</summary>
    private static bool IsAssignment(string word)
    {
        int equals = word.IndexOf('=', StringComparison.Ordinal);
        return equals > 0
            && (char.IsAsciiLetter(word[0]) || word[0] == '_')
            && word.AsSpan(0, equals).ContainsAnyExcept(AssignmentNameCharacters) is false;
    }

    /// <summary>The first word of a shell command, with quotes and backslashes removed.</summary>
    private static string FirstWord(string command)
    {
        var word = new StringBuilder();
        int i = 0;
        while (i < command.Length && char.IsWhiteSpace(command[i]))
        {
            i++;
        }

        char quote = '\0';
        for (; i < command.Length; i++)
        {
            char c = command[i];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else
                {
                    word.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
            }
            else if (c == '\\' && i + 1 < command.Length)
            {
                word.Append(command[++i]);
            }
            else if (char.IsWhiteSpace(c) || c is ';' or '&' or '|' or '<' or '>' or '(' or ')')
            {
                break;
            }
            else
            {
                word.Append(c);
            }
        }

        return word.ToString();
    }
}
