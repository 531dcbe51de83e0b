using System.Net;
using Lvs.Core;

namespace Lvs.HealthChecks;

/// <summary>
/// Where a network check connects and from where: keepalived's connection options, common to <c>TCP_CHECK</c>,
/// <c>HTTP_GET</c>, <c>SSL_GET</c>, <c>UDP_CHECK</c>, <c>DNS_CHECK</c> and <c>SMTP_CHECK</c> (<c>connect_ip</c>, <c>connect_port</c>,
/// <c>bindto</c>, <c>bind_port</c>, <c>connect_timeout</c>); <c>PING_CHECK</c> takes those without ports.
/// </summary>
/// <param name="RealServer">The real server's address and port (the check's default target).</param>
public sealed record CheckConnectionOptions(InetEndpoint RealServer)
{
    /// <summary>keepalived's default <c>connect_timeout</c>: 5 seconds.</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Checks this address instead of the real server's (keepalived <c>connect_ip</c>).</summary>
    public InetAddress? ConnectIp { get; init; }

    /// <summary>Checks this port instead of the real server's (keepalived <c>connect_port</c>, ldirectord <c>checkport</c>).</summary>
    public ushort? ConnectPort { get; init; }

    /// <summary>The local address the check connects from (keepalived <c>bindto</c>); null lets the kernel choose.</summary>
    public InetAddress? BindTo { get; init; }

    /// <summary>The local port the check connects from (keepalived <c>bind_port</c>); 0 lets the kernel choose.</summary>
    public ushort BindPort { get; init; }

    /// <summary>
    /// How long a connection may take, and how long each later exchange may take (keepalived <c>connect_timeout</c>,
    /// ldirectord <c>connecttimeout</c>/<c>negotiatetimeout</c>). keepalived 2.0 raised 0 to one second; so does
    /// this (see docs/health-checks.md).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or longer than a timer can wait (49 days).</exception>
    public TimeSpan ConnectTimeout
    {
        get;
        init => field = value == TimeSpan.Zero
            ? TimeSpan.FromSeconds(1)
            : OptionValidation.Positive(value, nameof(ConnectTimeout), "connect_timeout");
    } = DefaultConnectTimeout;

    /// <summary>The endpoint actually checked: <see cref="ConnectIp"/> and <see cref="ConnectPort"/> where given, else the real server's.</summary>
    public InetEndpoint Target => new(ConnectIp ?? RealServer.Address, ConnectPort ?? RealServer.Port);

    /// <summary>The endpoint actually checked, as <see cref="IPEndPoint"/>.</summary>
    /// <returns>The target endpoint.</returns>
    public IPEndPoint GetTargetEndPoint() => new(Target.Address.ToIPAddress(), Target.Port);

    /// <summary>The local endpoint to bind to, or null when neither <see cref="BindTo"/> nor <see cref="BindPort"/> is set.</summary>
    /// <returns>The local endpoint, or null.</returns>
    public IPEndPoint? GetLocalEndPoint()
    {
        if (BindTo is null && BindPort == 0)
        {
            return null;
        }

        IPAddress address = BindTo?.ToIPAddress()
            ?? (Target.Address.IsIPv4 ? IPAddress.Any : IPAddress.IPv6Any);
        return new IPEndPoint(address, BindPort);
    }
}
