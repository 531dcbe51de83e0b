using Lvs.Core;
using Lvs.HealthChecks;

namespace Lvs.Director.Configuration;

/// <summary>The checkers of a keepalived <c>real_server</c> that this director runs.</summary>
public enum KeepalivedCheckKind
{
    /// <summary><c>TCP_CHECK</c>: a TCP connect.</summary>
    Tcp,

    /// <summary><c>HTTP_GET</c>.</summary>
    HttpGet,

    /// <summary><c>SSL_GET</c>: <c>HTTP_GET</c> over TLS.</summary>
    SslGet,

    /// <summary><c>DNS_CHECK</c>.</summary>
    Dns,

    /// <summary><c>UDP_CHECK</c>.</summary>
    Udp,

    /// <summary><c>MISC_CHECK</c>: an external command.</summary>
    Misc,

    /// <summary><c>SMTP_CHECK</c>: greeting, HELO and QUIT.</summary>
    Smtp,

    /// <summary><c>PING_CHECK</c>: an ICMP (ICMPv6) echo.</summary>
    Ping,

    /// <summary><c>FILE_CHECK</c>: the number in a <c>track_file</c>'s file fails the check or moves the weight.</summary>
    File,
}

/// <summary>
/// One checker block of a keepalived <c>real_server</c>, with the values keepalived resolves for it (its own, else
/// the real server's, else the virtual server's, else the checker's default: check_data.c
/// <c>validate_check_config</c>). <see cref="Create"/> makes the checker with <see cref="CheckTiming.For"/> and these
/// values.
/// </summary>
/// <param name="Kind">The checker.</param>
/// <param name="File">The file of its block.</param>
/// <param name="Line">The line of its block.</param>
public sealed record KeepalivedCheck(KeepalivedCheckKind Kind, string File, int Line)
{
    /// <summary><c>connect_ip</c>; null: the real server's address.</summary>
    public InetAddress? ConnectIp { get; init; }

    /// <summary><c>connect_port</c>; null: the real server's port. Never set for <c>PING_CHECK</c> (ICMP has no ports).</summary>
    public ushort? ConnectPort { get; init; }

    /// <summary><c>bindto</c>; null: the kernel chooses.</summary>
    public InetAddress? BindTo { get; init; }

    /// <summary><c>bind_port</c>; 0: the kernel chooses. Never set for <c>PING_CHECK</c>.</summary>
    public ushort BindPort { get; init; }

    /// <summary><c>connect_timeout</c> (keepalived's default 5 s).</summary>
    public TimeSpan ConnectTimeout { get; init; } = CheckConnectionOptions.DefaultConnectTimeout;

    /// <summary><c>delay_loop</c> (keepalived's default 60 s).</summary>
    public TimeSpan DelayLoop { get; init; } = CheckTiming.DefaultDelayLoop;

    /// <summary><c>retry</c>; null: the checker's default (1; 0 for MISC_CHECK; 3 for DNS_CHECK).</summary>
    public int? Retry { get; init; }

    /// <summary><c>delay_before_retry</c>; null: the checker's default (1 s; 3 s for HTTP/SSL_GET; delay_loop for DNS_CHECK).</summary>
    public TimeSpan? DelayBeforeRetry { get; init; }

    /// <summary><c>warmup</c>; null: <see cref="DelayLoop"/>.</summary>
    public TimeSpan? Warmup { get; init; }

    /// <summary><c>alpha</c>: the checker starts failed.</summary>
    public bool Alpha { get; init; }

    /// <summary>The options of <c>HTTP_GET</c> and <c>SSL_GET</c>; null for other checkers.</summary>
    public HttpGetCheckOptions? Http { get; init; }

    /// <summary>The options of <c>DNS_CHECK</c>; null for other checkers.</summary>
    public DnsCheckOptions? Dns { get; init; }

    /// <summary>The options of <c>UDP_CHECK</c>; null for other checkers.</summary>
    public UdpCheckOptions? Udp { get; init; }

    /// <summary>The options of <c>MISC_CHECK</c>; null for other checkers.</summary>
    public MiscCheckOptions? Misc { get; init; }

    /// <summary>The options of <c>SMTP_CHECK</c>; null for other checkers.</summary>
    public SmtpCheckOptions? Smtp { get; init; }

    /// <summary>
    /// The options of <c>FILE_CHECK</c>: its track_file's file, and the FILE_CHECK's weight and reverse (the track_file's
    /// when it gives none, or 0); null for other checkers.
    /// </summary>
    public FileCheckOptions? FileCheck { get; init; }

    /// <summary>
    /// The checker as configured, in one canonical line: two checks with the same definition check the same thing the
    /// same way (a reload keeps the running check).
    /// </summary>
    public string Definition { get; init; } = string.Empty;

    /// <summary>Makes the checker of a real server with its timing.</summary>
    /// <param name="realServer">The real server's address and port (the default target).</param>
    /// <param name="timeProvider">The clock of the checker's timeouts; null: the system clock.</param>
    /// <returns>The checker and its timing.</returns>
    public RealServerCheck Create(InetEndpoint realServer, TimeProvider? timeProvider = null)
    {
        var connection = new CheckConnectionOptions(realServer)
        {
            ConnectIp = ConnectIp,
            ConnectPort = ConnectPort,
            BindTo = BindTo,
            BindPort = BindPort,
            ConnectTimeout = ConnectTimeout,
        };
        IHealthChecker checker = Kind switch
        {
            KeepalivedCheckKind.HttpGet or KeepalivedCheckKind.SslGet => new HttpGetChecker(connection, Http!, timeProvider),
            KeepalivedCheckKind.Dns => new DnsChecker(connection, Dns!, timeProvider),
            KeepalivedCheckKind.Udp => new UdpChecker(connection, Udp!, timeProvider),
            KeepalivedCheckKind.Ping => new PingChecker(connection, timeProvider),
            KeepalivedCheckKind.Misc => new MiscChecker(Misc!, timeProvider),
            KeepalivedCheckKind.Smtp => new SmtpChecker(connection, Smtp!, timeProvider),
            KeepalivedCheckKind.File => new FileChecker(FileCheck!),
            _ => new TcpChecker(connection, timeProvider),
        };
        if (checker is FileChecker)
        {
            // check_file.c: only the delay_loop (how often the file is read again) applies.
            return new RealServerCheck(checker, CheckTiming.For(checker) with { DelayLoop = DelayLoop });
        }

        var timing = CheckTiming.For(checker) with { DelayLoop = DelayLoop, Alpha = Alpha };
        if (Retry is { } retry)
        {
            timing = timing with { Retry = retry };
        }

        if (DelayBeforeRetry is { } delay)
        {
            timing = timing with { DelayBeforeRetry = delay };
        }

        if (Warmup is { } warmup)
        {
            timing = timing with { Warmup = warmup };
        }

        return new RealServerCheck(checker, timing);
    }

    /// <inheritdoc />
    public override string ToString() => Definition;
}
