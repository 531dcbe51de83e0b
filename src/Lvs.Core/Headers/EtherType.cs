namespace Lvs.Core.Headers;

/// <summary>Ethernet II type values the packet layer knows (IEEE 802 numbers).</summary>
public enum EtherType : ushort
{
    /// <summary>IPv4 (0x0800).</summary>
    IPv4 = 0x0800,

    /// <summary>ARP (0x0806).</summary>
    Arp = 0x0806,

    /// <summary>IEEE 802.1Q VLAN tag (0x8100).</summary>
    Vlan = 0x8100,

    /// <summary>IPv6 (0x86DD).</summary>
    IPv6 = 0x86DD,

    /// <summary>IEEE 802.1ad service VLAN tag, QinQ (0x88A8).</summary>
    QinQ = 0x88A8,
}
