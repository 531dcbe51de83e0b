using Microsoft.Extensions.Logging;

namespace Lvs.HealthChecks;

/// <summary>The monitor's log messages (source-generated, no allocation when the level is off).</summary>
internal static partial class HealthMonitorLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Real server {Endpoint} of {Service} is {State}: {Reason} (pool: {Action}, weight {Weight})")]
    public static partial void RealServerChanged(ILogger logger, Lvs.Core.InetEndpoint endpoint, MonitoredVirtualService service, string state, string reason, PoolAction action, int weight);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Virtual service {Service} {State} quorum: live weight {LiveWeight}, threshold {Threshold} (sorry server: {SorryServerAction})")]
    public static partial void QuorumChanged(ILogger logger, MonitoredVirtualService service, string state, long liveWeight, long threshold, PoolAction sorryServerAction);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "The health sink threw; the checks go on")]
    public static partial void SinkFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "Unexpected exception ({Source}) caught; the checks go on")]
    public static partial void UnexpectedError(ILogger logger, UnexpectedErrorSource source, Exception exception);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "A check of real server {Endpoint} of {Service} threw; counted as a failure")]
    public static partial void CheckerThrew(ILogger logger, Lvs.Core.InetEndpoint endpoint, MonitoredVirtualService service, Exception exception);
}
