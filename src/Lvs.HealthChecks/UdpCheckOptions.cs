namespace Lvs.HealthChecks;

/// <summary>Options of keepalived's <c>UDP_CHECK</c>.</summary>
public sealed record UdpCheckOptions
{
    /// <summary>The datagram sent (keepalived <c>payload</c>, given there in hex); empty by default.</summary>
    public ReadOnlyMemory<byte> Payload { get; init; }

    /// <summary>
    /// True when a reply is required (keepalived <c>require_reply</c>). When false, the server is healthy unless
    /// an ICMP port-unreachable comes back within the timeout.
    /// </summary>
    public bool RequireReply { get; init; }

    /// <summary>Bytes the reply must start with (the data of keepalived's <c>require_reply</c>); empty accepts any reply.</summary>
    public ReadOnlyMemory<byte> ExpectedReply { get; init; }

    /// <summary>The shortest acceptable reply (keepalived <c>min_reply_length</c>); 0 by default.</summary>
    public int MinReplyLength { get; init; }

    /// <summary>The longest acceptable reply (keepalived <c>max_reply_length</c>); 65507 (any) by default.</summary>
    public int MaxReplyLength { get; init; } = 65507;
}
