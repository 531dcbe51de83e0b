using Lvs.Core;
using Microsoft.Extensions.Logging;

namespace Lvs.Director;

/// <summary>The director's log messages (source-generated: nothing is formatted or allocated when the level is off).</summary>
internal static partial class DirectorLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Service table version {Version} published ({Services} services)")]
    public static partial void TableChanged(ILogger logger, long version, int services);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Real server {Server} of {Service}: {Action} (weight {Weight}): {Reason}")]
    public static partial void HealthApplied(ILogger logger, InetEndpoint server, VirtualServiceKey service, Lvs.HealthChecks.PoolAction action, int weight, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Virtual service {Service} {State} its quorum (live weight {LiveWeight}, threshold {Threshold})")]
    public static partial void QuorumChanged(ILogger logger, VirtualServiceKey service, string state, long liveWeight, long threshold);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Connection table full (capacity {Capacity}): flood defence shed {Shed} connections and {Refused} new connections were refused in the last {Seconds:0} s")]
    public static partial void TableFull(ILogger logger, long shed, long refused, double seconds, int capacity);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "secure_tcp defence {State}")]
    public static partial void SecureTcp(ILogger logger, string state);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "FULLNAT local addresses exhausted: {Dropped} new connections dropped in the last {Seconds:0} s ({Addresses} addresses, ports {First}-{Last})")]
    public static partial void LocalAddressesExhausted(ILogger logger, long dropped, double seconds, int addresses, ushort first, ushort last);
}
