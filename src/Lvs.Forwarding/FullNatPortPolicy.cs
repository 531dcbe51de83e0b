namespace Lvs.Forwarding;

/// <summary>How a <see cref="FullNatLocalAddressAllocator"/> picks the local port of a new FULLNAT connection.</summary>
public enum FullNatPortPolicy : byte
{
    /// <summary>
    /// From the pool (default): the next free port at a rotating cursor over every local address, so that
    /// connections spread over the addresses and a just-released port is not handed out again at once (as Alibaba's
    /// FULLNAT and DPVS take ports from their local address pools).
    /// </summary>
    Pool = 0,

    /// <summary>
    /// The client's own source port when it is in the range and free on the local address chosen for the client,
    /// the pool otherwise: as the kernel's NAT (nf_nat <c>get_unique_tuple</c>) keeps the source port of a tuple that
    /// stays unique, so the real server sees the client's port.
    /// </summary>
    KeepClientPort,
}
