using Lvs.Devices;

namespace Lvs.Hosting;

/// <summary>
/// Creates the director's links. The default (<see cref="LinuxFrameLinkFactory"/>) opens AF_PACKET sockets and TAP
/// devices; tests and simulations register their own (in-memory links, pcap replay).
/// </summary>
public interface IFrameLinkFactory
{
    /// <summary>Creates (opens) a link.</summary>
    /// <param name="specification">The link.</param>
    /// <param name="queueCount">The queues wanted: one per packet thread.</param>
    /// <returns>The link; the director disposes it when it stops.</returns>
    IFrameLink Create(LinkSpecification specification, int queueCount);

    /// <summary>
    /// Whether a link shares its interface with the host's kernel (an AF_PACKET link on an existing interface), so that
    /// the host's settings are checked at start-up (docs/devices.md, Host settings). False for simulated links.
    /// </summary>
    /// <param name="specification">The link.</param>
    /// <returns>True when the host kernel sees the link's traffic too.</returns>
    bool SharesHostKernel(LinkSpecification specification) => false;
}
