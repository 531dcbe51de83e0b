using Lvs.Core;

namespace Lvs.Director;

/// <summary>
/// Marks packets for a firewall-mark service (<c>ipvsadm -f</c>, keepalived's <c>virtual_server fwmark</c>). On the
/// kernel's director the mark comes from netfilter, as in
/// <c>iptables -t mangle -A PREROUTING -d 10.0.0.100/32 -p tcp -m multiport --dports 80,443 -j MARK --set-mark 1</c>;
/// a user-space director has no netfilter in front of it, so the rules are the engine's: a packet to the destination
/// prefix, of the protocol (any when <see cref="L4Protocol.None"/>), to a port in the range gets the mark. The first
/// rule that matches wins. As in <c>ip_vs_service_find</c>, a marked packet is looked up by its mark first and by its
/// address and port only when no service has the mark.
/// </summary>
/// <param name="Mark">The mark (not 0).</param>
/// <param name="Destination">The destination addresses (a VIP is a /32 or /128, which the director then answers ARP/NDP for).</param>
public sealed record FirewallMarkRule(uint Mark, InetPrefix Destination)
{
    /// <summary>The protocol; <see cref="L4Protocol.None"/> (the default) matches every protocol.</summary>
    public L4Protocol Protocol { get; init; } = L4Protocol.None;

    /// <summary>The first destination port (inclusive).</summary>
    public ushort PortFirst { get; init; }

    /// <summary>The last destination port (inclusive).</summary>
    public ushort PortLast { get; init; } = ushort.MaxValue;

    /// <summary>Whether the rule names one address (a host prefix), which the director then owns like a VIP.</summary>
    public bool IsHost => Destination.PrefixLength == (Destination.Address.IsIPv4 ? 32 : 128);

    /// <summary>Whether a flow gets the mark.</summary>
    /// <param name="flow">The flow.</param>
    /// <returns>True when it does.</returns>
    public bool Matches(in FlowKey flow) =>
        Destination.Contains(flow.DestinationAddress)
        && (Protocol == L4Protocol.None || Protocol == flow.Protocol)
        && flow.DestinationPort >= PortFirst && flow.DestinationPort <= PortLast;

    /// <summary>Throws when the rule is invalid.</summary>
    /// <exception cref="ArgumentException">The mark is 0, the port range is empty, or the prefix length is out of range.</exception>
    public void Validate()
    {
        if (Mark == 0)
        {
            throw new ArgumentException($"Firewall mark rule for {Destination}: the mark must not be 0 (0 is an unmarked packet).");
        }

        if (PortFirst > PortLast)
        {
            throw new ArgumentException($"Firewall mark rule {Mark} for {Destination}: the port range {PortFirst}-{PortLast} is empty.");
        }

        if (Destination.PrefixLength < 0 || Destination.PrefixLength > (Destination.Address.IsIPv4 ? 32 : 128))
        {
            throw new ArgumentException($"Firewall mark rule {Mark}: the prefix length of {Destination} is out of range.");
        }
    }
}
