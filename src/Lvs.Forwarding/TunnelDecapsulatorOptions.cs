namespace Lvs.Forwarding;

/// <summary>Which tunnel packets a <see cref="TunnelDecapsulator"/> accepts.</summary>
public sealed record TunnelDecapsulatorOptions
{
    /// <summary>Accept IPIP: IP protocol 4 (IPv4 inner) and 41 (IPv6 inner). Default true.</summary>
    public bool AcceptIpIp { get; init; } = true;

    /// <summary>Accept GRE (IP protocol 47) carrying IPv4 or IPv6, with or without checksum. Default true.</summary>
    public bool AcceptGre { get; init; } = true;

    /// <summary>The UDP port GUE arrives on (the director's <c>--tun-port</c>); 0, the default, does not accept GUE.</summary>
    public ushort GuePort { get; init; }
}
