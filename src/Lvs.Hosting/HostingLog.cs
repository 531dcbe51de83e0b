using Lvs.Core;
using Microsoft.Extensions.Logging;

namespace Lvs.Hosting;

/// <summary>The host's log messages (source-generated: nothing is formatted or allocated when the level is off).</summary>
internal static partial class HostingLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Link {Link} ({Kind}): MAC {Mac}, MTU {Mtu}, {Queues} queues, addresses {Addresses}")]
    public static partial void LinkOpened(ILogger logger, string link, LinkKind kind, MacAddress mac, int mtu, int queues, string addresses);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Director started: {Services} services, {Links} links, {Workers} packet threads")]
    public static partial void Started(ILogger logger, int services, int links, int workers);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "{Workers} packet threads asked for, but link {Link} has {Queues} queues: running {Queues} threads")]
    public static partial void FewerQueues(ILogger logger, int workers, string link, int queues);

    [LoggerMessage(EventId = 106, Level = LogLevel.Information, Message = "{Workers} packet threads: the schedulers {Schedulers} keep one state that every thread uses on each new connection, as the kernel's, so new connections scale less with the threads; the flags named turn on their per-thread options (docs/hosting.md)")]
    public static partial void SchedulersShareState(ILogger logger, int workers, string schedulers);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Director stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 104, Level = LogLevel.Critical, Message = "Packet thread {Worker} failed; stopping the host")]
    public static partial void WorkerFailed(ILogger logger, int worker, Exception exception);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "Packet thread {Worker} did not stop in time")]
    public static partial void WorkerDidNotStop(ILogger logger, int worker);

    [LoggerMessage(EventId = 110, Level = LogLevel.Debug, Message = "Announced {Address} on {Link}")]
    public static partial void Announced(ILogger logger, InetAddress address, string link);

    [LoggerMessage(EventId = 111, Level = LogLevel.Debug, Message = "Neighbour {Address} on link {Link} resolved")]
    public static partial void NeighborResolved(ILogger logger, InetAddress address, int link);

    [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "Neighbour {Address} on link {Link} did not answer {Probes} requests")]
    public static partial void NeighborFailed(ILogger logger, InetAddress address, int link, int probes);

    [LoggerMessage(EventId = 120, Level = LogLevel.Warning, Message = "Reload requested, but a reload of both a rules file and a keepalived file is not supported: restart to apply {File}")]
    public static partial void ReloadNotAvailable(ILogger logger, string file);

    [LoggerMessage(EventId = 122, Level = LogLevel.Information, Message = "Reloaded {File}: {Changes}")]
    public static partial void Reloaded(ILogger logger, string file, Lvs.Director.Configuration.ConfigurationDiff changes);

    [LoggerMessage(EventId = 123, Level = LogLevel.Error, Message = "Reload of {File} refused, the running table is unchanged:\n{Errors}")]
    public static partial void ReloadFailed(ILogger logger, string file, string errors);

    [LoggerMessage(EventId = 124, Level = LogLevel.Information, Message = "{Notice}")]
    public static partial void ConfigurationNotice(ILogger logger, Lvs.Director.Configuration.ConfigurationNotice notice);

    [LoggerMessage(EventId = 121, Level = LogLevel.Information, Message = "Statistics\n{Table}")]
    public static partial void Statistics(ILogger logger, string table);
}
