using System.Globalization;

namespace Lvs.HealthChecks;

/// <summary>
/// keepalived's <c>FILE_CHECK</c>: the number written in a file decides the check and can move the server's weight
/// (keepalived's track_file.c and check_file.c).
/// </summary>
/// <remarks>
/// <para>
/// The file's first 127 bytes are read as C's <c>strtol(buf, NULL, 0)</c> reads them: leading white space, an
/// optional sign, <c>0x</c> for hexadecimal, a leading 0 for octal, up to the first byte that is not a digit; no
/// digit at all is 0. A number outside the range of a 32-bit integer is ignored (keepalived logs "Invalid number"
/// and keeps the previous value); a missing, unreadable or empty file is 0.
/// </para>
/// <para>
/// With <see cref="FileCheckOptions.Weight"/> 0 the check fails when the number is not 0 (with
/// <see cref="FileCheckOptions.Reverse"/>, when it is 0). With any other weight the check passes with a weight offset
/// (<see cref="CheckResult.WeightOffset"/>) of number × weight (× -1 with <see cref="FileCheckOptions.Reverse"/>):
/// the server keeps its place in the pool with its configured weight plus that offset, clamped to 0 ..
/// <see cref="Lvs.Core.RealServer.MaxWeight"/>; only a product at or below <see cref="int.MinValue"/> fails it.
/// </para>
/// <para>
/// The file is read when the checker is created (<see cref="InitialResult"/>: keepalived reads it before it builds
/// the first table, so a server whose file says "fault" starts down, whatever <c>alpha</c> says), at every check, and,
/// inside a <see cref="HealthMonitor"/>, at once whenever the file is written, created, deleted or renamed in or out of
/// its directory (inotify, as keepalived; its <c>delay_loop</c> remains as a safety net). <c>retry</c>, <c>rise</c> and
/// <c>delay_before_retry</c> do not apply: one read changes the state (<see cref="CheckTiming.For"/>).
/// </para>
/// </remarks>
public sealed class FileChecker : IHealthChecker
{
    /// <summary>How much of the file is read (keepalived's 128-byte buffer with its terminating NUL).</summary>
    internal const int MaxBytes = 127;

    private readonly Lock _gate = new();
    private int _value;

    /// <summary>Creates the checker and reads the file once (<see cref="InitialResult"/>).</summary>
    /// <param name="options">The file, the weight and whether it is reversed.</param>
    public FileChecker(FileCheckOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        FullPath = System.IO.Path.GetFullPath(options.Path);
        InitialResult = Check();
    }

    /// <summary>The options.</summary>
    public FileCheckOptions Options { get; }

    /// <summary>The file's absolute path.</summary>
    public string FullPath { get; }

    /// <summary>The number last read from the file (0 before the first read, or when it is missing or empty).</summary>
    public int Value
    {
        get
        {
            lock (_gate)
            {
                return _value;
            }
        }
    }

    /// <summary>The result of the read made when the checker was created: a monitor starts the checker in this state.</summary>
    public CheckResult InitialResult { get; }

    /// <inheritdoc />
    public ValueTask<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Check());
    }

    /// <summary>
    /// C's <c>strtol(text, NULL, 0)</c> for keepalived's track files: false (and 0) when the number does not fit in a
    /// 32-bit integer, which keepalived ignores.
    /// </summary>
    internal static bool TryParseValue(ReadOnlySpan<byte> text, out int value)
    {
        value = 0;
        int i = 0;
        // isspace in the C locale.
        while (i < text.Length && text[i] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r')
        {
            i++;
        }

        bool negative = false;
        if (i < text.Length && text[i] is (byte)'+' or (byte)'-')
        {
            negative = text[i] == (byte)'-';
            i++;
        }

        int radix = 10;
        if (i < text.Length && text[i] == (byte)'0')
        {
            // "0x" is hexadecimal only when a hexadecimal digit follows; otherwise the 0 alone is the number.
            if (i + 2 < text.Length && text[i + 1] is (byte)'x' or (byte)'X' && Digit(text[i + 2], 16) >= 0)
            {
                radix = 16;
                i += 2;
            }
            else
            {
                radix = 8;
            }
        }

        long magnitude = 0;
        for (; i < text.Length; i++)
        {
            int digit = Digit(text[i], radix);
            if (digit < 0)
            {
                break;
            }

            magnitude = (magnitude * radix) + digit;
            if (magnitude > (long)int.MaxValue + 1)
            {
                // Beyond any 32-bit value (strtol would go on to ERANGE): ignored either way.
                return false;
            }
        }

        long signed = negative ? -magnitude : magnitude;
        if (signed is < int.MinValue or > int.MaxValue)
        {
            return false;
        }

        value = (int)signed;
        return true;
    }

    /// <summary>Subscribes to the file's changes (the monitor wakes the check); the subscription ends when disposed.</summary>
    internal IDisposable Watch(Action changed) => FileChangeWatcher.Subscribe(FullPath, changed);

    private static int Digit(byte b, int radix)
    {
        int digit = b switch
        {
            >= (byte)'0' and <= (byte)'9' => b - '0',
            >= (byte)'a' and <= (byte)'z' => b - 'a' + 10,
            >= (byte)'A' and <= (byte)'Z' => b - 'A' + 10,
            _ => -1,
        };
        return digit < radix ? digit : -1;
    }

    private CheckResult Check()
    {
        Span<byte> buffer = stackalloc byte[MaxBytes];
        int length = ReadFile(buffer);
        lock (_gate)
        {
            string? ignored = null;
            if (length <= 0)
            {
                // track_file.c process_track_file: a file that cannot be opened, or is empty, is 0.
                _value = 0;
            }
            else if (TryParseValue(buffer[..length], out int value))
            {
                _value = value;
            }
            else
            {
                ignored = $"; invalid number '{System.Text.Encoding.ASCII.GetString(buffer[..length]).Trim()}' ignored";
            }

            return Evaluate(_value, ignored);
        }
    }

    /// <summary>The file's first bytes, read without blocking (a FIFO reads as empty), as keepalived reads it.</summary>
    private int ReadFile(Span<byte> buffer) => NonBlockingFileRead.Read(FullPath, buffer);

    /// <summary>track_file.c update_track_file_status for one tracking checker.</summary>
    private CheckResult Evaluate(int value, string? ignored)
    {
        string reads = string.Create(CultureInfo.InvariantCulture, $"{FullPath} reads {value}{ignored}");
        int weight = Options.Weight;
        if (weight == 0)
        {
            // A weight of 0: a non-zero status is a fault, 0 is fine; reversed, the other way round.
            bool fault = (value != 0) != Options.Reverse;
            return fault ? CheckResult.Unhealthy($"{reads}: fault") : CheckResult.HealthyWithWeightOffset(0, reads);
        }

        long product = (long)value * weight * (Options.Reverse ? -1 : 1);
        if (product <= int.MinValue)
        {
            // weight_range: at or below INT_MIN the checker is in FAULT.
            return CheckResult.Unhealthy(string.Create(CultureInfo.InvariantCulture, $"{reads}: weight {product}, fault"));
        }

        int offset = (int)Math.Min(product, int.MaxValue);
        return CheckResult.HealthyWithWeightOffset(offset, string.Create(CultureInfo.InvariantCulture, $"{reads}: weight {offset:+0;-0;0}"));
    }
}
