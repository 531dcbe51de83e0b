namespace Lvs.HealthChecks;

/// <summary>Options of keepalived's <c>UDP_CHECK</c>.</summary>
public sealed record UdpCheckOptions
{
    /// <summary>
    /// The datagram sent (keepalived <c>payload</c>, given there in hex); when empty, 32 filler bytes are sent
    /// instead, as keepalived sends a filler buffer when no payload is configured (layer4.c <c>udp_bind_connect</c>).
    /// </summary>
    public ReadOnlyMemory<byte> Payload { get; init; }

    /// <summary>
    /// True when a reply is required (keepalived <c>require_reply</c>). When false, the server is healthy unless
    /// an ICMP port-unreachable comes back within the timeout.
    /// </summary>
    public bool RequireReply { get; init; }

    /// <summary>
    /// The data of keepalived's <c>require_reply</c>: compared with the reply over the shorter of the two lengths,
    /// as check_udp.c does (a reply shorter than this passes if it matches as far as it goes; use
    /// <see cref="MinReplyLength"/> to demand the whole); empty accepts any reply.
    /// </summary>
    public ReadOnlyMemory<byte> ExpectedReply { get; init; }

    /// <summary>The shortest acceptable reply (keepalived <c>min_reply_length</c>); 0 by default.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative or above 65535.</exception>
    public int MinReplyLength
    {
        get;
        init => field = OptionValidation.InRange(value, 0, ushort.MaxValue, nameof(MinReplyLength), "min_reply_length");
    }

    /// <summary>The longest acceptable reply (keepalived <c>max_reply_length</c>); 255 by default, as keepalived.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative or above 65535.</exception>
    public int MaxReplyLength
    {
        get;
        init => field = OptionValidation.InRange(value, 0, ushort.MaxValue, nameof(MaxReplyLength), "max_reply_length");
    } = byte.MaxValue;
}
